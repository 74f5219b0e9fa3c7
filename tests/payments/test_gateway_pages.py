"""The buyer's pages with a real gateway: checkout leads to the pay button or the QR code, which waits."""

import urllib.request

import pytest
from django.test import Client

from kameng.orders.models import Order

from .test_gateway_flow import _notify_alipay, _notify_wechat


@pytest.fixture
def production(settings):
    settings.KAMENG_SANDBOX = False


def _checkout(user, product, channel):
    client = Client()
    client.force_login(user)
    response = client.post(f"/products/{product.id}/buy/", {"quantity": 1, "channel": channel, "accept_terms": "on"})
    return client, response


def test_alipay_checkout_shows_the_pay_button_and_waits(production, alipay_env, buyer, make_product):
    client, response = _checkout(buyer, make_product(keys=1), "alipay")
    payment = Order.objects.get().payments.get()
    assert response.status_code == 302 and response["Location"] == f"/pay/{payment.payment_no}/"
    page = client.get(response["Location"]).content.decode()
    payment.refresh_from_db()
    assert payment.pay_url.startswith(alipay_env.gateway) and payment.pay_url.replace("&", "&amp;") in page
    assert 'http-equiv="refresh"' in page and "前往支付" in page
    urllib.request.urlopen(payment.pay_url, timeout=5).read()  # the buyer follows the button to the cashier
    assert _notify_alipay(client, alipay_env.pay(payment.payment_no, deliver=False)).content == b"success"
    paid = client.get(response["Location"])  # the page's next refresh: paid, on to the order
    assert paid.status_code == 302 and paid["Location"] == f"/orders/{payment.order.order_no}/"


def test_wechat_checkout_shows_a_qr_code(production, wechat_env, buyer, make_product):
    client, response = _checkout(buyer, make_product(keys=1), "wechat")
    page = client.get(response["Location"]).content.decode()
    payment = Order.objects.get().payments.get()
    payment.refresh_from_db()
    assert payment.code_url.startswith("weixin://") and "<svg" in page and "扫描二维码" in page
    assert _notify_wechat(client, *wechat_env.pay(payment.payment_no, deliver=False)).status_code == 204
    assert client.get(response["Location"]).status_code == 302


def test_a_recharge_is_paid_at_the_gateway_too(production, alipay_env, buyer):
    client = Client()
    client.force_login(buyer)
    response = client.post("/wallet/", {"amount": "50.00", "channel": "alipay"})
    assert response.status_code == 302 and response["Location"].startswith("/pay/P")
    assert "前往支付" in client.get(response["Location"]).content.decode()
