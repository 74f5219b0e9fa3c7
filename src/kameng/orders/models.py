import copy

from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("待支付")
    PAID = "paid", _("已支付")
    DELIVERED = "delivered", _("已发货")
    PARTIALLY_REFUNDED = "partially_refunded", _("部分退款")
    REFUNDED = "refunded", _("已退款")
    EXPIRED = "expired", _("已过期")
    CLOSED = "closed", _("已关闭")


class ItemStatus(models.TextChoices):
    PENDING = "pending", _("待发货")
    DELIVERED = "delivered", _("已发货")
    REFUND_PENDING = "refund_pending", _("退款中")
    REFUNDED = "refunded", _("已退款")


class Channel(models.TextChoices):
    ALIPAY = "alipay", _("支付宝")
    WECHAT = "wechat", _("微信支付")
    BANK = "bank", _("银行卡")
    WALLET = "wallet", _("钱包余额")


S = OrderStatus


class Order(ConcurrentTransitionMixin, models.Model):
    order_no = models.CharField(max_length=32, unique=True)
    buyer = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="orders")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="orders")
    quantity = models.PositiveIntegerField()
    unit_price_fen = models.BigIntegerField()
    amount_fen = models.BigIntegerField()
    refunded_fen = models.BigIntegerField(default=0)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    recharge_account = models.CharField(max_length=64, blank=True, default="")
    status = FSMField(default=S.PENDING_PAYMENT, choices=S.choices, protected=True)
    # What the buyer saw and agreed to: the product page and its refund rules at this moment. Stored
    # once per distinct content (kameng.orders.snapshots); read and set through `snapshot` below.
    snapshot_version = models.ForeignKey("ProductSnapshot", on_delete=models.PROTECT, null=True, related_name="+")
    # The platform's commission on this sale, as agreed when it was bought (the supplier's rate then):
    # read through orders.policies.commission_rate, never the supplier's current rate.
    commission_rate = models.DecimalField(max_digits=5, decimal_places=4, null=True, blank=True)
    terms_text = models.TextField()
    terms_accepted_at = models.DateTimeField()
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["buyer", "-id"], name="order_buyer_idx"),
            models.Index(fields=["expires_at"], condition=models.Q(status="pending_payment"), name="order_unpaid_idx"),
            models.Index(fields=["product", "paid_at"], condition=models.Q(status="paid"), name="order_undelivered_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_fen__gt=0), name="order_amount_positive"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0), name="order_quantity_positive"),
            # The refundable amount can never exceed what was paid, whatever the code does.
            models.CheckConstraint(
                condition=models.Q(refunded_fen__gte=0) & models.Q(refunded_fen__lte=models.F("amount_fen")),
                name="order_refunds_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return self.order_no

    @property
    def snapshot(self) -> dict:
        """The product page and rules at purchase, as a dict (a copy: changing it changes nothing stored)."""
        from kameng.core.times import iso_beijing

        from .snapshots import snapshot_of

        content = getattr(self, "_snapshot_content", None)
        if content is None:
            return snapshot_of(self.snapshot_version_id, self.created_at)
        captured = iso_beijing(self.created_at) if self.created_at else None
        return copy.deepcopy({**content, "captured_at": captured})

    def snapshot_value(self, key: str, default=None):
        """One value of the snapshot, read without copying the whole of it (a delivery reads its promise)."""
        from .snapshots import snapshot_data

        content = getattr(self, "_snapshot_content", None)
        if content is None:
            content = snapshot_data(self.snapshot_version_id)
        return copy.deepcopy(content.get(key, default))

    @snapshot.setter
    def snapshot(self, value: dict) -> None:
        """Points the order at the version holding this content (stored if new); `save` keeps the pointer."""
        from .snapshots import content_of, version_for

        self.snapshot_version_id = version_for(value, product_id=value.get("product_id") or self.product_id)
        self._snapshot_content = content_of(value)

    @transition(field=status, source=[S.PENDING_PAYMENT, S.EXPIRED, S.CLOSED], target=S.PAID)
    def mark_paid(self, *, at):
        """A late payment on an expired or cancelled order is still taken: money is never lost."""
        self.paid_at = at

    @transition(field=status, source=S.PAID, target=S.DELIVERED)
    def mark_delivered(self, *, at):
        self.delivered_at = at

    @transition(field=status, source=S.PENDING_PAYMENT, target=S.EXPIRED)
    def expire(self):
        pass

    @transition(field=status, source=S.PENDING_PAYMENT, target=S.CLOSED)
    def close(self):
        pass

    @transition(field=status, source=[S.PAID, S.DELIVERED, S.PARTIALLY_REFUNDED], target=S.PARTIALLY_REFUNDED)
    def mark_partially_refunded(self):
        pass

    @transition(field=status, source=[S.PAID, S.DELIVERED, S.PARTIALLY_REFUNDED], target=S.REFUNDED)
    def mark_refunded(self):
        pass


class OrderItem(ConcurrentTransitionMixin, models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="items")
    position = models.PositiveSmallIntegerField()
    status = FSMField(default=ItemStatus.PENDING, choices=ItemStatus.choices, protected=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    first_revealed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["order", "position"], name="item_position_unique")]

    @transition(field=status, source=ItemStatus.PENDING, target=ItemStatus.DELIVERED)
    def mark_delivered(self, *, at):
        self.delivered_at = at

    @transition(field=status, source=[ItemStatus.PENDING, ItemStatus.DELIVERED], target=ItemStatus.REFUND_PENDING)
    def hold_for_refund(self):
        pass

    @transition(field=status, source=ItemStatus.REFUND_PENDING, target=ItemStatus.DELIVERED,
                conditions=[lambda item: item.delivered_at is not None])
    def release_to_delivered(self):
        pass

    @transition(field=status, source=ItemStatus.REFUND_PENDING, target=ItemStatus.PENDING,
                conditions=[lambda item: item.delivered_at is None])
    def release_to_pending(self):
        pass

    @transition(field=status, source=ItemStatus.REFUND_PENDING, target=ItemStatus.REFUNDED)
    def mark_refunded(self):
        pass


class OrderEvent(models.Model):
    """The order's history, append-only: who did what and when."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField()
    actor = models.CharField(max_length=160)  # "buyer:12", "system", "gateway:sandbox"
    event = models.CharField(max_length=40)
    note = models.TextField(blank=True, default="")


class TopupStatus(models.TextChoices):
    QUEUED = "queued", _("排队中")
    DISPATCHED = "dispatched", _("已提交上游")
    SUCCEEDED = "succeeded", _("充值成功")
    FAILED = "failed", _("充值失败")
    CANCELLED = "cancelled", _("已取消（未提交上游）")


class TopupDispatch(ConcurrentTransitionMixin, models.Model):
    """A top-up sent to the supplier's system, with its own states and the upstream reference."""

    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="topup")
    account = models.CharField(max_length=64)
    status = FSMField(default=TopupStatus.QUEUED, choices=TopupStatus.choices, protected=True)
    upstream_ref = models.CharField(max_length=64, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()
    dispatched_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.CharField(max_length=200, blank=True, default="")

    @transition(field=status, source=TopupStatus.QUEUED, target=TopupStatus.DISPATCHED)
    def mark_dispatched(self, *, ref, at):
        self.upstream_ref = ref
        self.dispatched_at = at

    # A success is recorded whatever we believed before: a supplier may report success after a failure
    # report, or for a top-up we cancelled after a crash hid that it had been sent. Losing it loses money.
    @transition(field=status, source=[TopupStatus.QUEUED, TopupStatus.DISPATCHED, TopupStatus.FAILED,
                                      TopupStatus.CANCELLED], target=TopupStatus.SUCCEEDED)
    def mark_succeeded(self, *, at):
        self.finished_at = at

    @transition(field=status, source=[TopupStatus.QUEUED, TopupStatus.DISPATCHED], target=TopupStatus.FAILED)
    def mark_failed(self, *, reason, at):
        self.failure_reason = reason[:200]
        self.finished_at = at

    @transition(field=status, source=TopupStatus.QUEUED, target=TopupStatus.CANCELLED)
    def cancel(self, *, reason, at):
        """Refunded before it was sent: it never will be."""
        self.failure_reason = reason[:200]
        self.finished_at = at


class SandboxSupplierTopup(models.Model):
    """The sandbox supplier's own book of the top-ups it accepted: one per merchant order number.

    A real supplier API dedupes on the merchant's order number; so does the sandbox, so a send job re-run
    after a crash (which may have happened after the supplier accepted) never tops up twice.
    """

    order_no = models.CharField(max_length=32, unique=True)
    account = models.CharField(max_length=64)
    face_value_fen = models.BigIntegerField()
    quantity = models.PositiveIntegerField()
    upstream_ref = models.CharField(max_length=64)
    submitted_at = models.DateTimeField()


class ProductSnapshot(models.Model):
    """One version of what a product's page and rules said, shared by every order placed while it held.

    Content-addressed (`digest` = SHA-256 of the canonical JSON): any change to the product — a price,
    a description, its refund rules — is new content and so a new version, whoever made it. Never
    changed or deleted once written.
    """

    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    digest = models.CharField(max_length=64, unique=True)
    data = models.JSONField()
    created_at = models.DateTimeField()
