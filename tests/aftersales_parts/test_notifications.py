"""Notifications: inbox always, SMS / email through an outbox that sends each message once."""

import logging
import threading
import time

import pytest
from django.core import mail
from django.db import connections

from kameng.core.errors import NotFound
from kameng.notifications.backends import mask_phone
from kameng.notifications.models import InboxMessage, OutboxMessage
from kameng.notifications.services import MAX_ATTEMPTS, inbox_for, inbox_mark_read, notify, outbox_send_due
from kameng.notifications.tasks import send_outbox

sent_by_backend = []


class RecordingSms:
    def send(self, *, recipient, subject, body):
        time.sleep(0.05)  # long enough for a second sender to come along
        sent_by_backend.append((recipient, body))


class BrokenSms:
    def send(self, *, recipient, subject, body):
        raise ConnectionError("gateway unreachable")


@pytest.fixture(autouse=True)
def _mail_to_memory(settings):
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}


@pytest.fixture
def customer(buyer):
    buyer.email = "buyer@example.com"
    buyer.save(update_fields=["email"])
    return buyer


def test_notify_writes_inbox_and_outbox(customer, refund):
    message = notify(user=customer, title="退款已同意", body="退款 10.00 元将原路退回", refund=refund, sms=True, email=True)

    assert InboxMessage.objects.get() == message and message.refund == refund and message.read_at is None
    rows = {row.channel: row for row in OutboxMessage.objects.all()}
    assert rows["sms"].recipient == "13800000000" and "退款已同意" in rows["sms"].body
    assert rows["email"].recipient == "buyer@example.com" and rows["email"].subject == "退款已同意"
    assert all(row.sent_at is None for row in rows.values())


def test_no_outbox_without_a_phone_or_address(make_user):
    user = make_user("reviewer")  # no phone, no email
    notify(user=user, title="新的退款申请", body="请在时限内处理", sms=True, email=True)
    assert InboxMessage.objects.count() == 1 and not OutboxMessage.objects.exists()


def test_outbox_sends_once_even_if_run_twice(customer, caplog):
    notify(user=customer, title="退款已到账", body="请查收", sms=True, email=True)

    with caplog.at_level(logging.INFO, logger="kameng.notifications"):
        assert outbox_send_due() == 2
        assert outbox_send_due() == 0

    assert OutboxMessage.objects.filter(sent_at__isnull=True).count() == 0
    assert [m.to for m in mail.outbox] == [["buyer@example.com"]]
    logged = caplog.text
    assert "SMS to 138****0000" in logged and "13800000000" not in logged


def test_failures_are_retried_then_given_up(customer, settings):
    settings.KAMENG_SMS_BACKEND = "tests.aftersales_parts.test_notifications.BrokenSms"
    notify(user=customer, title="t", body="b", sms=True)

    for _ in range(MAX_ATTEMPTS + 2):
        assert outbox_send_due() == 0
    row = OutboxMessage.objects.get()
    assert row.sent_at is None and row.attempts == MAX_ATTEMPTS
    assert row.last_error == "ConnectionError: gateway unreachable"

    settings.KAMENG_SMS_BACKEND = "tests.aftersales_parts.test_notifications.RecordingSms"
    assert outbox_send_due() == 0  # given up: not sent behind anyone's back later


def test_a_failure_does_not_block_the_rest(customer, settings, make_user):
    settings.KAMENG_SMS_BACKEND = "tests.aftersales_parts.test_notifications.BrokenSms"
    notify(user=customer, title="t", body="b", sms=True, email=True)
    assert outbox_send_due() == 1  # the email still went
    assert OutboxMessage.objects.get(channel="sms").attempts == 1


def test_send_outbox_task_runs_the_sender(customer):
    notify(user=customer, title="t", body="b", email=True)
    assert send_outbox.call() == 1


def test_inbox_listing_and_marking_read(customer, make_user):
    first = notify(user=customer, title="one", body="1")
    second = notify(user=customer, title="two", body="2")
    notify(user=make_user("buyer"), title="someone else's", body="3")

    assert list(inbox_for(customer)) == [second, first]
    read = inbox_mark_read(customer, first.id)
    assert read.read_at is not None
    assert inbox_mark_read(customer, first.id).read_at == read.read_at  # the first reading is kept
    assert list(inbox_for(customer, unread_only=True)) == [second]


def test_cannot_mark_someone_elses_message(customer, make_user):
    other = notify(user=make_user("buyer"), title="private", body="x")
    with pytest.raises(NotFound):
        inbox_mark_read(customer, other.id)
    with pytest.raises(NotFound):
        inbox_mark_read(customer, "not-a-number")


def test_email_goes_to_the_console_when_no_mailer_is_configured(customer, settings, capsys):
    del settings.MAILERS
    notify(user=customer, title="退款已到账", body="请查收", email=True)
    assert outbox_send_due() == 1
    assert "buyer@example.com" in capsys.readouterr().out and not mail.outbox


def test_phone_masking():
    assert mask_phone("13800000000") == "138****0000"
    assert mask_phone("12345") == "*****"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_senders_send_each_message_once(make_user, settings):
    settings.KAMENG_SMS_BACKEND = "tests.aftersales_parts.test_notifications.RecordingSms"
    sent_by_backend.clear()
    users = [make_user("buyer") for _ in range(6)]
    for user in users:
        notify(user=user, title="t", body=f"for {user.username}", sms=True)

    barrier = threading.Barrier(4)
    counts = []

    def run():
        try:
            barrier.wait()
            counts.append(outbox_send_due())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sum(counts) == 6
    assert sorted(body for _, body in sent_by_backend) == sorted(f"【卡盟】t：for {u.username}" for u in users)
