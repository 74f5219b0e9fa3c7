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


class ReconciliationRun(models.Model):
    """One comparison of a gateway's statement for one Beijing day with our payments and refund payouts.

    The counts are of statement lines (matched, missing here, amount differs) and of our own records
    (missing there). Only lines that did not match are kept, as `ReconciliationLine`s, for a person.
    """

    class Source(models.TextChoices):
        GATEWAY = "gateway", _("网关账单接口")
        FILE = "file", _("下载的账单文件")

    class Status(models.TextChoices):
        RUNNING = "running", _("进行中")
        BALANCED = "balanced", _("全部相符")
        DIFFERENCES = "differences", _("存在差异")
        FAILED = "failed", _("未取得账单")

    channel = models.CharField(max_length=10)
    day = models.DateField()  # the statement's day, in Beijing time
    source = models.CharField(max_length=10, choices=Source.choices)
    file_name = models.CharField(max_length=200, blank=True, default="")  # base name only, never a full path
    actor = models.CharField(max_length=40)  # "cli", "system", or "<role>:<id>"
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RUNNING)
    statement_lines = models.PositiveIntegerField(default=0)
    matched = models.PositiveIntegerField(default=0)
    missing_here = models.PositiveIntegerField(default=0)
    missing_there = models.PositiveIntegerField(default=0)
    amount_differs = models.PositiveIntegerField(default=0)
    repaired = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True, default="")  # why no statement was read (no secrets)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["-started_at"], name="reconciliation_recent_idx"),
                   models.Index(fields=["channel", "day"], name="reconciliation_day_idx")]
        constraints = [
            # The daily job claims its day by creating its run: two workers cannot both claim it. A failed
            # run does not count, so the day is tried again.
            models.UniqueConstraint(fields=["channel", "day"], condition=models.Q(actor="system") & ~models.Q(status="failed"),
                                    name="reconciliation_daily_once"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.day} #{self.id}"

    @property
    def unmatched(self) -> int:
        return self.missing_here + self.missing_there + self.amount_differs


class ReconciliationLine(models.Model):
    """A line that did not match: what the gateway says, what we recorded, and what was done about it."""

    class Kind(models.TextChoices):
        PAYMENT = "payment", _("收款")
        REFUND = "refund", _("退款")

    class Category(models.TextChoices):
        MISSING_HERE = "missing_here", _("平台缺记录")
        MISSING_THERE = "missing_there", _("网关无记录")
        AMOUNT_DIFFERS = "amount_differs", _("金额不符")

    class Repair(models.TextChoices):
        NONE = "", _("待人工处理")
        CAPTURED = "captured", _("已补记收款")
        PAYOUT_SETTLED = "payout_settled", _("已确认退款到账")

    run = models.ForeignKey(ReconciliationRun, on_delete=models.CASCADE, related_name="lines")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    category = models.CharField(max_length=16, choices=Category.choices)
    our_no = models.CharField(max_length=64, blank=True, default="")  # payment_no or the refund's request number
    their_no = models.CharField(max_length=64, blank=True, default="")  # the gateway's trade or refund number
    statement_amount_fen = models.BigIntegerField(null=True, blank=True)  # None: not on the statement
    our_amount_fen = models.BigIntegerField(null=True, blank=True)  # None: we have no such record
    at = models.DateTimeField(null=True, blank=True)  # when the gateway (or we) completed it
    order_no = models.CharField(max_length=32, blank=True, default="")
    reason = models.CharField(max_length=32)  # a code of `reconciliation.REASONS`
    repair = models.CharField(max_length=16, choices=Repair.choices, blank=True, default="")

    class Meta:
        ordering = ["id"]
