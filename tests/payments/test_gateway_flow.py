"""The platform with real gateways (sandbox off), against the fake Alipay and WeChat Pay over real HTTP.

Orders get a signed pay URL or a QR code; the gateway's notification pays them once; a lost one is
recovered by the query; refunds go back on the original path once, whatever is retried or repeated.
After every test the book balances (the suite's autouse check).
"""

from datetime import timedelta
from urllib.parse import parse_qsl, urlencode

import pytest

from kameng.aftersales import payouts
from kameng.aftersales.models import RefundPayout
from kameng.core import clock
from kameng.core.deadlines import process_due
from kameng.core.worker import run_queued_tasks
from kameng.ledger.models import Journal
from kameng.orders.models import Order
from kameng.payments.models import Payment, PaymentNotification

from ..aftersales.conftest import ask
from .fakes.common import Modes

ALIPAY_NOTIFY = "/api/v1/payments/notify/alipay"
WECHAT_NOTIFY = "/api/v1/payments/notify/wechat"
FORM = "application/x-www-form-urlencoded; charset=utf-8"


@pytest.fixture
def production(settings, monkeypatch):
    """KAMENG_SANDBOX=0: only what is configured is offered."""
    settings.KAMENG_SANDBOX = False
    monkeypatch.setenv("KAMENG_PUBLIC_URL", "https://shop.example")


def _order(api, product, channel, device=None):
    path = "/orders" + (f"?device={device}" if device else "")
    return api.post(path, {"product_id": product.id, "quantity": 1, "channel": channel, "accept_terms": True})


def _notify_alipay(client, body: bytes):
    return client.post(ALIPAY_NOTIFY, data=body, content_type=FORM)


def _notify_wechat(client, body: str, headers: dict):
    return client.post(WECHAT_NOTIFY, data=body, content_type="application/json", headers=headers)


def test_only_configured_channels_are_offered(production, alipay_env, api_as, buyer, make_product):
    answer = api_as(None).get("/payment-channels").json()
    assert answer == [{"channel": "alipay", "available": True}, {"channel": "wechat", "available": False},
                      {"channel": "bank", "available": False}, {"channel": "wallet", "available": True}]
    product = make_product(keys=1)
    for channel in ("wechat", "bank"):
        refused = _order(api_as(buyer), product, channel)
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "CHANNEL_UNAVAILABLE"
    recharge = api_as(buyer).post("/wallet/recharge", {"amount": "10.00", "channel": "bank"})
    assert recharge.status_code == 422 and recharge.json()["error"]["code"] == "CHANNEL_UNAVAILABLE"
    assert not Order.objects.exists() and not Payment.objects.exists()
    assert api_as(None).get(f"/products/{product.id}").json()["stock"] == 1  # nothing held by a refused order


def test_alipay_pay_url_notification_delivers_once_over_real_http(
        production, alipay_env, live_server, monkeypatch, api_as, buyer, make_product):
    """The whole path over HTTP: our signed pay URL, the buyer at the fake cashier, its notification to us."""
    monkeypatch.setenv("KAMENG_PUBLIC_URL", live_server.url)
    api = api_as(buyer)
    created = _order(api, make_product(keys=2), "alipay")
    assert created.status_code == 201, created.content
    payment = created.json()["payment"]
    assert payment["pay_url"].startswith(alipay_env.gateway + "?") and payment["expires_at"]
    params = dict(parse_qsl(payment["pay_url"].split("?", 1)[1]))
    assert params["notify_url"] == live_server.url + ALIPAY_NOTIFY

    import urllib.request

    urllib.request.urlopen(payment["pay_url"], timeout=5).read()  # the buyer's browser at the cashier
    body = alipay_env.pay(payment["payment_no"])  # the buyer pays; Alipay posts its notification to us
    assert alipay_env.delivered == [(200, b"success")]
    order = api.get(f"/orders/{created.json()['order_no']}").json()
    assert order["status"] == "delivered" and order["payment"]["status"] == "succeeded"

    from .fakes.common import post

    again = post(live_server.url + ALIPAY_NOTIFY, body, {"Content-Type": FORM})  # Alipay repeats itself
    assert again == (200, b"success")
    assert Journal.objects.filter(payment__isnull=False).count() == 1


def test_forged_tampered_or_foreign_alipay_notifications_change_nothing(
        production, alipay_env, api_as, buyer, make_product):
    api = api_as(buyer)
    created = _order(api, make_product(keys=1), "alipay", device="qr").json()
    assert created["payment"]["code_url"].startswith("https://qr.alipay.com/")
    no = created["payment"]["payment_no"]
    body = alipay_env.pay(no, deliver=False)
    fields = dict(parse_qsl(body.decode()))
    bad = [
        urlencode({**fields, "total_amount": "0.01"}).encode(),  # tampered
        urlencode({**fields, "sign": fields["sign"][::-1]}).encode(),  # forged
        urlencode(alipay_env.sign_notification({**fields, "app_id": "2021000000000999"})).encode(),  # another app
        urlencode(alipay_env.sign_notification({**fields, "total_amount": "abc"})).encode(),  # not an amount
        urlencode(alipay_env.sign_notification({**fields, "total_amount": "0.01"})).encode(),  # signed, wrong amount
        b"\x00\xff garbage",
    ]
    for forged in bad:
        answer = _notify_alipay(api.client, forged)
        assert answer.status_code == 400 and answer.content == b"fail"
    assert Payment.objects.get(payment_no=no).status == "pending"
    outcomes = list(PaymentNotification.objects.filter(gateway="alipay").order_by("pk").values_list("outcome", flat=True))
    assert outcomes == ["BAD_SIGNATURE", "BAD_SIGNATURE", "WRONG_APP", "MALFORMED", "AMOUNT_MISMATCH", "MALFORMED"]
    assert not any("sign" in f for f in PaymentNotification.objects.values_list("fields", flat=True))
    assert _notify_alipay(api.client, body).content == b"success"
    assert api.get(f"/orders/{created['order_no']}").json()["status"] == "delivered"


def test_a_lost_notification_is_recovered_before_the_order_expires(production, alipay_env, api_as, buyer, make_product):
    api = api_as(buyer)
    created = _order(api, make_product(keys=1), "alipay", device="qr").json()
    alipay_env.drop_notifications = True
    alipay_env.pay(created["payment"]["payment_no"])  # paid at the last second; nothing reaches us
    # Its deadline passes (the order and payment expire together).
    past = clock.now() - timedelta(seconds=1)
    Order.objects.filter(order_no=created["order_no"]).update(expires_at=past)
    Payment.objects.filter(payment_no=created["payment"]["payment_no"]).update(expires_at=past)
    done = process_due()
    assert done["payments_recovered"] == 1 and done["orders_expired"] == 0
    assert api.get(f"/orders/{created['order_no']}").json()["status"] == "delivered"


def test_an_unpaid_alipay_order_expires_after_the_gateway_is_asked(production, alipay_env, api_as, buyer, make_product):
    api = api_as(buyer)
    created = _order(api, make_product(keys=1), "alipay", device="qr").json()
    past = clock.now() - timedelta(seconds=1)
    Order.objects.filter(order_no=created["order_no"]).update(expires_at=past)
    Payment.objects.filter(payment_no=created["payment"]["payment_no"]).update(expires_at=past)
    assert process_due()["orders_expired"] == 1
    assert sum("alipay.trade.query" in path for _, path in alipay_env.requests) == 1
    assert process_due()["payments_recovered"] == 0  # asked once, not every round


def _refunded_order(api, api_as, reviewer, fake_pay, product, channel, notify):
    created = _order(api, product, channel, device="qr").json()
    notify(created["payment"]["payment_no"])
    order = api.get(f"/orders/{created['order_no']}").json()
    assert order["status"] == "delivered"
    api.post(f"/orders/{order['order_no']}/reveal")
    refund = ask(api, order, "invalid_key").json()
    approved = api_as(reviewer).post(f"/staff/refunds/{refund['id']}/approve", {"note": "卡密无效，同意退款"})
    assert approved.status_code == 200, approved.content
    return order, refund


def test_alipay_refund_goes_back_on_the_original_path_once(production, alipay_env, api_as, buyer, reviewer, make_product):
    api = api_as(buyer)

    def pay(no):
        assert _notify_alipay(api.client, alipay_env.pay(no, deliver=False)).content == b"success"

    order, refund = _refunded_order(api, api_as, reviewer, alipay_env, make_product(keys=2), "alipay", pay)
    run_queued_tasks()  # the payout job calls alipay.trade.refund; Alipay answers fund_change=Y
    assert api.get(f"/refunds/{refund['id']}").json()["status"] == "refunded"
    assert api.get(f"/orders/{order['order_no']}").json()["status"] == "refunded"
    payout = RefundPayout.objects.get()
    assert list(alipay_env.refunds) == [(order["payment"]["payment_no"], payout.request_no)]
    payouts.payouts_reconcile()  # nothing left to do, nothing paid twice
    payouts.payout_send(payout_id=payout.id)
    assert alipay_env.refund_calls == 1 and Journal.objects.filter(kind="refund").count() == 1


def test_alipay_refund_whose_answer_was_lost_is_settled_by_the_query(
        production, alipay_env, api_as, buyer, reviewer, make_product):
    api = api_as(buyer)

    def pay(no):
        _notify_alipay(api.client, alipay_env.pay(no, deliver=False))

    _, refund = _refunded_order(api, api_as, reviewer, alipay_env, make_product(keys=2), "alipay", pay)
    alipay_env.mode = Modes.LATE  # Alipay refunds, but its answer never reaches us
    run_queued_tasks()
    payout = RefundPayout.objects.get()
    assert payout.status == "pending" and len(alipay_env.refunds) == 1
    alipay_env.mode = Modes.NORMAL
    alipay_env.release.set()
    RefundPayout.objects.filter(id=payout.id).update(created_at=clock.now() - timedelta(minutes=3))
    payouts.payouts_reconcile()  # asks alipay.trade.fastpay.refund.query about the request number
    assert api.get(f"/refunds/{refund['id']}").json()["status"] == "refunded"
    assert [r["amount_fen"] for r in alipay_env.refunds.values()] == [payout.amount_fen]
    assert Journal.objects.filter(kind="refund").count() == 1


def test_alipay_refund_that_timed_out_before_reaching_alipay_is_sent_again_once(
        production, alipay_env, api_as, buyer, reviewer, make_product):
    api = api_as(buyer)

    def pay(no):
        _notify_alipay(api.client, alipay_env.pay(no, deliver=False))

    _, refund = _refunded_order(api, api_as, reviewer, alipay_env, make_product(keys=2), "alipay", pay)
    alipay_env.mode = Modes.TIMEOUT
    run_queued_tasks()
    assert RefundPayout.objects.get().status == "pending" and not alipay_env.refunds
    alipay_env.mode = Modes.NORMAL
    alipay_env.release.set()
    RefundPayout.objects.update(created_at=clock.now() - timedelta(minutes=3))
    payouts.payouts_reconcile()
    payouts.payouts_reconcile()
    assert api.get(f"/refunds/{refund['id']}").json()["status"] == "refunded"
    assert len(alipay_env.refunds) == 1 and Journal.objects.filter(kind="refund").count() == 1


# ---- WeChat Pay ----------------------------------------------------------------------------------


def test_wechat_native_order_paid_by_its_encrypted_notification(production, wechat_env, api_as, buyer, make_product):
    api = api_as(buyer)
    created = _order(api, make_product(keys=1), "wechat")
    assert created.status_code == 201, created.content
    payment = created.json()["payment"]
    assert payment["code_url"].startswith("weixin://wxpay/bizpayurl") and "pay_url" not in payment
    body, headers = wechat_env.pay(payment["payment_no"], deliver=False)
    stale = {**headers, "Wechatpay-Timestamp": str(int(headers["Wechatpay-Timestamp"]) - 600)}
    assert _notify_wechat(api.client, body, stale).status_code == 401
    forged = {**headers, "Wechatpay-Signature": headers["Wechatpay-Signature"][:-8] + "AAAAAAA="}
    assert _notify_wechat(api.client, body, forged).status_code == 401
    assert _notify_wechat(api.client, "{not json", wechat_env.signed_headers("{not json")).status_code == 400
    assert Payment.objects.get().status == "pending"
    assert _notify_wechat(api.client, body, headers).status_code == 204
    assert _notify_wechat(api.client, body, headers).status_code == 204  # replayed: taken once
    assert api.get(f"/orders/{created.json()['order_no']}").json()["status"] == "delivered"
    assert Journal.objects.filter(payment__isnull=False).count() == 1


def test_wechat_h5_for_a_phone(production, wechat_env, api_as, buyer, make_product):
    api = api_as(buyer)
    api.headers["User-Agent"] = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148"
    payment = _order(api, make_product(keys=1), "wechat").json()["payment"]
    assert payment["pay_url"].startswith("https://wx.tenpay.com/") and "code_url" not in payment


def test_wechat_refund_settles_from_its_notification_once(production, wechat_env, api_as, buyer, reviewer, make_product):
    api = api_as(buyer)

    def pay(no):
        assert _notify_wechat(api.client, *wechat_env.pay(no, deliver=False)).status_code == 204

    _, refund = _refunded_order(api, api_as, reviewer, wechat_env, make_product(keys=2), "wechat", pay)
    run_queued_tasks()  # WeChat Pay accepts the refund: PROCESSING
    payout = RefundPayout.objects.get()
    assert payout.status == "sent" and payout.gateway_ref.startswith("5030")
    body, headers = wechat_env.complete_refund(payout.request_no, deliver=False)
    assert _notify_wechat(api.client, body, headers).status_code == 204
    assert _notify_wechat(api.client, body, headers).status_code == 204  # duplicated notification
    assert api.get(f"/refunds/{refund['id']}").json()["status"] == "refunded"
    assert wechat_env.refund_calls == 1 and Journal.objects.filter(kind="refund").count() == 1


def test_wechat_refund_whose_notification_never_came_is_settled_by_the_query(
        production, wechat_env, api_as, buyer, reviewer, make_product):
    api = api_as(buyer)

    def pay(no):
        _notify_wechat(api.client, *wechat_env.pay(no, deliver=False))

    _, refund = _refunded_order(api, api_as, reviewer, wechat_env, make_product(keys=2), "wechat", pay)
    run_queued_tasks()
    payout = RefundPayout.objects.get()
    wechat_env.complete_refund(payout.request_no, deliver=False)  # the notification is lost
    payouts.payouts_reconcile()
    assert api.get(f"/refunds/{refund['id']}").json()["status"] == "refunding"  # not asked yet: too soon
    RefundPayout.objects.update(sent_at=clock.now() - timedelta(minutes=6))
    payouts.payouts_reconcile()
    assert api.get(f"/refunds/{refund['id']}").json()["status"] == "refunded"
    assert Journal.objects.filter(kind="refund").count() == 1


def test_with_the_sandbox_off_its_secret_moves_no_money(production, alipay_env, api_as, buyer, make_product):
    from kameng.payments.gateways import sandbox

    api = api_as(buyer)
    created = _order(api, make_product(keys=1), "alipay", device="qr").json()
    no = created["payment"]["payment_no"]
    fields = sandbox.notification_for(payment_no=no, amount=created["amount"])  # signed with the data dir's secret
    refused = api.client.post("/api/v1/payments/notify/sandbox", fields)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "SANDBOX_OFF"
    assert api.post(f"/sandbox/payments/{no}/pay").status_code == 404
    assert Payment.objects.get(payment_no=no).status == "pending"


def test_a_wallet_recharge_through_alipay(production, alipay_env, api_as, buyer):
    api = api_as(buyer)
    created = api.post("/wallet/recharge?device=qr", {"amount": "50.00", "channel": "alipay"})
    assert created.status_code == 201, created.content
    assert created.json()["code_url"].startswith("https://qr.alipay.com/") and created.json()["expires_at"]
    assert _notify_alipay(api.client, alipay_env.pay(created.json()["payment_no"], deliver=False)).content == b"success"
    assert api.get("/wallet").json()["balance"] == "50.00"


def test_the_sandbox_never_pays_a_payment_opened_at_alipay(settings, alipay_env, api_as, buyer, make_product):
    settings.KAMENG_SANDBOX = True  # a demo with real Alipay credentials: alipay is the real one
    api = api_as(buyer)
    created = _order(api, make_product(keys=1), "alipay", device="qr").json()
    assert created["payment"]["code_url"].startswith("https://qr.alipay.com/")
    assert api.post(f"/sandbox/payments/{created['payment']['payment_no']}/pay").status_code == 404
    from kameng.payments.gateways import sandbox

    forged = sandbox.notification_for(payment_no=created["payment"]["payment_no"], amount=created["amount"])
    assert api.client.post("/api/v1/payments/notify/sandbox", forged).status_code == 404
    assert Payment.objects.get().status == "pending"


def test_alipay_refund_notification_settles_a_refund_whose_answer_was_lost(
        production, alipay_env, api_as, buyer, reviewer, make_product):
    """Alipay's notice names the request (out_biz_no) but not its amount: the query says how much, once."""
    api = api_as(buyer)

    def pay(no):
        _notify_alipay(api.client, alipay_env.pay(no, deliver=False))

    order, refund = _refunded_order(api, api_as, reviewer, alipay_env, make_product(keys=2), "alipay", pay)
    alipay_env.mode = Modes.LATE
    run_queued_tasks()
    alipay_env.mode = Modes.NORMAL
    alipay_env.release.set()
    payout = RefundPayout.objects.get()
    assert payout.status == "pending"
    notice = urlencode(alipay_env.notification(order["payment"]["payment_no"], out_biz_no=payout.request_no,
                                               refund_fee="10.00", gmt_refund="2026-11-23 12:00:00.000")).encode()
    assert _notify_alipay(api.client, notice).content == b"success"
    assert _notify_alipay(api.client, notice).content == b"success"  # repeated: nothing more
    assert api.get(f"/refunds/{refund['id']}").json()["status"] == "refunded"
    assert Journal.objects.filter(kind="refund").count() == 1 and len(alipay_env.refunds) == 1
    forged = urlencode({**dict(parse_qsl(notice.decode())), "out_biz_no": "RF-SOMEONE-ELSE"}).encode()
    assert _notify_alipay(api.client, forged).status_code == 400


def test_a_gateway_that_cannot_answer_is_asked_once_a_round_and_again_later(
        production, alipay_env, api_as, buyer, make_product):
    api = api_as(buyer)
    product = make_product(keys=2)
    created = [_order(api, product, "alipay", device="qr").json() for _ in range(2)]
    past = clock.now() - timedelta(seconds=1)
    for order in created:
        alipay_env.pay(order["payment"]["payment_no"], deliver=False)  # paid; the notifications are lost
        Order.objects.filter(order_no=order["order_no"]).update(expires_at=past)
        Payment.objects.filter(payment_no=order["payment"]["payment_no"]).update(expires_at=past)
    alipay_env.mode = Modes.TIMEOUT
    done = process_due()
    assert done["payments_recovered"] == 0 and done["orders_expired"] == 2
    assert sum("alipay.trade.query" in path for _, path in alipay_env.requests) == 1  # not once per payment
    alipay_env.mode = Modes.NORMAL
    alipay_env.release.set()
    assert process_due()["payments_recovered"] == 2  # the next round asks again: the money is not lost
    assert {api.get(f"/orders/{o['order_no']}").json()["status"] for o in created} == {"delivered"}
    assert Journal.objects.filter(payment__isnull=False).count() == 2
