from django.db import models
from django.utils.translation import gettext_lazy as _


class ProductKind(models.TextChoices):
    CARD = "card", _("卡密")
    LINK = "link", _("兑换链接")
    TOPUP = "topup", _("直充")


class Product(models.Model):
    supplier = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="products")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    kind = models.CharField(max_length=10, choices=ProductKind.choices)
    price_fen = models.BigIntegerField()
    face_value_fen = models.BigIntegerField()
    delivery_promise_minutes = models.PositiveIntegerField(default=5)
    refund_policy = models.JSONField()
    # Manual products are delivered by their supplier from a page instead of from stock.
    is_manual = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(price_fen__gt=0), name="product_price_positive"),
            models.CheckConstraint(condition=models.Q(face_value_fen__gte=0), name="product_face_value_not_negative"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def uses_stock(self) -> bool:
        """Card and link products sell keys from stock; top-ups and manual products do not."""
        return self.kind in (ProductKind.CARD, ProductKind.LINK) and not self.is_manual
