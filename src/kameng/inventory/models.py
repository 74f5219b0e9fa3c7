from django.db import models
from django.utils.translation import gettext_lazy as _


class SecretStatus(models.TextChoices):
    AVAILABLE = "available", _("在库")
    RESERVED = "reserved", _("已锁定")
    ISSUED = "issued", _("已发放")
    VOIDED = "voided", _("已作废")
    # Held back with its quarantined batch (see inventory/quarantine.py): not sold until an admin releases
    # the batch (back to available) or voids it. Its own status, so the reservation query, which only
    # ever looks at `available` through its partial index, skips it at no cost.
    FROZEN = "frozen", _("隔离中")


class QuarantineState(models.TextChoices):
    NONE = "none", _("正常")
    QUARANTINED = "quarantined", _("已隔离")
    RELEASED = "released", _("已解除隔离")
    VOIDED = "voided", _("已作废")


class ImportBatch(models.Model):
    """One import of keys: who, when, how many, and how it went (progress for the page)."""

    class Status(models.TextChoices):
        RUNNING = "running", _("导入中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="import_batches")
    imported_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT)
    source = models.CharField(max_length=10)  # api, cli, page
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    total_lines = models.PositiveIntegerField(null=True)  # known up front for uploads, else None
    processed = models.PositiveIntegerField(default=0)
    imported = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=200, blank=True, default="")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True)
    # Quarantine (inventory/quarantine.py): approved key defects passed the threshold; the unsold keys wait.
    quarantine = models.CharField(max_length=12, choices=QuarantineState.choices, default=QuarantineState.NONE)
    quarantined_at = models.DateTimeField(null=True, blank=True)
    quarantine_defects = models.PositiveIntegerField(default=0)  # approved key defects counted, latest check
    quarantine_sold = models.PositiveIntegerField(default=0)  # keys of the batch ever sold, at that check
    quarantine_frozen = models.PositiveIntegerField(default=0)  # unsold keys held back when quarantined
    # Defects an admin already judged when releasing the batch: only new ones can quarantine it again.
    forgiven_defects = models.PositiveIntegerField(default=0)
    quarantine_decided_by = models.ForeignKey("accounts.User", null=True, blank=True, on_delete=models.PROTECT,
                                              related_name="+")
    quarantine_decided_at = models.DateTimeField(null=True, blank=True)
    quarantine_note = models.TextField(blank=True, default="")

    class Meta:
        indexes = [
            models.Index(fields=["quarantined_at"], condition=models.Q(quarantine="quarantined"),
                         name="batch_quarantined_idx"),
        ]


class LineProblem(models.TextChoices):
    """Why a line of an import was not stocked. Said per line number, never with the line's content."""

    EMPTY = "empty", _("空行")
    TOO_LONG = "too_long", _("过长（超过 512 个字符）")
    CONTROL_CHARACTER = "control_character", _("含有不可见或控制字符")
    NOT_A_STRING = "not_a_string", _("不是文本")
    DUPLICATE_IN_IMPORT = "duplicate_in_import", _("与本次导入中前面的行重复")
    ALREADY_ON_PLATFORM = "already_on_platform", _("平台上已有该卡密")


class ImportProblem(models.Model):
    """A run of consecutive lines of one import that were not stocked for the same reason.

    Runs, not single lines: re-importing a million-line file by mistake is one row ("lines 1–1000000:
    already on the platform"), not a million. Line numbers count from 1; for an API import, line n is
    `keys[n-1]`. Written in the same transaction as the chunk and the batch's counters, so a resumed
    import never reports a line twice. The line's content is never stored here, not even hashed.
    """

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="problems")
    first_line = models.PositiveIntegerField()
    last_line = models.PositiveIntegerField()
    problem = models.CharField(max_length=20, choices=LineProblem.choices)

    class Meta:
        indexes = [models.Index(fields=["batch", "first_line"], name="import_problem_line_idx")]
        constraints = [models.CheckConstraint(condition=models.Q(last_line__gte=models.F("first_line")),
                                              name="import_problem_run_ordered")]

    @property
    def lines(self) -> int:
        return self.last_line - self.first_line + 1


class CardSecret(models.Model):
    """A key or link in stock. The secret itself is only ever stored encrypted."""

    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="secrets")
    ciphertext = models.BinaryField()
    # HMAC-SHA256 of the secret under the platform's fingerprint key: one key, one row, platform-wide.
    # (A constraint, not unique=True: on PostgreSQL that would add a LIKE index no query uses, and a
    # million-key import pays for every index.)
    fingerprint = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=SecretStatus.choices, default=SecretStatus.AVAILABLE)
    reserved_order = models.ForeignKey("orders.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    batch = models.ForeignKey(ImportBatch, null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["fingerprint"], name="secret_fingerprint_unique")]
        indexes = [
            models.Index(fields=["product", "id"], condition=models.Q(status="available"), name="secret_available_idx"),
            models.Index(fields=["reserved_order"], condition=models.Q(status="reserved"), name="secret_reserved_idx"),
        ]

    def __repr__(self) -> str:  # never the secret, not even encrypted
        return f"<CardSecret {self.pk} {self.status}>"

    __str__ = __repr__


class BatchEvent(models.Model):
    """What happened to a batch's quarantine, and who did it: append-only, like a refund's timeline."""

    batch = models.ForeignKey(ImportBatch, on_delete=models.PROTECT, related_name="events")
    at = models.DateTimeField()
    actor = models.CharField(max_length=160)  # "system" or role:username
    event = models.CharField(max_length=20)  # quarantined | released | voided
    note = models.TextField(blank=True, default="")


class KeyIssue(models.Model):
    """A key given to an order item. The record stays when the key comes back (returned_at set)."""

    secret = models.ForeignKey(CardSecret, on_delete=models.PROTECT, related_name="issues")
    order_item = models.ForeignKey("orders.OrderItem", on_delete=models.PROTECT, related_name="issues")
    issued_at = models.DateTimeField()
    returned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Whatever the locking does, the database refuses to hand one key to two live items.
            models.UniqueConstraint(
                fields=["secret"], condition=models.Q(returned_at__isnull=True), name="key_issued_once"
            ),
            models.UniqueConstraint(
                fields=["order_item"], condition=models.Q(returned_at__isnull=True), name="item_holds_one_key"
            ),
        ]


class RevealRecord(models.Model):
    """Each time a buyer looked at a secret: who, when, from where. After-sales relies on it."""

    order_item = models.ForeignKey("orders.OrderItem", on_delete=models.PROTECT, related_name="reveals")
    user = models.ForeignKey("accounts.User", on_delete=models.PROTECT)
    revealed_at = models.DateTimeField()
    ip_address = models.GenericIPAddressField(null=True)
    user_agent = models.CharField(max_length=300, blank=True, default="")
