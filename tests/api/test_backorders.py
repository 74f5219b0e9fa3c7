"""An order paid when stock had run out waits for new stock, even after part of it was refunded."""

from kameng.core.worker import run_queued_tasks
from kameng.ledger.selectors import book_check
from kameng.ledger.services import Accounts, balance

from .test_payments import notify, place, signed


def test_the_rest_of_a_partly_refunded_backorder_is_delivered_from_new_stock_and_settled(
        api_as, buyer, make_user, admin, supplier, make_product, fund_wallet):
    product = make_product(keys=2, price="10.00")
    api = api_as(buyer)
    late = place(api, product, quantity=2)
    api_as(admin).post("/sandbox/clock/advance", {"hours": 1})  # expired: its two keys go back to stock
    rival = make_user("buyer")
    fund_wallet(rival, 10_000)
    assert place(api_as(rival), product, channel="wallet", quantity=2)["status"] == "delivered"
    assert notify(api, signed(late)).status_code == 200  # paid at the last second: nothing left to deliver
    items = api.get(f"/orders/{late['order_no']}").json()["items"]
    assert [i["status"] for i in items] == ["pending", "pending"]

    api_as(admin).post("/sandbox/clock/advance", {"hours": 1})  # past the delivery promise
    refund = api.post("/refunds", {"order_no": late["order_no"], "reason": "not_delivered", "item_ids": [items[0]["id"]],
                                   "description": "付款后一直没有发货，先退一张。"})
    assert refund.status_code == 201, refund.content
    assert refund.json()["status"] in ("approved", "refunding", "refunded"), refund.json()["status"]
    api_as(admin).post("/sandbox/clock/advance", {"hours": 1})  # the gateway's refund completes
    assert api.get(f"/refunds/{refund.json()['id']}").json()["status"] == "refunded"
    assert api.get(f"/orders/{late['order_no']}").json()["status"] == "partially_refunded"
    escrow_before = balance(Accounts.ESCROW).fen
    assert escrow_before == 1000  # the second card's price is still held

    api_as(supplier).post(f"/admin/products/{product.id}/keys", {"keys": ["RESTOCK-1"]})
    run_queued_tasks()
    detail = api.get(f"/orders/{late['order_no']}").json()
    assert [i["status"] for i in detail["items"]] == ["refunded", "delivered"]
    assert detail["status"] == "partially_refunded"
    assert balance(Accounts.ESCROW).fen == 0  # nothing left in escrow: settled to the supplier and commission
    assert balance(Accounts.payable(supplier.id)).fen == 950 + 1900  # the rival's two and this one
    assert book_check().ok
