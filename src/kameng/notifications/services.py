"""Notifications: the inbox (站内信) always, and SMS / email through an outbox.

`notify` only writes rows, inside the caller's transaction: a notice exists exactly when the
change it announces was committed (a transactional outbox). `outbox_send_due` delivers later,
so a slow or failing SMS gateway never holds up or undoes a refund decision. Callers must never
put secrets (card keys, passwords, tokens) in a title or body: they end up in logs and phones.
"""

import logging

from django.conf import settings
from django.db import connection, transaction
from django.utils.module_loading import import_string

from kameng.core import clock
from kameng.core.errors import NotFound

from .models import InboxMessage, OutboxMessage
from .render import DEFAULT_LANGUAGE, language_of, render, sms_text, stored_params

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
TITLE_MAX = 200
DEFAULT_BACKENDS = {
    OutboxMessage.Channel.SMS: ("KAMENG_SMS_BACKEND", "kameng.notifications.backends.ConsoleSmsBackend"),
    OutboxMessage.Channel.EMAIL: ("KAMENG_EMAIL_BACKEND", "kameng.notifications.backends.DjangoEmailBackend"),
}


def notify(*, user, code: str = "", params: dict | None = None, title: str = "", body: str = "", refund=None,
           sms: bool = False, email: bool = False) -> InboxMessage:
    """Tell `user` something: an inbox message, plus an SMS / email if asked and they have one.

    `code` and `params` name a message of the catalogue (texts.py): the inbox keeps them and renders the
    message in the reader's language when read; the SMS / email are written now, in the user's language.
    `title` and `body` (finished Chinese text) remain for a caller not yet moved to a code.
    """
    now = clock.now()
    language = language_of(user)
    stored = {}
    if code:
        stored = stored_params(code, params or {})
        title, body = render(code, stored, DEFAULT_LANGUAGE)
        out_title, out_body = render(code, stored, language)
    else:
        out_title, out_body, language = title, body, DEFAULT_LANGUAGE  # finished Chinese text stays Chinese
    message = InboxMessage.objects.create(user=user, title=title[:TITLE_MAX], body=body, code=code, params=stored,
                                          refund=refund, created_at=now)
    outgoing = []
    if sms and user.phone:
        outgoing.append(OutboxMessage(channel=OutboxMessage.Channel.SMS, recipient=user.phone,
                                      body=sms_text(out_title, out_body, language), created_at=now))
    if email and user.email:
        outgoing.append(OutboxMessage(channel=OutboxMessage.Channel.EMAIL, recipient=user.email,
                                      subject=out_title[:TITLE_MAX], body=out_body, created_at=now))
    if outgoing:
        OutboxMessage.objects.bulk_create(outgoing)
        transaction.on_commit(_enqueue_send)
    return message


def _enqueue_send() -> None:
    """Ask the worker to send soon; if that fails the next outbox sweep still finds the rows."""
    from .tasks import send_outbox

    try:
        send_outbox.enqueue()
    except Exception:
        logger.exception("could not enqueue the outbox sender")


def _backend(channel: str):
    setting, default = DEFAULT_BACKENDS[channel]
    return import_string(getattr(settings, setting, default))()


def _claim_next(after_id: int) -> OutboxMessage | None:
    rows = OutboxMessage.objects.filter(sent_at__isnull=True, attempts__lt=MAX_ATTEMPTS, id__gt=after_id)
    skip_locked = connection.features.has_select_for_update_skip_locked
    return rows.select_for_update(skip_locked=skip_locked).order_by("id").first()


def _send_one(row: OutboxMessage) -> bool:
    row.attempts += 1
    try:
        _backend(row.channel).send(recipient=row.recipient, subject=row.subject, body=row.body)
    except Exception as exc:
        row.last_error = f"{type(exc).__name__}: {exc}"[:200]
        log = logger.error if row.attempts >= MAX_ATTEMPTS else logger.warning
        log("outbox %s (%s) failed, attempt %s of %s: %s", row.id, row.channel, row.attempts, MAX_ATTEMPTS,
            type(exc).__name__)
        row.save(update_fields=["attempts", "last_error"])
        return False
    row.sent_at = clock.now()
    row.last_error = ""
    row.save(update_fields=["attempts", "last_error", "sent_at"])
    return True


def outbox_send_due(limit: int = 100) -> int:
    """Send up to `limit` unsent messages; returns how many were sent.

    Each row is claimed under a row lock (skipping rows another sender holds) and marked sent in
    the same transaction, so two senders running together never send one message twice.
    A failure is counted and retried on a later run, up to MAX_ATTEMPTS attempts.
    """
    sent, last_id = 0, 0
    for _ in range(limit):
        with transaction.atomic():
            row = _claim_next(last_id)
            if row is None:
                break
            last_id = row.id
            sent += _send_one(row)
    return sent


def inbox_for(user, unread_only: bool = False):
    messages = InboxMessage.objects.filter(user=user)
    if unread_only:
        messages = messages.filter(read_at__isnull=True)
    return messages.order_by("-id")


def inbox_mark_read(user, message_id) -> InboxMessage:
    """Mark one of the user's own messages read; the first time it was read is kept."""
    try:
        message = InboxMessage.objects.filter(user=user, id=int(message_id)).first()
    except (TypeError, ValueError):
        message = None
    if message is None:
        raise NotFound("no such message", code="MESSAGE_NOT_FOUND")
    if message.read_at is None:
        InboxMessage.objects.filter(id=message.id, read_at__isnull=True).update(read_at=clock.now())
        message.refresh_from_db(fields=["read_at"])
    return message
