from django.db import models
from django.utils.translation import gettext_lazy as _


class TestClock(models.Model):
    """The sandbox test clock: one row, the offset added to real time.

    Kept in the database, not in memory, so every server and worker process sees the same time.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    offset_seconds = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="test_clock_single_row")]


class IdempotencyRecord(models.Model):
    """The first answer to a request sent with an `Idempotency-Key`, replayed for repeats."""

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    endpoint = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")]


class WorkerLease(models.Model):
    """A background worker's heartbeat: the jobs it claimed are its own only while this is fresh.

    A worker killed mid-job (`kill -9`, a lost machine) stops beating; once its lease runs out, the jobs it
    had claimed go back to the queue for a live worker (see `core.worker.jobs_requeue_abandoned`).
    """

    worker_id = models.CharField(max_length=64, primary_key=True)  # as django-tasks-db records it in worker_ids
    beat_at = models.DateTimeField()  # real time, never the test clock: moving that must not kill workers


class Holiday(models.Model):
    """One day of a State Council holiday notice: a day off, or a weekend made a working day (调休).

    A year with any entry counts as confirmed (see `kameng.core.workdays`): enter a whole notice at once.
    """

    class Kind(models.TextChoices):
        HOLIDAY = "holiday", _("放假")
        WORKDAY = "workday", _("调休上班")

    date = models.DateField(_("日期"), unique=True)
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("节日名称"), max_length=40, blank=True, default="", help_text=_("如：元旦、春节、国庆节"))
    changed_at = models.DateTimeField(_("修改时间"))

    class Meta:
        ordering = ["date"]
        verbose_name = _("节假日安排")
        verbose_name_plural = _("节假日安排")

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.get_kind_display()} {self.name}".strip()

    def save(self, *args, **kwargs):
        from kameng.core import clock

        self.changed_at = clock.now()
        super().save(*args, **kwargs)


def reloaded(instance):
    """The row as the database has it now, as a new object.

    Use this instead of `refresh_from_db()` on models with a protected FSM field: django-fsm-2 makes
    such a refresh switch protection off and on for the whole class, which races between threads of
    one server process (a refund committed, then answered with a 500).
    """
    return type(instance)._default_manager.get(pk=instance.pk)
