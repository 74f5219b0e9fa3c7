"""The platform refunds its own failures without being asked: a failed top-up, an order it can never deliver,
an item still undelivered when its promise passes — once, to the buyer's default destination, and says so."""

import re
from datetime import timedelta

import pytest

from kameng.aftersales.models import Refund, RefundEvent
from kameng.aftersales.proactive import refund_if_due, refunds_proactive_due
from kameng.catalog.models import Product
from kameng.core import clock
from kameng.core.deadlines import process_due
from kameng.core.times import for_person
from kameng.core.worker import run_queued_tasks
from kameng.ledger.selectors import book_check
from kameng.notifications.models import InboxMessage, OutboxMessage
from kameng.orders.models import Order

from .conftest import ask

# A word of lower-case ASCII with an underscore, or a channel's code: what a person must never read.
CODE = re.compile(r"\b(?:[a-z]+_[a-z_]+|alipay|wechat|wallet|original|topup|refunding|refunded|system)\b")


def _order(api, product, channel="alipay", **extra):
    body = {"product_id": product.id, "quantity": extra.pop("quantity", 1), "channel": channel, "accept_terms": True,
            **extra}
    order = api.post("/orders", body)
    assert order.status_code == 201, order.content
    order = order.json()
    if channel != "wallet":
        assert api.post(f"/sandbox/payments/{order['payment']['payment_no']}/pay").status_code == 200
    return order


def _system_refunds(api):
    rows = api.get("/refunds").json()
    assert all(r["timeline"][0]["actor"] == "system" for r in rows), rows
    return rows


def _told(buyer, refund_id):
    """The buyer's 站内信 and SMS about the platform's refund: both there, in Chinese, no internal code."""
    inbox = InboxMessage.objects.get(user=buyer, refund_id=refund_id, title__startswith="平台主动退款")
    sms = [m.body for m in OutboxMessage.objects.filter(channel="sms", recipient=buyer.phone)
           if m.body.startswith("【卡盟】平台主动退款")]
    assert len(sms) == 1, sms
    for text in (inbox.title, inbox.body, sms[0]):
        assert not CODE.search(text), text
    return inbox.body


def _wallet(api):
    return api.get("/wallet").json()["balance"]


def test_a_failed_top_up_is_refunded_at_once_to_the_wallet_when_the_buyer_says_so(
        api_as, buyer, supplier, make_product, fund_wallet):
    api = api_as(buyer)
    changed = api._call("patch", "/me", {"refund_destination": "wallet"})
    assert changed.status_code == 200 and changed.json()["refund_destination"] == "wallet"
    order = _order(api, make_product(kind="topup", price="10.00"), recharge_account="13800138000")
    run_queued_tasks()  # sent to the supplier
    assert api_as(supplier).post(f"/sandbox/topups/{order['order_no']}/result", {"status": "failed"}).status_code == 200
    run_queued_tasks()  # the job committed with the failure: no clock moves

    [row] = _system_refunds(api)
    assert row["status"] == "refunded" and row["destination"] == "wallet" and row["refund_amount"] == "10.00"
    assert row["reason"] == "topup_not_received"
    assert _wallet(api) == "10.00"  # paid by Alipay, given back to the wallet as the buyer chose
    assert api.get(f"/orders/{order['order_no']}").json()["status"] == "refunded"
    body = _told(buyer, row["id"])
    assert "充值失败" in body and "¥10.00" in body and "钱包余额" in body and "即时到账" in body
    # One event, one SMS: the refund paid to the wallet at once is not announced a second time as "arrived".
    assert OutboxMessage.objects.filter(channel="sms", recipient=buyer.phone).count() == 1
    assert InboxMessage.objects.filter(user=buyer, refund_id=row["id"]).count() == 1
    assert book_check().ok


def test_a_failed_top_up_goes_back_on_the_original_path_by_default_with_its_arrival_date(
        api_as, buyer, supplier, make_product):
    api = api_as(buyer)
    assert api.get("/me").json()["refund_destination"] == "original"
    order = _order(api, make_product(kind="topup", price="10.00"), recharge_account="13800138000")
    run_queued_tasks()
    api_as(supplier).post(f"/sandbox/topups/{order['order_no']}/result", {"status": "failed"})
    run_queued_tasks()

    [row] = _system_refunds(api)
    refund = Refund.objects.get(id=row["id"])
    assert row["destination"] == "original" and refund.status == "refunding" and refund.payout.channel == "alipay"
    body = _told(buyer, row["id"])
    assert "原路退回支付宝" in body and for_person(refund.expected_arrival_by, with_time=False) in body
    assert refund.decided_at - refund.submitted_at < timedelta(seconds=5)  # approved the moment it was made


def _sell_out_then_pay_late(api_as, buyer, make_user, admin, product, fund_wallet, *, before_paying=None):
    """A paid order nothing is left for: placed, expired (its key back in stock), the key sold, then paid."""
    api = api_as(buyer)
    body = {"product_id": product.id, "quantity": 1, "channel": "alipay", "accept_terms": True}
    late = api.post("/orders", body).json()
    api_as(admin).post("/sandbox/clock/advance", {"hours": 1})
    rival = make_user("buyer")
    fund_wallet(rival, 10_000)
    assert api_as(rival).post("/orders", {**body, "channel": "wallet"}).json()["status"] == "delivered"
    if before_paying:
        before_paying()
    from kameng.payments.services import sandbox_pay

    sandbox_pay(user=buyer, payment_no=late["payment"]["payment_no"])
    return api, late


def test_a_late_payment_for_a_product_taken_off_sale_with_no_stock_is_refunded_at_once(
        api_as, buyer, make_user, admin, make_product, fund_wallet):
    product = make_product(keys=1, price="10.00", delivery_promise_minutes=24 * 60)
    api, late = _sell_out_then_pay_late(api_as, buyer, make_user, admin, product, fund_wallet,
                                        before_paying=lambda: Product.objects.filter(id=product.id).update(is_active=False))
    run_queued_tasks()  # the job committed with the payment

    [row] = _system_refunds(api)
    assert row["order_no"] == late["order_no"] and row["reason"] == "not_delivered" and row["amount"] == "10.00"
    assert "已下架" in _told(buyer, row["id"])


def test_a_backorder_whose_product_is_taken_off_sale_is_refunded_by_the_next_sweep(
        api_as, buyer, make_user, admin, make_product, fund_wallet):
    product = make_product(keys=1, price="10.00", delivery_promise_minutes=24 * 60)
    api, late = _sell_out_then_pay_late(api_as, buyer, make_user, admin, product, fund_wallet)
    run_queued_tasks()
    process_due()
    assert api.get("/refunds").json() == []  # on sale: it waits for new stock within its promise
    Product.objects.filter(id=product.id).update(is_active=False)  # the admin takes it off sale
    process_due()  # the worker's next sweep, a second later: no clock moved
    [row] = _system_refunds(api)
    assert row["order_no"] == late["order_no"]
    _told(buyer, row["id"])


def test_an_item_past_its_promise_is_refunded_by_the_sweep_and_the_supplier_can_no_longer_deliver_it(
        api_as, buyer, supplier, make_product, fund_wallet, advance):
    fund_wallet(buyer, 10_000)
    api = api_as(buyer)
    product = make_product(is_manual=True, price="10.00", delivery_promise_minutes=30)
    order = _order(api, product, channel="wallet", quantity=2)
    paid_at = Order.objects.get(order_no=order["order_no"]).paid_at
    advance(0.25)
    assert api.get("/refunds").json() == []  # within its promise
    advance(0.5)

    [row] = _system_refunds(api)
    assert row["status"] == "refunded" and row["amount"] == "20.00" and row["destination"] == "original"
    assert _wallet(api) == "100.00"  # paid from the wallet: back to it at once
    body = _told(buyer, row["id"])
    assert f"超过承诺发货时间 {for_person(paid_at + timedelta(minutes=30))}" in body  # Beijing time
    assert api_as(supplier).get("/supplier/manual-orders").json() == []
    late = api_as(supplier).post(f"/supplier/orders/{order['order_no']}/deliver", {"contents": ["A", "B"]})
    assert late.status_code == 409
    assert book_check().ok


def test_a_sweep_run_twice_or_a_job_after_it_refunds_once(api_as, buyer, make_product, fund_wallet):
    fund_wallet(buyer, 10_000)
    api = api_as(buyer)
    order = _order(api, make_product(is_manual=True, delivery_promise_minutes=5), channel="wallet")
    clock.advance(seconds=3600)
    assert refunds_proactive_due() == 1
    assert refunds_proactive_due() == 0
    assert refund_if_due(order_id=Order.objects.get(order_no=order["order_no"]).id) is None
    process_due()
    assert Refund.objects.count() == 1
    assert RefundEvent.objects.filter(event="platform_refund").count() == 1
    assert OutboxMessage.objects.filter(body__startswith="【卡盟】平台主动退款").count() == 1


def test_a_top_up_still_with_the_supplier_is_left_to_its_result(api_as, buyer, make_product, fund_wallet, advance):
    fund_wallet(buyer, 10_000)
    api = api_as(buyer)
    _order(api, make_product(kind="topup", delivery_promise_minutes=10), channel="wallet",
           recharge_account="13800138000")
    advance(1)  # sent, no answer, past its promise: the source's answer (or its time limit) decides
    assert api.get("/refunds").json() == []


def test_a_buyer_who_asked_first_keeps_their_request(api_as, buyer, make_product, fund_wallet, advance):
    fund_wallet(buyer, 10_000)
    api = api_as(buyer)
    order = _order(api, make_product(is_manual=True, delivery_promise_minutes=600), channel="wallet", quantity=2)
    items = api.get(f"/orders/{order['order_no']}").json()["items"]
    asked = ask(api, order, "changed_mind", "下错了一件，还没发货的第一件不要了。", item_ids=[items[0]["id"]]).json()
    advance(11)
    rows = api.get("/refunds").json()
    assert len(rows) == 2
    system = [r for r in rows if r["timeline"][0]["actor"] == "system"]
    assert len(system) == 1 and system[0]["amount"] == "10.00"  # only the item nobody had asked about
    assert {r["id"] for r in rows} - {system[0]["id"]} == {asked["id"]}


def test_a_year_on_the_test_clock_decides_everything_in_order(api_as, buyer, admin, make_product, fund_wallet):
    fund_wallet(buyer, 100_000)
    api = api_as(buyer)
    manual = _order(api, make_product(is_manual=True, delivery_promise_minutes=120), channel="wallet")
    topup = _order(api, make_product(kind="topup"), recharge_account="13800138000")
    unpaid = api.post("/orders", {"product_id": make_product(keys=1).id, "quantity": 1, "channel": "alipay",
                                  "accept_terms": True}).json()
    run_queued_tasks()
    response = api_as(admin).post("/sandbox/clock/advance", {"hours": 24 * 365})
    assert response.status_code == 200, response.content
    statuses = {o["order_no"]: o["status"] for o in api.get("/orders").json()}
    assert statuses[manual["order_no"]] == "refunded"
    assert statuses[unpaid["order_no"]] == "expired"
    assert statuses[topup["order_no"]] in ("refunded", "paid")  # timed out at its source: refunded, or still asked
    for row in _system_refunds(api):
        assert row["status"] in ("refunding", "refunded")
    assert book_check().ok


@pytest.mark.parametrize("value", ["bank", "", "WALLET", None, 1])
def test_a_bad_refund_destination_is_refused_and_nothing_changes(api_as, buyer, value):
    api = api_as(buyer)
    api._call("patch", "/me", {"refund_destination": "wallet"})
    refused = api._call("patch", "/me", {"refund_destination": value})
    assert refused.status_code == 422
    assert refused.json()["error"]["code"] in ("INVALID_DESTINATION", "VALIDATION_ERROR")
    assert api.get("/me").json()["refund_destination"] == "wallet"


def test_only_a_buyer_sets_a_refund_destination_and_the_api_document_says_how(api_as, supplier):
    refused = api_as(supplier)._call("patch", "/me", {"refund_destination": "wallet"})
    assert refused.status_code == 403
    document = api_as().get("/openapi.json").json()
    operation = document["paths"]["/api/v1/me"]["patch"]
    assert {"200", "403", "422"} <= set(operation["responses"])
    assert "refund_destination" in str(document["components"]["schemas"]["MeIn"])
