"""What the buyer saw is stored once per product version, not once per order — and every order still
answers its own snapshot: the page and rules of the moment it was bought, whatever changed since."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from kameng.catalog.models import Product
from kameng.orders.models import Order, ProductSnapshot

BEFORE = [("orders", "0002_topup_cancelled_and_sandbox_supplier")]
AFTER = [("orders", "0003_product_snapshot")]


def _buy(api, product):
    answer = api.post("/orders", {"product_id": product.id, "quantity": 1, "channel": "wallet", "accept_terms": True})
    assert answer.status_code == 201, answer.content
    return answer.json()


def test_orders_of_one_product_version_share_one_stored_snapshot(api_as, buyer, make_product, fund_wallet):
    fund_wallet(buyer, 100_000)
    product = make_product(keys=4, price="10.00")
    api = api_as(buyer)
    first, second = _buy(api, product), _buy(api, product)
    assert ProductSnapshot.objects.filter(product=product).count() == 1
    assert first["snapshot"]["price"] == second["snapshot"]["price"] == "10.00"
    assert first["snapshot"]["captured_at"] != second["snapshot"]["captured_at"]  # each order's own moment


def test_a_price_change_is_a_new_version_and_old_orders_keep_theirs(api_as, buyer, make_product, fund_wallet):
    fund_wallet(buyer, 100_000)
    product = make_product(keys=4, price="10.00")
    api = api_as(buyer)
    before = _buy(api, product)
    Product.objects.filter(id=product.id).update(price_fen=1200)  # whoever writes the product, however
    after = _buy(api, product)
    assert ProductSnapshot.objects.filter(product=product).count() == 2
    assert after["snapshot"]["price"] == "12.00"
    again = api.get(f"/orders/{before['order_no']}").json()
    assert again["snapshot"]["price"] == "10.00" and again["snapshot"] == before["snapshot"]


def test_a_snapshot_read_is_a_copy(api_as, buyer, make_product, fund_wallet):
    fund_wallet(buyer, 100_000)
    product = make_product(keys=1)
    order = Order.objects.get(order_no=_buy(api_as(buyer), product)["order_no"])
    order.snapshot["name"] = "changed in memory"
    assert Order.objects.get(id=order.id).snapshot["name"] == product.name


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_every_orders_copy_to_a_shared_version(make_user, make_product):
    buyer, product = make_user("buyer"), make_product(price="5.00")
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    OldOrder = executor.loader.project_state(BEFORE).apps.get_model("orders", "Order")
    moment = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    content = {"product_id": product.id, "name": "旧商品", "price": "5.00", "refund_policy": {"refund_window_hours": 72}}
    for n, price in enumerate(["5.00", "5.00", "6.00"]):
        OldOrder.objects.create(order_no=f"OLD{n}", buyer_id=buyer.id, product_id=product.id, quantity=1,
                                unit_price_fen=500, amount_fen=500, channel="wallet", status="delivered",
                                snapshot={**content, "price": price, "captured_at": "2026-11-01T12:00:00+08:00"},
                                terms_text="terms", terms_accepted_at=moment, created_at=moment, expires_at=moment)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    executor = MigrationExecutor(connection)  # then every later migration, so the models below match the tables
    executor.migrate(executor.loader.graph.leaf_nodes())
    assert ProductSnapshot.objects.count() == 2  # two contents, three orders
    orders = {o.order_no: o.snapshot for o in Order.objects.all()}
    assert orders["OLD0"] == orders["OLD1"] == {**content, "captured_at": "2026-11-01T12:00:00+08:00"}
    assert orders["OLD2"]["price"] == "6.00"
