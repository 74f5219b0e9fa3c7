import pytest

from kameng.core.worker import run_queued_tasks

GOOD = "在王者荣耀兑换页面输入卡密后提示“该卡密已被使用”，时间 11 月 20 日 21:05。"


@pytest.fixture
def bought(api_as, buyer, make_product, fund_wallet):
    """A buyer's delivered order: bought(quantity, channel, **product options) → (api, order json)."""

    def buy(quantity=1, channel="wallet", reveal=False, **product):
        product.setdefault("keys", quantity + 2)
        item = make_product(price="10.00", **product)
        fund_wallet(buyer, 100_000)
        api = api_as(buyer)
        order = api.post("/orders", {"product_id": item.id, "quantity": quantity, "channel": channel,
                                     "accept_terms": True}).json()
        if channel != "wallet":
            api.post(f"/sandbox/payments/{order['payment']['payment_no']}/pay")
        if reveal:
            api.post(f"/orders/{order['order_no']}/reveal")
        return api, api.get(f"/orders/{order['order_no']}").json()

    return buy


@pytest.fixture
def advance(api_as, admin):
    client = api_as(admin)

    def move(hours):
        response = client.post("/sandbox/clock/advance", {"hours": hours})
        assert response.status_code == 200, response.content
        run_queued_tasks()
        return response.json()["now"]

    return move


def ask(api, order, reason, description=GOOD, **extra):
    return api.post("/refunds", {"order_no": order["order_no"], "reason": reason, "description": description, **extra})
