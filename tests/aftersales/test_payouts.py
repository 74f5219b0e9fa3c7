from unittest import mock

from kameng.aftersales import payouts
from kameng.aftersales.models import RefundPayout
from kameng.core.worker import run_queued_tasks
from kameng.ledger.models import Journal
from kameng.ledger.selectors import book_check
from kameng.payments.gateways import sandbox_refunds
from kameng.payments.models import SandboxGatewayRefund

from .conftest import ask


def approved_alipay_refund(bought, api_as, reviewer):
    api, order = bought(channel="alipay", reveal=True)
    refund = ask(api, order, "invalid_key").json()
    api_as(reviewer).post(f"/staff/refunds/{refund['id']}/approve", {"note": "ok"})
    return api, refund


def test_the_payout_row_is_committed_before_the_gateway_is_called(bought, api_as, reviewer):
    api, refund = approved_alipay_refund(bought, api_as, reviewer)
    payout = RefundPayout.objects.get()
    assert payout.status == "pending" and payout.request_no.startswith("RF")
    assert not SandboxGatewayRefund.objects.exists()  # the gateway is called by the job, after the commit
    run_queued_tasks()
    payout.refresh_from_db()
    assert payout.status == "sent" and SandboxGatewayRefund.objects.get().request_no == payout.request_no


def test_a_crash_after_the_gateway_call_is_repaired_without_a_second_refund(bought, api_as, reviewer, advance):
    api, refund = approved_alipay_refund(bought, api_as, reviewer)
    payout = RefundPayout.objects.get()
    # The gateway accepts the refund, then our process dies before recording it.
    real_update = RefundPayout.objects.filter

    def crash(*args, **kwargs):
        raise RuntimeError("process killed")

    with mock.patch.object(payouts.RefundPayout.objects, "filter", side_effect=crash):
        try:
            payouts.payout_send(payout_id=payout.id)
        except RuntimeError:
            pass
    assert SandboxGatewayRefund.objects.count() == 1
    assert real_update(id=payout.id).get().status == "pending"
    advance(1)  # reconciliation finds the gateway's record; the gateway completes and notifies once
    assert SandboxGatewayRefund.objects.count() == 1
    assert api.get(f"/refunds/{refund['id']}").json()["status"] == "refunded"
    assert Journal.objects.filter(kind="refund").count() == 1
    assert book_check().ok


def test_a_retried_send_reuses_the_request_number(bought, api_as, reviewer):
    approved_alipay_refund(bought, api_as, reviewer)
    payout = RefundPayout.objects.get()
    first = sandbox_refunds.refund(request_no=payout.request_no, payment_no="x", channel="alipay", amount_fen=1000)
    again = sandbox_refunds.refund(request_no=payout.request_no, payment_no="x", channel="alipay", amount_fen=1000)
    assert first == again and SandboxGatewayRefund.objects.count() == 1


def test_the_refund_notification_is_signed_matched_and_deduplicated(bought, api_as, reviewer, advance):
    api, refund = approved_alipay_refund(bought, api_as, reviewer)
    run_queued_tasks()
    row = SandboxGatewayRefund.objects.get()
    fields = sandbox_refunds.notification_for(row)
    forged = {**fields, "amount": "999.00"}
    assert api.client.post("/api/v1/payments/refund-notify/sandbox", forged).json()["error"]["code"] == "BAD_SIGNATURE"
    assert api.client.post("/api/v1/payments/refund-notify/sandbox", fields).status_code == 200
    again = api.client.post("/api/v1/payments/refund-notify/sandbox", fields)
    assert again.status_code == 409 and again.json()["error"]["code"] == "ALREADY_PROCESSED"
    assert Journal.objects.filter(kind="refund").count() == 1
    assert api.get(f"/refunds/{refund['id']}").json()["status"] == "refunded"


def test_expected_arrival_follows_the_channel(bought, api_as, reviewer):
    from datetime import datetime

    api, refund = approved_alipay_refund(bought, api_as, reviewer)
    detail = api.get(f"/refunds/{refund['id']}").json()
    submitted = datetime.fromisoformat(detail["submitted_at"])
    arrival = datetime.fromisoformat(detail["expected_arrival_by"])
    assert 2 <= (arrival - submitted).days <= 12  # two working days, holidays included


def test_a_partial_approval_on_an_undelivered_order_leaves_nothing_in_escrow(api_as, buyer, make_product, fund_wallet,
                                                                            reviewer, supplier):
    """The buyer gets exactly what was approved; the rest goes to the supplier (less commission), none stays in escrow."""
    from kameng.core import clock
    from kameng.ledger.services import Accounts, balance

    # A reviewed refund on an undelivered order: a top-up still unsent a day later (the worker was down) —
    # cancelling before delivery would be free and instant, so it is asked as not received.
    product = make_product(kind="topup", price="10.00")
    fund_wallet(buyer, 1000)
    api = api_as(buyer)
    order = api.post("/orders", {"product_id": product.id, "quantity": 1, "channel": "wallet", "accept_terms": True,
                                 "recharge_account": "13800138000"}).json()
    clock.advance(seconds=25 * 3600)
    refund = ask(api, order, "topup_not_received", "已经过了一天，手机号 13800138000 仍未收到话费。",
                 destination="wallet").json()
    assert refund["status"] == "submitted", refund
    assert balance(Accounts.ESCROW).fen == 1000 and balance(Accounts.wallet(buyer.id)).fen == 0
    answer = api_as(reviewer).post(f"/staff/refunds/{refund['id']}/approve", {"amount": "1.00", "fee": "0.00", "note": "部分"})
    assert answer.status_code == 200, answer.content
    detail = api.get(f"/orders/{order['order_no']}").json()
    assert detail["status"] == "refunded" and {i["status"] for i in detail["items"]} == {"refunded"}
    assert balance(Accounts.wallet(buyer.id)).fen == 100  # exactly the approved amount
    assert balance(Accounts.ESCROW).fen == 0  # a closed order holds nothing in escrow
    assert balance(Accounts.payable(supplier.id)).fen + balance(Accounts.COMMISSION).fen == 900
    assert book_check().ok
