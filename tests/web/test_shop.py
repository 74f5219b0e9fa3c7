import pytest

from kameng.orders.models import Order

# The database first, so it outlives every other fixture of the test (the ledger check among them).
pytestmark = pytest.mark.django_db


def test_product_list_and_detail_show_price_stock_promise_and_refund_rules(client, make_product):
    product = make_product(keys=3, price="12.50", face_value="15.00", delivery_promise_minutes=7,
                           refund_policy={"refund_window_hours": 48})
    listing = client.get("/").content.decode()
    assert product.name in listing and "12.50" in listing
    page = client.get(f"/products/{product.id}/").content.decode()
    assert "12.50" in page and "15.00" in page and "7 分钟" in page
    assert "48 小时" in page and "第二十五条" in page
    assert '<dd class="stock">3' in page


def test_a_missing_product_is_404(client, db):
    assert client.get("/products/999999/").status_code == 404


def test_checkout_needs_a_logged_in_buyer(client, client_as, make_user, make_product):
    product = make_product(keys=1)
    response = client.get(f"/products/{product.id}/buy/")
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert client_as(make_user("supplier")).get(f"/products/{product.id}/buy/").status_code == 403


def test_checkout_shows_the_terms_and_refuses_an_order_without_them(buy, buyer, make_product):
    product = make_product(keys=1)
    client, response = buy(buyer, product, accept_terms=None)
    assert response.status_code == 422
    assert "不适用七日无理由退货" in response.content.decode()
    assert not Order.objects.exists()
    page = client.get(f"/products/{product.id}/buy/").content.decode()
    assert 'name="accept_terms"' in page and "required" in page and "第二十五条" in page


def test_domain_errors_are_shown_on_the_page_not_500(buy, buyer, make_product):
    product = make_product(keys=1)
    _, response = buy(buyer, product, quantity=3)
    assert response.status_code == 409
    assert "库存不足" in response.content.decode()
    _, response = buy(buyer, product, channel="wallet")
    assert response.status_code == 409 and "钱包余额不足" in response.content.decode()
    _, response = buy(buyer, product, quantity="many")
    assert response.status_code == 422


def test_a_topup_needs_the_account(buy, buyer, make_product):
    product = make_product(kind="topup", price="30.00", face_value="30.00")
    _, response = buy(buyer, product)
    assert response.status_code == 422 and not Order.objects.exists()
    _, response = buy(buyer, product, recharge_account="13900000000")
    assert response.status_code == 302
    assert Order.objects.get().recharge_account == "13900000000"


def test_alipay_checkout_goes_to_the_sandbox_payment_page(buy, buyer, make_product):
    product = make_product(keys=1)
    client, response = buy(buyer, product)
    order = Order.objects.get()
    payment = order.payments.get()
    assert response.status_code == 302 and response["Location"] == f"/sandbox/pay/{payment.payment_no}/"
    page = client.get(response["Location"]).content.decode()
    assert "确认支付" in page and "10.00" in page


def test_a_wallet_order_is_paid_at_once_and_goes_to_the_order(buy, buyer, make_product, fund_wallet):
    product = make_product(keys=1)
    fund_wallet(buyer, 5000)
    client, response = buy(buyer, product, channel="wallet")
    order = Order.objects.get()
    assert response["Location"] == f"/orders/{order.order_no}/"
    assert order.status == "delivered"
