import pytest

from kameng.inventory.models import RevealRecord
from kameng.orders.models import Order

# The database first, so it outlives every other fixture of the test (the ledger check among them).
pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_order(buy, buyer, make_product):
    product = make_product(keys=2)
    client, response = buy(buyer, product)
    paid = client.post(response["Location"])
    order = Order.objects.get()
    assert paid.status_code == 302 and paid["Location"] == f"/orders/{order.order_no}/"
    return client, order, product


def test_paying_on_the_sandbox_page_delivers_the_order(paid_order):
    client, order, product = paid_order
    order.refresh_from_db()
    assert order.status == "delivered"
    page = client.get(f"/orders/{order.order_no}/").content.decode()
    assert "已发货" in page and "查看卡密" in page and "第二十五条" in page
    assert f"KEY-{product.id}-" not in page  # the key only on the reveal result
    listing = client.get("/orders/").content.decode()
    assert order.order_no in listing and f"KEY-{product.id}-" not in listing


def test_paying_twice_shows_a_message(paid_order):
    client, order, _ = paid_order
    payment = order.payments.get()
    response = client.post(f"/sandbox/pay/{payment.payment_no}/", follow=True)
    assert response.status_code == 200 and "该支付已处理" in response.content.decode()


def test_reveal_shows_the_key_once_and_records_ip_and_browser(paid_order):
    client, order, product = paid_order
    response = client.post(f"/orders/{order.order_no}/reveal/", {"confirmed": "1"}, REMOTE_ADDR="10.1.2.3", HTTP_USER_AGENT="pytest-agent")
    assert response.status_code == 200
    assert f"KEY-{product.id}-000000" in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    record = RevealRecord.objects.get()
    assert record.ip_address == "10.1.2.3" and record.user_agent == "pytest-agent"
    assert client.get(f"/orders/{order.order_no}/reveal/").status_code == 405


def test_reveal_before_delivery_is_a_message_not_a_500(buy, buyer, make_product):
    product = make_product(keys=1)
    client, _ = buy(buyer, product)
    order = Order.objects.get()
    response = client.post(f"/orders/{order.order_no}/reveal/", {"confirmed": "1"}, follow=True)
    assert response.status_code == 200 and "尚未发货" in response.content.decode()
    assert not RevealRecord.objects.exists()


def test_someone_elses_order_and_payment_are_404(paid_order, client_as, make_user):
    _, order, _ = paid_order
    other = client_as(make_user("buyer"))
    assert other.get(f"/orders/{order.order_no}/").status_code == 404
    assert other.post(f"/orders/{order.order_no}/reveal/").status_code == 404
    assert other.get(f"/sandbox/pay/{order.payments.get().payment_no}/").status_code == 404
    assert not RevealRecord.objects.exists()


def test_order_pages_need_a_buyer(client, client_as, make_user):
    assert client.get("/orders/").status_code == 302
    assert client_as(make_user("supplier")).get("/orders/").status_code == 403


def test_the_sandbox_page_does_not_exist_without_the_sandbox(buy, buyer, make_product, settings):
    product = make_product(keys=1)
    client, response = buy(buyer, product)
    settings.KAMENG_SANDBOX = False
    assert client.get(response["Location"]).status_code == 404
    assert client.post(response["Location"]).status_code == 404


def test_wallet_shows_the_balance_and_recharges_through_the_sandbox(client_as, buyer, fund_wallet):
    fund_wallet(buyer, 1234)
    client = client_as(buyer)
    assert "12.34" in client.get("/wallet/").content.decode()
    response = client.post("/wallet/", {"amount": "50.00", "channel": "wechat"})
    assert response.status_code == 302 and response["Location"].startswith("/sandbox/pay/")
    paid = client.post(response["Location"])
    assert paid["Location"] == "/wallet/"
    assert "62.34" in client.get("/wallet/").content.decode()
    bad = client.post("/wallet/", {"amount": "-1", "channel": "alipay"})
    assert bad.status_code == 422


def test_language_switch_to_english(client, make_product):
    product = make_product(keys=1)
    response = client.post("/i18n/setlang/", {"language": "en", "next": f"/products/{product.id}/"})
    assert response.status_code == 302
    page = client.get(f"/products/{product.id}/").content.decode()
    assert "Buy now" in page and "Refund rules" in page and "Consumer Rights Protection Law" in page
