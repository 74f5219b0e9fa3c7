import pytest

from kameng.inventory.models import CardSecret, KeyIssue, RevealRecord
from kameng.orders.models import Order


def order_body(product, **extra):
    return {"product_id": product.id, "quantity": 1, "channel": "alipay", "accept_terms": True, **extra}


def test_an_order_keeps_what_the_page_promised_at_purchase(api_as, buyer, supplier, make_product):
    product = make_product(keys=2, price="12.00", description="原始描述",
                           refund_policy={"refund_window_hours": 24})
    api = api_as(buyer)
    order = api.post("/orders", order_body(product)).json()
    assert order["status"] == "pending_payment" and order["payment"]["channel"] == "alipay"
    product.description = "后来改过的描述"
    product.refund_policy = {**product.refund_policy, "refund_window_hours": 1}
    product.save()
    snapshot = api.get(f"/orders/{order['order_no']}").json()["snapshot"]
    assert snapshot["description"] == "原始描述" and snapshot["price"] == "12.00"
    assert snapshot["refund_policy"]["refund_window_hours"] == 24
    stored = Order.objects.get(order_no=order["order_no"])
    assert "第二十五条" in stored.terms_text and stored.terms_accepted_at is not None


@pytest.mark.parametrize("change, status, code", [
    ({"product_id": 999999}, 404, "PRODUCT_NOT_FOUND"),
    ({"quantity": 0}, 422, "INVALID_QUANTITY"),
    ({"quantity": -3}, 422, "INVALID_QUANTITY"),
    ({"quantity": 3}, 409, "OUT_OF_STOCK"),
    ({"accept_terms": False}, 422, "TERMS_NOT_ACCEPTED"),
    ({"channel": "paypal"}, 422, "INVALID_CHANNEL"),
    ({"quantity": "many"}, 422, "VALIDATION_ERROR"),
])
def test_bad_orders_are_refused_and_hold_nothing(api_as, buyer, make_product, change, status, code):
    product = make_product(keys=2)
    response = api_as(buyer).post("/orders", order_body(product, **change))
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert Order.objects.count() == 0
    assert CardSecret.objects.filter(status="available").count() == 2


def test_only_buyers_buy(api_as, supplier, make_product):
    response = api_as(supplier).post("/orders", order_body(make_product(keys=1)))
    assert response.status_code == 403 and response.json()["error"]["code"] == "ROLE_FORBIDDEN"


def test_a_top_up_needs_the_account_to_recharge(api_as, buyer, make_product):
    response = api_as(buyer).post("/orders", order_body(make_product(kind="topup")))
    assert response.status_code == 422 and response.json()["error"]["code"] == "INVALID_RECHARGE_ACCOUNT"


def test_wallet_order_without_enough_balance_is_refused(api_as, buyer, make_product, fund_wallet):
    fund_wallet(buyer, 500)
    response = api_as(buyer).post("/orders", order_body(make_product(keys=1, price="10.00"), channel="wallet"))
    assert response.status_code == 409 and response.json()["error"]["code"] == "INSUFFICIENT_BALANCE"
    assert api_as(buyer).get("/wallet").json()["balance"] == "5.00"


def test_another_buyers_order_looks_missing(api_as, buyer, make_user, make_product, fund_wallet):
    fund_wallet(buyer, 10_000)
    order = api_as(buyer).post("/orders", order_body(make_product(keys=1), channel="wallet")).json()
    stranger = api_as(make_user("buyer"))
    for response in (stranger.get(f"/orders/{order['order_no']}"), stranger.post(f"/orders/{order['order_no']}/reveal")):
        assert response.status_code == 404 and response.json()["error"]["code"] == "ORDER_NOT_FOUND"
    assert RevealRecord.objects.count() == 0


def test_every_reveal_is_recorded_with_who_and_where(api_as, buyer, make_product, fund_wallet):
    fund_wallet(buyer, 10_000)
    api = api_as(buyer)
    order = api.post("/orders", order_body(make_product(keys=2), channel="wallet", quantity=2)).json()
    assert all(not item["revealed"] for item in order["items"])
    first_item = order["items"][0]["id"]
    only_one = api.post(f"/orders/{order['order_no']}/reveal", {"item_ids": [first_item]}, headers={"User-Agent": "pytest-ua"})
    assert [item["id"] for item in only_one.json()["items"]] == [first_item]
    api.post(f"/orders/{order['order_no']}/reveal")
    records = RevealRecord.objects.order_by("id")
    assert [r.order_item_id for r in records].count(first_item) == 2 and records.count() == 3
    assert records[0].user_agent == "pytest-ua" and records[0].ip_address == "127.0.0.1"
    items = api.get(f"/orders/{order['order_no']}").json()["items"]
    assert all(item["revealed"] for item in items)


def test_reveal_before_delivery_is_a_conflict(api_as, buyer, make_product):
    api = api_as(buyer)
    order = api.post("/orders", order_body(make_product(keys=1))).json()
    response = api.post(f"/orders/{order['order_no']}/reveal")
    assert response.status_code == 409 and response.json()["error"]["code"] == "NOT_DELIVERED"


def test_idempotency_key_replays_the_first_answer_and_refuses_another_body(api_as, buyer, make_product, fund_wallet):
    fund_wallet(buyer, 10_000)
    product = make_product(keys=5)
    api = api_as(buyer)
    headers = {"Idempotency-Key": "order-abc-1"}
    first = api.post("/orders", order_body(product, channel="wallet"), headers=headers)
    again = api.post("/orders", order_body(product, channel="wallet"), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["order_no"] == again.json()["order_no"]
    assert Order.objects.count() == 1 and api.get("/wallet").json()["balance"] == "90.00"
    different = api.post("/orders", order_body(product, channel="wallet", quantity=2), headers=headers)
    assert different.status_code == 409 and different.json()["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert Order.objects.count() == 1


def test_a_failed_request_leaves_its_idempotency_key_free(api_as, buyer, make_product, fund_wallet):
    product = make_product(keys=1)
    api = api_as(buyer)
    headers = {"Idempotency-Key": "retry-me"}
    assert api.post("/orders", order_body(product, channel="wallet"), headers=headers).status_code == 409
    fund_wallet(buyer, 10_000)
    assert api.post("/orders", order_body(product, channel="wallet"), headers=headers).status_code == 201


def test_orders_list_shows_only_mine(api_as, buyer, make_user, make_product):
    product = make_product(keys=3)
    api_as(buyer).post("/orders", order_body(product))
    api_as(make_user("buyer")).post("/orders", order_body(product))
    assert len(api_as(buyer).get("/orders").json()) == 1


def test_each_key_is_issued_to_one_item(api_as, buyer, make_product, fund_wallet):
    fund_wallet(buyer, 100_000)
    product = make_product(keys=4)
    api = api_as(buyer)
    for _ in range(2):
        api.post("/orders", order_body(product, channel="wallet", quantity=2))
    assert KeyIssue.objects.count() == 4
    assert KeyIssue.objects.values("secret").distinct().count() == 4
    assert api.post("/orders", order_body(product, channel="wallet")).json()["error"]["code"] == "OUT_OF_STOCK"


def test_a_buyer_cannot_corner_stock_with_unpaid_orders(api_as, buyer, make_product, settings):
    settings.KAMENG_MAX_UNPAID_ORDERS = 2
    product = make_product(keys=5)
    api = api_as(buyer)
    for _ in range(2):
        assert api.post("/orders", order_body(product)).status_code == 201
    third = api.post("/orders", order_body(product))
    assert third.status_code == 409 and third.json()["error"]["code"] == "TOO_MANY_UNPAID_ORDERS"
    assert api_as().get(f"/products/{product.id}").json()["stock"] == 3
