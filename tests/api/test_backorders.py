"""An order paid when stock had run out waits for new stock until its delivery promise passes; then the
platform refunds what it still owes, and new stock never delivers what was refunded."""

from kameng.core.worker import run_queued_tasks
from kameng.inventory.models import CardSecret
from kameng.ledger.selectors import book_check
from kameng.ledger.services import Accounts, balance

from .test_payments import notify, place, signed


def _paid_with_nothing_left(api_as, buyer, make_user, admin, product, fund_wallet):
    api = api_as(buyer)
    late = place(api, product, quantity=2)
    api_as(admin).post("/sandbox/clock/advance", {"hours": 1})  # expired: its two keys go back to stock
    rival = make_user("buyer")
    fund_wallet(rival, 10_000)
    assert place(api_as(rival), product, channel="wallet", quantity=2)["status"] == "delivered"
    assert notify(api, signed(late)).status_code == 200  # paid at the last second: nothing left to deliver
    items = api.get(f"/orders/{late['order_no']}").json()["items"]
    assert [i["status"] for i in items] == ["pending", "pending"]
    return api, late, items


def test_a_backorder_past_its_promise_is_refunded_by_the_platform_and_new_stock_does_not_deliver_it(
        api_as, buyer, make_user, admin, supplier, make_product, fund_wallet):
    product = make_product(keys=2, price="10.00")  # promise: 5 minutes
    api, late, _items = _paid_with_nothing_left(api_as, buyer, make_user, admin, product, fund_wallet)

    api_as(admin).post("/sandbox/clock/advance", {"hours": 1})  # past the promise: the sweep refunds, unasked
    refunds = api.get("/refunds").json()
    assert len(refunds) == 1 and refunds[0]["reason"] == "not_delivered" and refunds[0]["amount"] == "20.00"
    assert refunds[0]["timeline"][0]["actor"] == "system"
    api_as(admin).post("/sandbox/clock/advance", {"hours": 1})  # the gateway's refund completes
    refund = api.get(f"/refunds/{refunds[0]['id']}").json()
    assert refund["status"] == "refunded" and refund["destination"] == "original"
    assert api.get(f"/orders/{late['order_no']}").json()["status"] == "refunded"
    assert balance(Accounts.ESCROW).fen == 0  # nothing held for an order that owes nothing

    api_as(supplier).post(f"/admin/products/{product.id}/keys", {"keys": ["RESTOCK-1"]})
    run_queued_tasks()
    detail = api.get(f"/orders/{late['order_no']}").json()
    assert [i["status"] for i in detail["items"]] == ["refunded", "refunded"]  # refunded items are never delivered
    assert CardSecret.objects.filter(product=product, status="available").count() == 1  # the new key stays on sale
    assert balance(Accounts.payable(supplier.id)).fen == 1900  # the rival's two only
    assert book_check().ok


def test_the_rest_of_a_partly_refunded_backorder_is_delivered_from_new_stock_and_settled(
        api_as, buyer, make_user, admin, reviewer, supplier, make_product, fund_wallet):
    """New stock within the promise delivers what a refund did not take."""
    product = make_product(keys=2, price="10.00", delivery_promise_minutes=24 * 60)
    api, late, items = _paid_with_nothing_left(api_as, buyer, make_user, admin, product, fund_wallet)

    refund = api.post("/refunds", {"order_no": late["order_no"], "reason": "changed_mind", "item_ids": [items[0]["id"]],
                                   "description": "买多了一张，还没发货的这张不要了，请退款。"})
    assert refund.status_code == 201, refund.content
    if refund.json()["status"] == "submitted":
        approved = api_as(reviewer).post(f"/staff/refunds/{refund.json()['id']}/approve", {"note": "未发货"})
        assert approved.status_code == 200, approved.content
    api_as(admin).post("/sandbox/clock/advance", {"hours": 1})  # the gateway's refund completes; promise not passed
    assert api.get(f"/refunds/{refund.json()['id']}").json()["status"] == "refunded"
    assert api.get(f"/orders/{late['order_no']}").json()["status"] == "partially_refunded"
    assert len(api.get("/refunds").json()) == 1  # the platform did not refund the second: still within its promise
    assert balance(Accounts.ESCROW).fen == 1000  # the second card's price is still held

    api_as(supplier).post(f"/admin/products/{product.id}/keys", {"keys": ["RESTOCK-1"]})
    run_queued_tasks()
    detail = api.get(f"/orders/{late['order_no']}").json()
    assert [i["status"] for i in detail["items"]] == ["refunded", "delivered"]
    assert detail["status"] == "partially_refunded"
    assert balance(Accounts.ESCROW).fen == 0  # nothing left in escrow: settled to the supplier and commission
    assert balance(Accounts.payable(supplier.id)).fen == 950 + 1900  # the rival's two and this one
    assert book_check().ok
