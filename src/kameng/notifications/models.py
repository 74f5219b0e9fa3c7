from django.db import models


class InboxMessage(models.Model):
    """站内信: what a buyer or a reviewer must know, kept in the platform.

    A message is kept as a `code` of the message catalogue (notifications/texts.py) and its `params`, and is
    rendered in the reader's language when read. `title` and `body` hold the Chinese text as it was written:
    what a message from before codes existed (no `code`) shows in every language, and what searches match.
    """

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="inbox")
    title = models.CharField(max_length=200)
    body = models.TextField()
    code = models.CharField(max_length=64, blank=True, default="")
    params = models.JSONField(default=dict, blank=True)
    refund = models.ForeignKey("aftersales.Refund", null=True, blank=True, on_delete=models.CASCADE)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "-id"], name="inbox_user_idx")]


class OutboxMessage(models.Model):
    """An SMS or email waiting to be sent (console backends by default), retried until sent."""

    class Channel(models.TextChoices):
        SMS = "sms"
        EMAIL = "email"

    channel = models.CharField(max_length=10, choices=Channel.choices)
    recipient = models.CharField(max_length=254)
    subject = models.CharField(max_length=200, blank=True, default="")
    body = models.TextField()
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["id"], condition=models.Q(sent_at__isnull=True), name="outbox_unsent_idx")]
