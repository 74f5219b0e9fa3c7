"""Cancelling before delivery (Taobao's 未发货仅退款): a paid order nothing of which was handed over yet — a manual
product waiting for its supplier, a backorder waiting for stock, a top-up still queued — is refunded in full at
once, without a fee or a review, by `POST /orders/{no}/cancel` or by `changed_mind` on its items. A top-up already
with the supplier and delivered keys keep today's rules."""

from django.test import Client

from kameng.core.worker import run_queued_tasks
from kameng.ledger.services import Accounts, balance
from kameng.orders.models import SandboxSupplierTopup, TopupDispatch

from ..api.test_payments import notify, place, signed
from .conftest import ask

MIND = "不需要了，想取消这笔订单。"


def _order(api_as, buyer, fund_wallet, product, channel="wallet", **extra):
    fund_wallet(buyer, 10_000)
    api = api_as(buyer)
    body = {"product_id": product.id, "quantity": 1, "channel": channel, "accept_terms": True, **extra}
    order = api.post("/orders", body).json()
    if channel != "wallet":
        api.post(f"/sandbox/payments/{order['payment']['payment_no']}/pay")
    return api, api.get(f"/orders/{order['order_no']}").json()


def _only_refund(api):
    refunds = api.get("/refunds").json()
    assert len(refunds) == 1, refunds
    return api.get(f"/refunds/{refunds[0]['id']}").json()


def test_cancelling_a_paid_manual_order_refunds_it_all_at_once_without_a_fee(api_as, buyer, make_product, fund_wallet):
    product = make_product(is_manual=True, price="10.00", delivery_promise_minutes=60)
    api, order = _order(api_as, buyer, fund_wallet, product)
    assert order["status"] == "paid" and api.get("/wallet").json()["balance"] == "90.00"

    cancelled = api.post(f"/orders/{order['order_no']}/cancel")
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["status"] == "refunded" and cancelled.json()["refunded_amount"] == "10.00"
    assert api.get("/wallet").json()["balance"] == "100.00"
    refund = _only_refund(api)
    assert refund["reason"] == "changed_mind" and refund["fee"] == "0.00" and refund["refund_amount"] == "10.00"
    assert refund["status"] == "refunded"
    events = [e["event"] for e in refund["timeline"]]
    assert events[:2] == ["submitted", "approved"] and refund["timeline"][1]["actor"] == "system"
    assert balance(Accounts.ESCROW).fen == 0

    again = api.post(f"/orders/{order['order_no']}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "CANCEL_NOT_ALLOWED"
    assert len(api.get("/refunds").json()) == 1


def test_a_cancel_paid_by_a_gateway_goes_back_on_the_original_path(api_as, buyer, make_product, fund_wallet, advance):
    product = make_product(is_manual=True, price="10.00", delivery_promise_minutes=600)
    api, order = _order(api_as, buyer, fund_wallet, product, channel="alipay")
    cancelled = api.post(f"/orders/{order['order_no']}/cancel")
    assert cancelled.status_code == 200, cancelled.content
    refund = _only_refund(api)
    assert refund["status"] == "refunding" and refund["fee"] == "0.00" and refund["destination"] == "original"
    advance(1)  # the gateway's refund arrives
    assert _only_refund(api)["status"] == "refunded"
    assert api.get(f"/orders/{order['order_no']}").json()["status"] == "refunded"
    assert api.get("/wallet").json()["balance"] == "100.00"  # the wallet was never touched


def test_a_cancel_goes_to_the_buyers_default_refund_destination(api_as, buyer, make_product, fund_wallet):
    product = make_product(is_manual=True, price="10.00", delivery_promise_minutes=600)
    api, order = _order(api_as, buyer, fund_wallet, product, channel="alipay")
    assert api._call("patch", "/me", {"refund_destination": "wallet"}).status_code == 200
    assert api.post(f"/orders/{order['order_no']}/cancel").status_code == 200
    refund = _only_refund(api)
    assert refund["destination"] == "wallet" and refund["status"] == "refunded"
    assert api.get("/wallet").json()["balance"] == "110.00"  # paid by Alipay, refunded to the wallet at once


def test_changed_mind_on_an_undelivered_item_is_the_same_free_instant_refund(api_as, buyer, make_product,
                                                                              fund_wallet):
    product = make_product(is_manual=True, price="10.00", delivery_promise_minutes=60)
    api, order = _order(api_as, buyer, fund_wallet, product)
    options = {o["code"]: o for o in api.get(f"/orders/{order['order_no']}/refund-options").json()["reasons"]}
    assert options["changed_mind"]["eligible"] and options["changed_mind"]["fee_rate"] == "0.00"
    assert options["changed_mind"]["automatic"] is True and "不收手续费" in options["changed_mind"]["why"]
    refund = ask(api, order, "changed_mind", MIND, destination="wallet")
    assert refund.status_code == 201, refund.content
    assert refund.json()["status"] == "refunded" and refund.json()["fee"] == "0.00"
    assert api.get("/wallet").json()["balance"] == "100.00"


def test_a_backorder_waiting_for_stock_is_cancelled_for_free(api_as, buyer, make_user, admin, make_product,
                                                             fund_wallet):
    product = make_product(keys=1, price="10.00")
    api = api_as(buyer)
    late = place(api, product)
    api_as(admin).post("/sandbox/clock/advance", {"hours": 1})  # expired: its key goes back to stock
    rival = make_user("buyer")
    fund_wallet(rival, 1000)
    assert place(api_as(rival), product, channel="wallet")["status"] == "delivered"
    assert notify(api, signed(late)).status_code == 200  # paid anyway: waits for stock
    assert api.get(f"/orders/{late['order_no']}").json()["items"][0]["status"] == "pending"

    cancelled = api.post(f"/orders/{late['order_no']}/cancel")
    assert cancelled.status_code == 200, cancelled.content
    assert _only_refund(api)["fee"] == "0.00"
    api_as(admin).post("/sandbox/clock/advance", {"hours": 1})
    assert api.get(f"/orders/{late['order_no']}").json()["status"] == "refunded"
    api_as(product.supplier).post(f"/admin/products/{product.id}/keys", {"keys": ["RESTOCK-1"]})
    run_queued_tasks()  # the restock no longer goes to the cancelled order
    assert [i["status"] for i in api.get(f"/orders/{late['order_no']}").json()["items"]] == ["refunded"]
    assert api_as().get(f"/products/{product.id}").json()["stock"] == 1


def test_a_queued_top_up_cancelled_is_never_sent(api_as, buyer, make_product, fund_wallet):
    product = make_product(kind="topup", price="10.00", delivery_promise_minutes=10)
    api, order = _order(api_as, buyer, fund_wallet, product, recharge_account="13800138000")
    assert order["topup"]["status"] == "queued"  # the send job has not run yet
    cancelled = api.post(f"/orders/{order['order_no']}/cancel")
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["status"] == "refunded" and cancelled.json()["topup"]["status"] == "cancelled"
    run_queued_tasks()  # the send job runs after all: nothing to send
    assert TopupDispatch.objects.get(order__order_no=order["order_no"]).status == "cancelled"
    assert not SandboxSupplierTopup.objects.filter(order_no=order["order_no"]).exists()
    assert api.get("/wallet").json()["balance"] == "100.00"


def test_wrong_account_on_a_queued_top_up_is_free_too(api_as, buyer, make_product, fund_wallet):
    product = make_product(kind="topup", price="10.00", delivery_promise_minutes=10)
    api, order = _order(api_as, buyer, fund_wallet, product, recharge_account="13800138001")
    refund = ask(api, order, "wrong_account", "充值号码填错了，应该是 13800138000。", destination="wallet").json()
    assert refund["status"] == "refunded" and refund["fee"] == "0.00"


def test_a_top_up_already_with_the_supplier_cannot_be_cancelled(api_as, buyer, make_product, fund_wallet):
    product = make_product(kind="topup", price="10.00", delivery_promise_minutes=10)
    api, order = _order(api_as, buyer, fund_wallet, product, recharge_account="13800138000")
    run_queued_tasks()
    assert api.get(f"/orders/{order['order_no']}").json()["topup"]["status"] == "dispatched"
    refused = api.post(f"/orders/{order['order_no']}/cancel")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "CANCEL_NOT_ALLOWED"
    assert "上游" in refused.json()["error"]["message"]
    english = api.post(f"/orders/{order['order_no']}/cancel", headers={"Accept-Language": "en"}).json()
    assert "supplier" in english["error"]["message"] and "上游" not in english["error"]["message"]
    mind = ask(api, order, "changed_mind", MIND)
    assert mind.status_code == 409 and mind.json()["error"]["code"] == "REASON_NOT_ELIGIBLE"
    assert api.get("/refunds").json() == [] and api.get("/wallet").json()["balance"] == "90.00"
    assert api.get(f"/orders/{order['order_no']}").json()["status"] == "paid"


def test_delivered_keys_cannot_be_cancelled_and_keep_their_fee(api_as, buyer, make_product, fund_wallet):
    product = make_product(keys=3, price="10.00")
    api, order = _order(api_as, buyer, fund_wallet, product)
    assert order["status"] == "delivered"
    refused = api.post(f"/orders/{order['order_no']}/cancel")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "CANCEL_NOT_ALLOWED"
    assert "售后" in refused.json()["error"]["message"]
    options = {o["code"]: o for o in api.get(f"/orders/{order['order_no']}/refund-options").json()["reasons"]}
    assert options["changed_mind"]["fee_rate"] == "0.05"
    assert api.get("/refunds").json() == [] and api.get("/wallet").json()["balance"] == "90.00"


def test_someone_elses_order_is_404_and_a_retried_cancel_answers_the_same(api_as, buyer, make_user, make_product,
                                                                         fund_wallet):
    product = make_product(is_manual=True, price="10.00")
    api, order = _order(api_as, buyer, fund_wallet, product)
    stranger = api_as(make_user("buyer")).post(f"/orders/{order['order_no']}/cancel")
    assert stranger.status_code == 404
    first = api.post(f"/orders/{order['order_no']}/cancel", headers={"Idempotency-Key": "cancel-1"})
    retry = api.post(f"/orders/{order['order_no']}/cancel", headers={"Idempotency-Key": "cancel-1"})
    assert first.status_code == retry.status_code == 200 and first.json() == retry.json()
    assert len(api.get("/refunds").json()) == 1 and api.get("/wallet").json()["balance"] == "100.00"


def test_the_order_page_offers_the_cancel_with_a_confirmation_and_does_it(api_as, buyer, make_product, fund_wallet):
    product = make_product(is_manual=True, price="10.00")
    api, order = _order(api_as, buyer, fund_wallet, product)
    page = Client()
    page.force_login(buyer)
    html = page.get(f"/orders/{order['order_no']}/").content.decode()
    assert "取消订单" in html and "¥10.00 全额退回，不收手续费" in html and "确认取消订单" in html
    done = page.post(f"/orders/{order['order_no']}/cancel/", follow=True).content.decode()
    assert "订单已取消" in done and "确认取消订单" not in done
    assert api.get("/wallet").json()["balance"] == "100.00"


def test_the_order_page_offers_no_cancel_for_delivered_keys_or_a_top_up_with_the_supplier(
        api_as, buyer, make_product, fund_wallet):
    page = Client()
    page.force_login(buyer)
    _, keys = _order(api_as, buyer, fund_wallet, make_product(keys=2, price="10.00"))
    assert "确认取消订单" not in page.get(f"/orders/{keys['order_no']}/").content.decode()
    _, topup = _order(api_as, buyer, fund_wallet, make_product(kind="topup", price="10.00"),
                      recharge_account="13800138000")
    run_queued_tasks()
    assert "确认取消订单" not in page.get(f"/orders/{topup['order_no']}/").content.decode()
    refused = page.post(f"/orders/{topup['order_no']}/cancel/", follow=True).content.decode()
    assert "上游" in refused and "Cannot" not in refused


def test_the_policy_text_promises_the_free_cancel(api_as, make_product):
    product = make_product()
    text = api_as().get(f"/products/{product.id}").json()["refund_policy"]["text"]
    assert "发货前取消订单" in text and "不收手续费" in text
