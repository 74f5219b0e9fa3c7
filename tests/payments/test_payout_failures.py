"""A refund the gateway refuses or gives up: failed once, never retried by itself, buyer and finance told,
and finance pays it once — to the wallet or on the original path — with the book balanced throughout.

Against the fake Alipay and WeChat Pay over real HTTP (see test_gateway_flow.py).
"""

from datetime import timedelta

import pytest

from kameng.aftersales import payouts
from kameng.aftersales.models import RefundPayout
from kameng.core import clock
from kameng.core.deadlines import process_due
from kameng.core.worker import run_queued_tasks
from kameng.ledger.models import Journal
from kameng.ledger.selectors import book_check
from kameng.notifications.models import InboxMessage

from .test_gateway_flow import _notify_alipay, _notify_wechat, _refunded_order, production  # noqa: F401


@pytest.fixture
def finance(make_user):
    return make_user("finance")


def _retry(api, payout_id, destination):
    return api.post(f"/finance/payouts/{payout_id}/retry", {"destination": destination})


def _refused_alipay_refund(api_as, buyer, reviewer, alipay_env, make_product):
    api = api_as(buyer)

    def pay(no):
        assert _notify_alipay(api.client, alipay_env.pay(no, deliver=False)).content == b"success"

    order, refund = _refunded_order(api, api_as, reviewer, alipay_env, make_product(keys=2), "alipay", pay)
    alipay_env.trades[order["payment"]["payment_no"]]["status"] = "TRADE_FINISHED"  # Alipay will refuse it
    run_queued_tasks()
    return api, order, refund


def test_a_refused_refund_fails_once_is_not_retried_and_people_are_told(
        production, alipay_env, api_as, buyer, reviewer, finance, admin, make_product):  # noqa: F811
    api, order, refund = _refused_alipay_refund(api_as, buyer, reviewer, alipay_env, make_product)
    payout = RefundPayout.objects.get()
    assert payout.status == "failed" and payout.failure_code == "ACQ.TRADE_STATUS_ERROR"
    assert alipay_env.refund_calls == 1 and not alipay_env.refunds
    # Worker rounds later: the gateway is not asked again.
    RefundPayout.objects.update(created_at=clock.now() - timedelta(hours=1))
    payouts.payouts_reconcile()
    process_due()
    run_queued_tasks()
    payouts.payout_send(payout_id=payout.id)
    assert alipay_env.refund_calls == 1 and RefundPayout.objects.get().status == "failed"
    assert api.get(f"/refunds/{refund['id']}").json()["status"] == "refunding"
    told = InboxMessage.objects.filter(user=buyer, refund_id=refund["id"], body__contains="原路退回失败")
    assert told.count() == 1 and "钱包" in told.get().body
    for staff in (finance, admin):
        assert InboxMessage.objects.filter(user=staff, refund_id=refund["id"], title__contains="原路退款失败").count() == 1
    assert not InboxMessage.objects.filter(user=reviewer, title__contains="原路退款失败").exists()
    assert Journal.objects.filter(kind="refund").count() == 0 and book_check().ok


def test_finance_pays_a_failed_refund_to_the_wallet_once(
        production, alipay_env, api_as, buyer, reviewer, finance, make_product):  # noqa: F811
    api, order, refund = _refused_alipay_refund(api_as, buyer, reviewer, alipay_env, make_product)
    payout = RefundPayout.objects.get()
    before = api.get("/wallet").json()["balance"]
    assert _retry(api, payout.id, "wallet").status_code == 403  # the buyer cannot
    assert _retry(api_as(reviewer), payout.id, "wallet").status_code == 403
    assert _retry(api_as(finance), payout.id + 999, "wallet").status_code == 404
    bad = _retry(api_as(finance), payout.id, "cash")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "INVALID_DESTINATION"
    first = _retry(api_as(finance), payout.id, "wallet")
    assert first.status_code == 200, first.content
    assert first.json()["status"] == "succeeded" and first.json()["channel"] == "wallet"
    again = _retry(api_as(finance), payout.id, "wallet")  # a double click: nothing paid twice
    assert again.status_code == 200 and again.json()["status"] == "succeeded"
    assert _retry(api_as(finance), payout.id, "original").status_code == 409
    assert Journal.objects.filter(kind="refund").count() == 1
    paid = float(api.get("/wallet").json()["balance"]) - float(before)
    assert round(paid * 100) == payout.amount_fen
    assert api.get(f"/refunds/{refund['id']}").json()["status"] == "refunded"
    assert api.get(f"/orders/{order['order_no']}").json()["status"] == "refunded"
    assert alipay_env.refund_calls == 1
    assert api_as(finance).get("/finance/ledger").json()["balanced"] is True


def test_a_refund_wechat_gives_up_fails_and_is_paid_again_on_the_original_path(
        production, wechat_env, api_as, buyer, reviewer, finance, make_product):  # noqa: F811
    api = api_as(buyer)

    def pay(no):
        assert _notify_wechat(api.client, *wechat_env.pay(no, deliver=False)).status_code == 204

    _, refund = _refunded_order(api, api_as, reviewer, wechat_env, make_product(keys=2), "wechat", pay)
    run_queued_tasks()
    payout = RefundPayout.objects.get()
    assert payout.status == "sent"
    assert _retry(api_as(finance), payout.id, "original").status_code == 409  # not failed: nothing to retry
    body, headers = wechat_env.complete_refund(payout.request_no, status="ABNORMAL", deliver=False)
    assert _notify_wechat(api.client, body, headers).status_code == 204
    assert _notify_wechat(api.client, body, headers).status_code == 204  # repeated: failed once
    payout.refresh_from_db()
    assert payout.status == "failed"
    assert InboxMessage.objects.filter(user=buyer, body__contains="原路退回失败").count() == 1
    old_no = payout.request_no
    wechat_env.refunds.pop(old_no)  # WeChat would not take the abnormal number again; a new one is used
    answer = _retry(api_as(finance), payout.id, "original")
    assert answer.status_code == 200 and answer.json()["status"] == "pending", answer.content
    assert _retry(api_as(finance), payout.id, "original").status_code == 200  # repeated: one request
    run_queued_tasks()
    payout.refresh_from_db()
    assert payout.status == "sent" and payout.request_no != old_no and wechat_env.refund_calls == 2
    body, headers = wechat_env.complete_refund(payout.request_no, deliver=False)
    assert _notify_wechat(api.client, body, headers).status_code == 204
    assert api.get(f"/refunds/{refund['id']}").json()["status"] == "refunded"
    assert Journal.objects.filter(kind="refund").count() == 1 and book_check().ok
