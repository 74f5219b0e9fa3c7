import pytest

from kameng.catalog.models import Product
from kameng.catalog.supply import source_create
from kameng.core.worker import run_queued_tasks

from .fake_source import API_SECRET, MERCHANT, NOTIFY_SECRET, FakeSource


@pytest.fixture
def fake():
    server = FakeSource()
    yield server
    server.close()


@pytest.fixture
def source(db, fake):
    return source_create(name="速充货源", endpoint_url=fake.base_url, merchant_id=MERCHANT, api_secret=API_SECRET,
                         notify_secret=NOTIFY_SECRET, timeout_seconds=1)


@pytest.fixture
def buy(api_as, buyer, make_product, fund_wallet, source):
    """A buyer pays for a product served by the fake source; the send job runs. → (api, order json)."""

    def place(kind="topup", quantity=1, promise=10):
        product = make_product(kind=kind, price="10.00", face_value="10.00", delivery_promise_minutes=promise)
        Product.objects.filter(id=product.id).update(source=source, source_sku="CMCC-10")
        fund_wallet(buyer, 10_000)
        api = api_as(buyer)
        body = {"product_id": product.id, "quantity": quantity, "channel": "wallet", "accept_terms": True}
        if kind == "topup":
            body["recharge_account"] = "13800138000"
        order = api.post("/orders", body).json()
        assert order["status"] == "paid", order
        run_queued_tasks()
        return api, api.get(f"/orders/{order['order_no']}").json()

    return place
