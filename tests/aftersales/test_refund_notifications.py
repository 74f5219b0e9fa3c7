"""The gateway's refund notification completes only a refund we sent, once, and every one is recorded.

The attack: a notification signed with the sandbox secret, dated 1970, naming a real request number
and an invented `refund_ref`, marked a payout paid that the gateway was never asked to send.
"""

import pytest

from kameng.aftersales.models import RefundPayout
from kameng.core.worker import run_queued_tasks
from kameng.ledger.models import Journal
from kameng.payments.gateways import sandbox, sandbox_refunds
from kameng.payments.models import PaymentNotification, SandboxGatewayRefund

from .conftest import ask

PATH = "/api/v1/payments/notify/sandbox-refund"


def approved_alipay_refund(bought, api_as, reviewer):
    api, order = bought(channel="alipay", reveal=True)
    refund = ask(api, order, "invalid_key").json()
    assert api_as(reviewer).post(f"/staff/refunds/{refund['id']}/approve", {"note": "ok"}).status_code == 200
    return api, refund


def forged(payout, **change):
    """What an attacker holding the signing secret would send for one of our request numbers."""
    fields = {"request_no": payout.request_no, "refund_ref": "SBR-INVENTED", "amount": f"{payout.amount_fen / 100:.2f}",
              "status": "REFUND_SUCCESS", "ts": "0", **change}
    fields["sign"] = sandbox.sign(fields)
    return fields


def assert_nothing_paid(api, refund, payout_status):
    assert api.get(f"/refunds/{refund['id']}").json()["status"] == "refunding"
    assert RefundPayout.objects.get().status == payout_status
    assert not Journal.objects.filter(kind="refund").exists()


def outcomes():
    return list(PaymentNotification.objects.filter(kind="refund").order_by("id").values_list("outcome", flat=True))


def test_a_signed_notification_dated_1970_for_a_refund_never_sent_pays_nothing(bought, api_as, reviewer):
    api, refund = approved_alipay_refund(bought, api_as, reviewer)
    payout = RefundPayout.objects.get()
    assert payout.status == "pending" and not SandboxGatewayRefund.objects.exists()  # never sent
    for path in (PATH, "/api/v1/payments/refund-notify/sandbox"):
        response = api.client.post(path, forged(payout))
        assert response.status_code == 400 and response.json()["error"]["code"] == "STALE_NOTIFICATION"
    assert_nothing_paid(api, refund, "pending")
    assert outcomes() == ["STALE_NOTIFICATION", "STALE_NOTIFICATION"]


def test_a_fresh_notification_for_a_refund_never_sent_pays_nothing(bought, api_as, reviewer):
    from kameng.core import clock

    api, refund = approved_alipay_refund(bought, api_as, reviewer)
    payout = RefundPayout.objects.get()
    response = api.client.post(PATH, forged(payout, ts=str(int(clock.now().timestamp()))))
    assert response.status_code == 409 and response.json()["error"]["code"] == "PAYOUT_NOT_SENT"
    assert_nothing_paid(api, refund, "pending")
    assert outcomes() == ["PAYOUT_NOT_SENT"]


@pytest.mark.parametrize("change, status, code", [
    ({"refund_ref": "SBR-INVENTED"}, 400, "REFUND_REF_MISMATCH"),
    ({"amount": "0.01"}, 400, "AMOUNT_MISMATCH"),
    ({"request_no": "RF-NOT-OURS"}, 404, "PAYOUT_NOT_FOUND"),
    ({"ts": "1000000000"}, 400, "STALE_NOTIFICATION"),
    ({"status": "REFUND_CLOSED"}, 400, "UNSUPPORTED_STATUS"),
    ({"sign": "0" * 64}, 400, "BAD_SIGNATURE"),
])
def test_a_notification_that_does_not_match_the_refund_we_sent_changes_nothing(
        bought, api_as, reviewer, change, status, code):
    api, refund = approved_alipay_refund(bought, api_as, reviewer)
    run_queued_tasks()  # the payout is sent; the gateway gave us its reference
    fields = {**sandbox_refunds.notification_for(SandboxGatewayRefund.objects.get()), **change}
    if "sign" not in change:
        fields["sign"] = sandbox.sign(fields)
    response = api.client.post(PATH, fields)
    assert response.status_code == status and response.json()["error"]["code"] == code
    assert_nothing_paid(api, refund, "sent")
    assert outcomes() == [code]
    assert "sign" not in PaymentNotification.objects.get(kind="refund").fields


def test_the_gateways_own_notification_completes_the_refund_once_and_is_recorded(bought, api_as, reviewer, advance):
    api, refund = approved_alipay_refund(bought, api_as, reviewer)
    run_queued_tasks()
    fields = sandbox_refunds.notification_for(SandboxGatewayRefund.objects.get())
    assert api.client.post(PATH, fields).status_code == 200
    again = api.client.post(PATH, fields)
    assert again.status_code == 409 and again.json()["error"]["code"] == "ALREADY_PROCESSED"
    assert api.get(f"/refunds/{refund['id']}").json()["status"] == "refunded"
    assert Journal.objects.filter(kind="refund").count() == 1
    assert outcomes() == ["ACCEPTED", "ALREADY_PROCESSED"]
    assert PaymentNotification.objects.filter(kind="refund").first().fields["request_no"] == fields["request_no"]


def test_hostile_bytes_in_a_refund_notification_are_refused_and_recorded(bought, api_as, reviewer):
    api, refund = approved_alipay_refund(bought, api_as, reviewer)
    run_queued_tasks()
    fields = {**sandbox_refunds.notification_for(SandboxGatewayRefund.objects.get()), "refund_ref": "SBR\x00"}
    response = api.client.post(PATH, fields)
    assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_TEXT"
    assert_nothing_paid(api, refund, "sent")
    assert outcomes() == ["INVALID_TEXT"] and PaymentNotification.objects.get(kind="refund").fields["refund_ref"] == "SBR\ufffd"


def test_the_sandbox_gateway_stops_at_already_processed_and_backs_off_after_a_refusal(bought, api_as, reviewer):
    """Each delivery is an audit row now: the sandbox gateway must not knock every worker round for ever."""
    from datetime import timedelta

    from kameng.aftersales.payouts import refund_notification_receive
    from kameng.core import clock
    from kameng.payments.errors import BadNotification

    api, refund = approved_alipay_refund(bought, api_as, reviewer)
    run_queued_tasks()
    row = SandboxGatewayRefund.objects.get()
    SandboxGatewayRefund.objects.filter(id=row.id).update(completes_at=clock.now() - timedelta(minutes=1))
    # The refund was settled another way first (here: the same notification, posted by hand).
    assert api.client.post(PATH, sandbox_refunds.notification_for(row)).status_code == 200
    assert sandbox_refunds.send_due(refund_notification_receive) == 1  # "already processed" is an answer
    assert sandbox_refunds.send_due(refund_notification_receive) == 0
    assert outcomes() == ["ACCEPTED", "ALREADY_PROCESSED"]

    SandboxGatewayRefund.objects.filter(id=row.id).update(notified_at=None)
    calls = []

    def refusing(fields):
        calls.append(fields)
        raise BadNotification("refused")

    for _ in range(5):
        sandbox_refunds.send_due(refusing)
    assert len(calls) == 1  # then it waits a minute, then 2, 4 … at most a day
    row = SandboxGatewayRefund.objects.get()
    assert row.notify_attempts == 1 and row.next_notify_at > clock.now()
    assert sandbox_refunds.retry_delay(3) == timedelta(minutes=4)
    assert sandbox_refunds.retry_delay(30) == timedelta(days=1)
