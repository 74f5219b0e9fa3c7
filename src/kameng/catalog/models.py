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
    # Where top-ups and card keys bought on demand come from; none: the sandbox supplier (top-ups) or stock.
    source = models.ForeignKey("SupplierSource", verbose_name=_("货源"), null=True, blank=True,
                               on_delete=models.PROTECT, related_name="products")
    source_sku = models.CharField(_("货源商品编码"), max_length=64, blank=True, default="")
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
        """Card and link products sell keys from stock, unless bought on demand; top-ups and manual ones do not."""
        return self.kind in (ProductKind.CARD, ProductKind.LINK) and not self.is_manual and self.source_id is None

    @property
    def bought_on_demand(self) -> bool:
        """A card or link product with a source: its keys are bought from the source when the buyer pays."""
        return self.kind in (ProductKind.CARD, ProductKind.LINK) and not self.is_manual and self.source_id is not None

    @property
    def sent_to_source(self) -> bool:
        """Delivered through a source (or the sandbox supplier): top-ups, and keys bought on demand."""
        return self.kind == ProductKind.TOPUP or self.bought_on_demand


class SupplierSource(models.Model):
    """A goods source (货源) reached over KSP/1: its address, our merchant id there, and the two secrets.

    The secrets are stored encrypted under the platform keyring (`kameng.core.crypto`) and never shown
    back: the admin can only replace them. `connection_settings()` decrypts them for the adapter.
    """

    name = models.CharField(_("名称"), max_length=100, unique=True)
    endpoint_url = models.URLField(_("接口地址"), max_length=300,
                                   help_text=_("货源的 KSP/1 接口根地址，必须是 https（仅本机地址可用 http）"))
    merchant_id = models.CharField(_("商户号"), max_length=64)
    api_secret_encrypted = models.BinaryField(_("接口密钥（加密）"), editable=False)
    notify_secret_encrypted = models.BinaryField(_("回调密钥（加密）"), editable=False)
    timeout_seconds = models.PositiveSmallIntegerField(_("超时（秒）"), default=10)
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"))
    updated_at = models.DateTimeField(_("更新时间"))

    class Meta:
        verbose_name = _("货源")
        verbose_name_plural = _("货源")
        constraints = [
            models.CheckConstraint(condition=models.Q(timeout_seconds__gte=1) & models.Q(timeout_seconds__lte=60),
                                   name="supplier_source_timeout_range"),
        ]

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"<SupplierSource {self.id} {self.name}>"

    def set_secrets(self, *, api_secret: str | None = None, notify_secret: str | None = None) -> None:
        from kameng.core import crypto

        if api_secret:
            self.api_secret_encrypted = crypto.encrypt(api_secret)
        if notify_secret:
            self.notify_secret_encrypted = crypto.encrypt(notify_secret)

    def connection_settings(self):
        from kameng.core import crypto

        from .suppliers.http import SourceSettings

        return SourceSettings(name=self.name, endpoint=self.endpoint_url, merchant_id=self.merchant_id,
                              api_secret=crypto.decrypt(self.api_secret_encrypted),
                              notify_secret=crypto.decrypt(self.notify_secret_encrypted),
                              timeout=float(self.timeout_seconds))


class SupplierOrder(models.Model):
    """An order placed at a source: which source (None: the sandbox), and when to ask about it next."""

    order = models.OneToOneField("orders.Order", on_delete=models.PROTECT, related_name="supply")
    source = models.ForeignKey(SupplierSource, null=True, blank=True, on_delete=models.PROTECT, related_name="orders")
    kind = models.CharField(max_length=10)
    sku = models.CharField(max_length=64, blank=True, default="")
    submitted_at = models.DateTimeField()
    # Past its promise with no result, the order is asked about at this time (then with a growing interval).
    next_query_at = models.DateTimeField(null=True, blank=True)
    queries = models.PositiveIntegerField(default=0)
    last_answer = models.CharField(max_length=60, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["next_query_at"], condition=models.Q(next_query_at__isnull=False),
                                name="supply_query_due_idx")]


class SupplierNotification(models.Model):
    """Every result callback that reached the notify endpoint, accepted or refused, for audit.

    Like the payment notifications' trail: only the expected fields, cleaned and cut, never the signature
    or card keys. A verified callback spends its nonce (`nonce_spent`): the same nonce again is a replay.
    """

    source = models.ForeignKey(SupplierSource, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="notifications")
    source_ref = models.CharField(max_length=32)  # the id in the URL, as sent
    order_no = models.CharField(max_length=64, blank=True, default="")
    nonce = models.CharField(max_length=64, blank=True, default="")
    nonce_spent = models.BooleanField(default=False)
    fields = models.JSONField()
    outcome = models.CharField(max_length=40)
    received_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "nonce"], condition=models.Q(nonce_spent=True),
                                    name="supplier_notification_nonce_once"),
        ]


class ProductChange(models.Model):
    """One change of a product's terms: who, when, and each field's old → new value. Append-only.

    Orders keep their own snapshot of what was bought; this record is what shows the product page as it
    stood at any moment (`catalog.selectors.product_as_of`) — the description a buyer read before buying,
    the day a price went up — for a dispute, without trusting anyone's memory.
    """

    class Event(models.TextChoices):
        CREATED = "created", _("创建")
        EDITED = "edited", _("修改")
        ON_SALE = "on_sale", _("上架")
        OFF_SALE = "off_sale", _("下架")

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="changes")
    actor = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    event = models.CharField(max_length=10, choices=Event.choices)
    # {field: [old, new]} in the API's words: prices as yuan strings, refund rules as stored objects.
    changes = models.JSONField(default=dict)

    class Meta:
        indexes = [models.Index(fields=["product", "at"], name="product_change_at_idx")]
