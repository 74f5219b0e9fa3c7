from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("待支付")
    SUCCEEDED = "succeeded", _("支付成功")
    CLOSED = "closed", _("已关闭")


class PaymentPurpose(models.TextChoices):
    ORDER = "order", _("订单")
    RECHARGE = "recharge", _("钱包充值")


class Payment(ConcurrentTransitionMixin, models.Model):
    payment_no = models.CharField(max_length=32, unique=True)
    purpose = models.CharField(max_length=10, choices=PaymentPurpose.choices, default=PaymentPurpose.ORDER)
    order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.PROTECT, related_name="payments")
    payer = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="payments")
    channel = models.CharField(max_length=10)
    amount_fen = models.BigIntegerField()
    status = FSMField(default=PaymentStatus.PENDING, choices=PaymentStatus.choices, protected=True)
    # The gateway's own transaction number: one gateway trade pays one payment, once.
    trade_no = models.CharField(max_length=64, null=True, blank=True, unique=True)
    created_at = models.DateTimeField()
    paid_at = models.DateTimeField(null=True, blank=True)
    # Where the buyer pays (contract: the order's `payment`), from the gateway that opened the checkout.
    expires_at = models.DateTimeField(null=True, blank=True)
    gateway = models.CharField(max_length=20, blank=True, default="")  # alipay, wechat, sandbox; "" = not opened
    pay_url = models.TextField(blank=True, default="")
    code_url = models.CharField(max_length=512, blank=True, default="")
    # When the gateway was last asked about this payment because its notification had not come.
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(amount_fen__gt=0), name="payment_amount_positive")]
        indexes = [models.Index(fields=["expires_at"], condition=models.Q(status="pending"), name="payment_pending_expiry_idx")]

    def __str__(self) -> str:
        return self.payment_no

    @transition(field=status, source=PaymentStatus.PENDING, target=PaymentStatus.SUCCEEDED)
    def succeed(self, *, trade_no, at):
        self.trade_no = trade_no
        self.paid_at = at


class PaymentNotification(models.Model):
    """Every notification that reached a notify endpoint, accepted or refused, for audit (see `audit`)."""

    class Kind(models.TextChoices):
        PAYMENT = "payment", _("支付通知")
        REFUND = "refund", _("退款通知")

    gateway = models.CharField(max_length=20)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PAYMENT)
    payment_no = models.CharField(max_length=64, blank=True, default="")
    trade_no = models.CharField(max_length=64, blank=True, default="")
    fields = models.JSONField()
    outcome = models.CharField(max_length=40)
    received_at = models.DateTimeField()


class SandboxGatewayRefund(models.Model):
    """The sandbox gateway's own side of a refund: it dedupes by our request number, like a real one."""

    request_no = models.CharField(max_length=40, unique=True)
    payment_no = models.CharField(max_length=32)
    channel = models.CharField(max_length=10)
    amount_fen = models.BigIntegerField()
    gateway_ref = models.CharField(max_length=64, unique=True)
    accepted_at = models.DateTimeField()
    completes_at = models.DateTimeField()
    notified_at = models.DateTimeField(null=True, blank=True)
    # A refused notification is sent again later, less and less often, like a real gateway's retries.
    notify_attempts = models.PositiveSmallIntegerField(default=0)
    next_notify_at = models.DateTimeField(null=True, blank=True)
