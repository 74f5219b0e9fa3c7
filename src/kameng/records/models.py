from django.db import models
from django.utils.translation import gettext_lazy as _


class BuyerExport(models.Model):
    """One export of a buyer's records: who, when, how big, and the SHA-256 of its signed manifest.

    At most one is being built per buyer (a partial unique constraint): a second request while it is
    built gets the same export, streamed from the file the first one is writing.
    """

    class Status(models.TextChoices):
        BUILDING = "building", _("生成中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("未完成")

    buyer = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="exports")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BUILDING)
    started_at = models.DateTimeField()
    touched_at = models.DateTimeField()  # the builder's heartbeat: a silent build is taken for dead
    finished_at = models.DateTimeField(null=True, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)
    manifest_sha256 = models.CharField(max_length=64, blank=True, default="")
    orders = models.PositiveIntegerField(default=0)
    served = models.PositiveIntegerField(default=1)  # requests answered with this export (1 + those who joined)
    file_key = models.BinaryField(null=True)  # the AES key of the file kept for joiners (it holds card secrets)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["buyer"], condition=models.Q(status="building"),
                                               name="one_export_building_per_buyer")]
        indexes = [models.Index(fields=["buyer", "-id"], name="export_buyer_idx")]
