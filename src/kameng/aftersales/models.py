from django.db import models
from django.utils.translation import gettext_lazy as _
from django_fsm import ConcurrentTransitionMixin, FSMField, transition


class Reason(models.TextChoices):
    NOT_DELIVERED = "not_delivered", _("未发货")
    INVALID_KEY = "invalid_key", _("卡密无效")
    KEY_ALREADY_USED = "key_already_used", _("卡密已被使用")
    NOT_AS_DESCRIBED = "not_as_described", _("与描述不符")
    TOPUP_NOT_RECEIVED = "topup_not_received", _("充值未到账")
    SYSTEM_ERROR = "system_error", _("系统错误")
    CHANGED_MIND = "changed_mind", _("不想要了")
    WRONG_ACCOUNT = "wrong_account", _("充错账号")


class SupplierAnswer(models.TextChoices):
    """A supplier-liable claim is put to the supplier first (contract: supplier_reply_hours)."""

    NONE = "", _("无需供货商答复")
    PENDING = "pending", _("待供货商答复")
    ACCEPTED = "accepted", _("供货商同意退款")
    CONTESTED = "contested", _("供货商有异议")
    SILENT = "silent", _("供货商逾期未答复，视为同意")


class RefundStatus(models.TextChoices):
    SUBMITTED = "submitted", _("待审核")
    AWAITING_BUYER = "awaiting_buyer", _("待补充材料")
    APPROVED = "approved", _("已同意")
    REFUNDING = "refunding", _("退款中")
    REFUNDED = "refunded", _("已退款")
    REJECTED = "rejected", _("已驳回")
    APPEALED = "appealed", _("申诉中")
    REJECTED_FINAL = "rejected_final", _("申诉驳回")
    WITHDRAWN = "withdrawn", _("已撤回")
    CLOSED = "closed", _("已关闭")


class RejectReason(models.TextChoices):
    INSUFFICIENT_EVIDENCE = "insufficient_evidence", _("证据不足")
    USED_OR_CONSUMED = "used_or_consumed", _("已使用或已消耗")
    OUTSIDE_WINDOW = "outside_window", _("超出售后期限")
    PERSONAL_REASON = "personal_reason", _("个人原因不符合退款条件")
    NOT_REPRODUCIBLE = "not_reproducible", _("问题无法复现")
    OTHER = "other", _("其他")


R = RefundStatus
OPEN_STATUSES = (R.SUBMITTED, R.AWAITING_BUYER, R.APPROVED, R.REFUNDING, R.APPEALED)
STAFF_QUEUE_STATUSES = (R.SUBMITTED, R.APPEALED)  # waiting on staff: their review deadline runs
QUEUE_STATUSES = ("submitted", "appealed", "awaiting_buyer")  # what the staff queue lists by default
# The evidence deadline counts for the first review only (an appeal comes with its own description).
EVIDENCE_DEADLINE_STATUSES = ("submitted", "awaiting_buyer")


class Refund(ConcurrentTransitionMixin, models.Model):
    refund_no = models.CharField(max_length=32, unique=True)
    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="refunds")
    buyer = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="refunds")
    reason = models.CharField(max_length=30, choices=Reason.choices)
    description = models.TextField()
    destination = models.CharField(max_length=10)  # original | wallet
    status = FSMField(default=R.SUBMITTED, choices=R.choices, protected=True)
    amount_fen = models.BigIntegerField()  # price of the requested items
    fee_fen = models.BigIntegerField(default=0)
    refund_amount_fen = models.BigIntegerField()  # what the buyer receives: amount - fee (or as decided)
    fee_rate = models.CharField(max_length=10, default="0")
    needs_evidence = models.BooleanField(default=False)
    # When the rule needs evidence: the buyer is asked to upload by this time (policy info_reply_hours).
    evidence_due_at = models.DateTimeField(null=True, blank=True)
    # The evidence deadline acts (aftersales/evidence_deadline.py): the buyer is reminded once before it,
    # and when it passes with no evidence the case is marked "no evidence supplied" for the reviewer.
    evidence_reminded_at = models.DateTimeField(null=True, blank=True)
    evidence_overdue_at = models.DateTimeField(null=True, blank=True)
    # The first time a reviewer opened the case: from then on the buyer can no longer remove an upload.
    opened_at = models.DateTimeField(null=True, blank=True)
    liable = models.CharField(max_length=10, default="platform")  # who bears the loss: supplier | platform
    submitted_at = models.DateTimeField()
    sla_due_at = models.DateTimeField(null=True, blank=True)
    sla_paused_at = models.DateTimeField(null=True, blank=True)
    info_due_at = models.DateTimeField(null=True, blank=True)
    escalated = models.BooleanField(default=False)
    urged_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    first_decided_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    final_decided_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reject_reason_code = models.CharField(max_length=30, blank=True, default="")
    decision_note = models.TextField(blank=True, default="")
    appeal_due_at = models.DateTimeField(null=True, blank=True)
    appeal_description = models.TextField(blank=True, default="")
    appealed_at = models.DateTimeField(null=True, blank=True)
    expected_arrival_by = models.DateTimeField(null=True, blank=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    closed_reason = models.CharField(max_length=40, blank=True, default="")
    # Supplier first: the supplier answers by supplier_due_at (accept, or contest with a note); silence accepts.
    supplier_due_at = models.DateTimeField(null=True, blank=True)
    supplier_answer = models.CharField(max_length=10, choices=SupplierAnswer.choices, blank=True, default="")
    supplier_note = models.TextField(blank=True, default="")
    supplier_answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["sla_due_at", "id"], condition=models.Q(status__in=QUEUE_STATUSES),
                         name="refund_queue_idx"),
            models.Index(fields=["info_due_at"], condition=models.Q(status="awaiting_buyer"), name="refund_info_due_idx"),
            models.Index(fields=["buyer", "-id"], name="refund_buyer_idx"),
            # Only undecided cases whose evidence deadline has not acted yet: what the evidence sweep reads.
            models.Index(fields=["evidence_due_at"], name="refund_evidence_due_idx",
                         condition=models.Q(needs_evidence=True, evidence_overdue_at__isnull=True,
                                            status__in=EVIDENCE_DEADLINE_STATUSES)),
            models.Index(fields=["supplier_due_at"], condition=models.Q(supplier_answer="pending"),
                         name="refund_supplier_due_idx"),
            # The published figures (aftersales/transparency.py) reach only the last 30 days through these.
            models.Index(fields=["submitted_at"], name="refund_submitted_idx"),
            models.Index(fields=["appealed_at"], condition=models.Q(appealed_at__isnull=False),
                         name="refund_appealed_idx"),
            models.Index(fields=["decided_at"], condition=models.Q(appealed_at__isnull=False),
                         name="refund_appeal_decided_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(fee_fen__gte=0) & models.Q(refund_amount_fen__gte=0)
                & models.Q(refund_amount_fen__lte=models.F("amount_fen")),
                name="refund_amounts_sane",
            ),
        ]

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def is_overdue(self, now) -> bool:
        """Past its review deadline while waiting on staff (a deadline paused for the buyer does not run)."""
        return bool(self.sla_due_at and self.status in STAFF_QUEUE_STATUSES and now > self.sla_due_at)

    def can_be_urged(self, now) -> bool:
        """Once its review deadline has passed (escalated or not yet), and once per refund."""
        passed = self.escalated or bool(self.sla_due_at and now > self.sla_due_at)
        return self.status == R.SUBMITTED and self.urged_at is None and passed

    @transition(field=status, source=R.SUBMITTED, target=R.AWAITING_BUYER)
    def ask_buyer(self):
        pass

    @transition(field=status, source=R.AWAITING_BUYER, target=R.SUBMITTED)
    def buyer_answered(self):
        pass

    # awaiting_buyer: a supplier may accept a claim while the reviewer waits on the buyer (supplier first).
    @transition(field=status, source=[R.SUBMITTED, R.AWAITING_BUYER, R.APPEALED], target=R.APPROVED)
    def approve(self):
        pass

    @transition(field=status, source=R.SUBMITTED, target=R.REJECTED)
    def reject(self):
        pass

    @transition(field=status, source=R.APPEALED, target=R.REJECTED_FINAL)
    def reject_final(self):
        pass

    @transition(field=status, source=R.REJECTED, target=R.APPEALED)
    def appeal(self):
        pass

    @transition(field=status, source=[R.SUBMITTED, R.AWAITING_BUYER, R.REJECTED], target=R.WITHDRAWN)
    def withdraw(self):
        pass

    @transition(field=status, source=R.AWAITING_BUYER, target=R.CLOSED)
    def close_for_timeout(self):
        pass

    @transition(field=status, source=R.APPROVED, target=R.REFUNDING)
    def start_refund(self):
        pass

    @transition(field=status, source=R.REFUNDING, target=R.REFUNDED)
    def complete_refund(self):
        pass


class RefundItem(models.Model):
    """The order items a refund asks for. An item is in at most one open request at a time."""

    refund = models.ForeignKey(Refund, on_delete=models.PROTECT, related_name="items")
    order_item = models.ForeignKey("orders.OrderItem", on_delete=models.PROTECT, related_name="refund_items")
    amount_fen = models.BigIntegerField()
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order_item"], condition=models.Q(active=True), name="one_open_refund_per_item"),
        ]


class RefundEvent(models.Model):
    """The timeline: append-only, kept at least 3 years (电子商务法 第31条)."""

    refund = models.ForeignKey(Refund, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField()
    actor = models.CharField(max_length=160)
    event = models.CharField(max_length=40)
    note = models.TextField(blank=True, default="")

    class Meta:
        indexes = [
            # First decisions and escalations, for the published figures (aftersales/transparency.py).
            models.Index(fields=["at"], condition=models.Q(event__in=("approved", "auto_approved", "rejected")),
                         name="refund_event_decision_idx"),
            models.Index(fields=["refund", "at"], condition=models.Q(event="escalated"),
                         name="refund_event_escalated_idx"),
        ]


class RefundFacts(models.Model):
    """What the published figures (transparency.py) read about one refund, in one narrow row: written in the
    same transaction as the refund and the timeline events it sums up (figure_facts.py), so each figure is a
    range scan of one covering index instead of a join of the window's events to refunds, orders and products.
    The timeline stays the record; these rows can be rebuilt from it (figure_facts.rebuild)."""

    refund = models.OneToOneField(Refund, primary_key=True, on_delete=models.PROTECT, related_name="facts")
    supplier = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+", db_index=False)
    reason = models.CharField(max_length=30, choices=Reason.choices)
    submitted_at = models.DateTimeField()
    # The first decision (approved, auto_approved or rejected; not an appeal's): when, which way, by whom.
    first_decided_at = models.DateTimeField(null=True, blank=True)
    first_approved = models.BooleanField(null=True)
    first_automatic = models.BooleanField(null=True)  # actor system
    first_escalated_at = models.DateTimeField(null=True, blank=True)  # the earliest `escalated` event

    class Meta:
        db_table = "aftersales_refund_facts"
        indexes = [
            models.Index(fields=["submitted_at"], include=["reason", "supplier"], name="refund_facts_submitted_idx"),
            models.Index(fields=["first_decided_at"], condition=models.Q(first_decided_at__isnull=False),
                         include=["reason", "supplier", "submitted_at", "first_approved", "first_automatic",
                                  "first_escalated_at"],
                         name="refund_facts_decided_idx"),
        ]


class MessageKind(models.TextChoices):
    MESSAGE = "message"
    INFO_REQUEST = "info_request"
    INFO_REPLY = "info_reply"


class RefundMessage(models.Model):
    """A message between buyer and staff; immutable once written."""

    refund = models.ForeignKey(Refund, on_delete=models.PROTECT, related_name="messages")
    author = models.ForeignKey("accounts.User", on_delete=models.PROTECT)
    author_role = models.CharField(max_length=20)
    kind = models.CharField(max_length=20, default="message")  # message | info_request | info_reply
    body = models.TextField()
    at = models.DateTimeField()


class Evidence(models.Model):
    """A file the buyer (or the platform itself) put on record. Immutable; checked by SHA-256."""

    refund = models.ForeignKey(Refund, on_delete=models.PROTECT, related_name="evidence")
    uploaded_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT)
    source = models.CharField(max_length=10, default="buyer")  # buyer | platform
    kind = models.CharField(max_length=10)  # image | video | pdf | text | record
    content_type = models.CharField(max_length=100)
    original_name = models.CharField(max_length=200, blank=True, default="")
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    storage_path = models.CharField(max_length=300)
    received_at = models.DateTimeField()
    # The bytes the buyer sent, before images were re-encoded to drop EXIF (`sha256` is the stored copy's).
    # Null on files received before both were kept.
    received_sha256 = models.CharField(max_length=64, null=True, blank=True)
    received_size = models.PositiveBigIntegerField(null=True, blank=True)

    @property
    def stored_as_received(self) -> bool:
        return self.received_sha256 == self.sha256


class EvidenceRemoval(models.Model):
    """A buyer took an upload back before review. Evidence rows are never changed or deleted (append-only):
    the removal is a row of its own, and the file stays on record, shown as removed."""

    evidence = models.OneToOneField(Evidence, on_delete=models.PROTECT, related_name="removal")
    removed_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT)
    removed_at = models.DateTimeField()


class RefundPayout(models.Model):
    """The money going back. Committed before the gateway is called; its number is reused on retry."""

    class Status(models.TextChoices):
        PENDING = "pending"  # committed, gateway not yet confirmed to have accepted it
        SENT = "sent"  # the gateway accepted it; waiting for its notification
        SUCCEEDED = "succeeded"
        FAILED = "failed"  # the gateway refused or gave it up: never retried by itself; finance pays it

    refund = models.OneToOneField(Refund, on_delete=models.PROTECT, related_name="payout")
    request_no = models.CharField(max_length=40, unique=True)
    channel = models.CharField(max_length=10)
    amount_fen = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    gateway_ref = models.CharField(max_length=64, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    expected_arrival_by = models.DateTimeField()
    # Why the gateway would not pay (its code and message, never a key or a signature).
    failure_code = models.CharField(max_length=64, blank=True, default="")
    failure_message = models.CharField(max_length=200, blank=True, default="")
    failed_at = models.DateTimeField(null=True, blank=True)
    failed_request_no = models.CharField(max_length=40, blank=True, default="")
    # Finance's retry of a failed payout ("wallet" or "original"), once.
    retry_destination = models.CharField(max_length=10, blank=True, default="")
    retried_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(amount_fen__gt=0), name="payout_amount_positive")]
