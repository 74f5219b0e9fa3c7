"""Checkout and keys: the total and the wallet balance, cancelling an unpaid order, phone numbers checked
per carrier and read back before paying, the key page's copy button and safe links, the reveal confirmation."""

import re

import pytest

from kameng.inventory.models import RevealRecord
from kameng.orders.models import Order
from kameng.orders.phone_topup import check_number, product_carrier
from kameng.orders.policies import exchange_link

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return response.content.decode()


@pytest.mark.parametrize(("number", "expected", "problem", "carrier"), [
    ("13800138000", "中国移动", None, "中国移动"),
    ("138 0013 8000", "中国移动", None, "中国移动"),
    ("+86 186 1234 5678", "中国联通", None, "中国联通"),
    ("18912345678", "中国电信", None, "中国电信"),
    ("12345", "中国移动", "not_mobile", ""),
    ("12345678901", "中国移动", "not_mobile", ""),
    ("18612345678", "中国移动", "wrong_carrier", "中国联通"),
    ("18612345678", "", None, "中国联通"),
])
def test_phone_numbers_are_checked_per_carrier(number, expected, problem, carrier):
    check = check_number(number, expected)
    assert check.problem == problem and check.carrier == carrier


def test_which_top_ups_are_phone_top_ups():
    assert product_carrier("中国移动 话费直充 50 元") == "中国移动"
    assert product_carrier("联通话费 100") == "中国联通"
    assert product_carrier("全国话费慢充") == ""
    assert product_carrier("QQ 币直充") is None


def test_exchange_links_are_only_http_and_https():
    assert exchange_link("https://shop.example.cn/redeem?c=ABC") == "https://shop.example.cn/redeem?c=ABC"
    assert exchange_link("http://example.cn/r/1") == "http://example.cn/r/1"
    for bad in ("javascript:alert(1)", "data:text/html,<script>", "KEY-1-000000", "https://", "https://a b",
                "ftp://example.cn/x", "//example.cn/x"):
        assert exchange_link(bad) is None


def test_checkout_shows_the_total_for_several_and_the_wallet_balance(client_as, buyer, make_product, fund_wallet):
    product = make_product(keys=5, price="12.50")
    fund_wallet(buyer, 2_000)
    client = client_as(buyer)
    page = text(client.get(f"/products/{product.id}/buy/"))
    assert re.search(r'id="order-total">¥12.50<', page)
    assert re.search(r'id="wallet-balance">[^<]*¥20.00', page)
    again = text(client.post(f"/products/{product.id}/buy/", {"quantity": 3, "channel": "alipay"}))  # no terms: shown again
    assert re.search(r'id="order-total">¥37.50<', again) and "余额不足" in again


def test_an_unpaid_order_is_cancelled_from_its_page_and_its_items_are_not_awaiting_delivery(buy, buyer, make_product):
    product = make_product(keys=2)
    client, response = buy(buyer, product, quantity=2)
    order = Order.objects.get()
    page = text(client.get(f"/orders/{order.order_no}/"))
    assert 'id="cancel-order"' in page and 'id="pay-now"' in page
    items = re.search(r"<tbody>.*?</tbody>", page, re.S).group(0)
    assert "待发货" not in items and "待支付" in items
    assert re.search(r'id="order-amount">¥20.00 <small class="help">（2 × ¥10.00）', page)
    cancelled = text(client.post(f"/orders/{order.order_no}/cancel/", follow=True))
    order.refresh_from_db()
    assert order.status == "closed" and "订单已取消" in cancelled
    assert 'id="cancel-order"' not in cancelled and "待发货" not in re.search(r"<tbody>.*?</tbody>", cancelled, re.S).group(0)


def test_a_phone_top_up_refuses_12345_and_reads_the_number_back_before_the_order(client_as, buyer, supplier):
    from kameng.catalog.services import product_create

    top_up = product_create(actor=supplier, name="中国移动 话费直充 50 元", kind="topup", price="49.50",
                            face_value="50.00")
    client = client_as(buyer)
    form = {"quantity": 1, "channel": "alipay", "accept_terms": "on"}
    refused = client.post(f"/products/{top_up.id}/buy/", {**form, "recharge_account": "12345"})
    assert refused.status_code == 422 and "不是有效的中国大陆手机号" in text(refused)
    other = client.post(f"/products/{top_up.id}/buy/", {**form, "recharge_account": "18612345678"})
    assert other.status_code == 422 and "中国联通" in text(other) and "只能为中国移动号码充值" in text(other)
    read_back = client.post(f"/products/{top_up.id}/buy/", {**form, "recharge_account": "138-0013-8000"})
    page = text(read_back)
    assert read_back.status_code == 200 and 'id="readback-number">138 0013 8000<' in page and "中国移动" in page
    assert not Order.objects.exists()  # nothing ordered before the buyer confirms that number
    confirmed = client.post(f"/products/{top_up.id}/buy/", {**form, "recharge_account": "138-0013-8000",
                                                             "confirmed_account": "13800138000"})
    assert confirmed.status_code == 302
    assert Order.objects.get().recharge_account == "13800138000"


def test_the_api_refuses_a_wrong_number_for_a_carrier_product(api_as, buyer, supplier):
    from kameng.catalog.services import product_create

    top_up = product_create(actor=supplier, name="中国移动 话费直充 50 元", kind="topup", price="49.50", face_value="50.00")
    response = api_as(buyer).post("/orders", {"product_id": top_up.id, "quantity": 1, "channel": "alipay",
                                             "recharge_account": "12345", "accept_terms": True})
    assert response.status_code in (400, 422) and response.json()["error"]["code"] == "INVALID_PHONE_NUMBER"
    assert not Order.objects.exists()


def test_revealing_asks_for_the_confirmation_first_and_links_are_safe(buy, buyer, make_product, supplier):
    from kameng.inventory.services import keys_import_list

    product = make_product(kind="link")
    keys_import_list(actor=supplier, product_id=product.id,
                     keys=["https://redeem.example.cn/r?code=AB12", "javascript:alert(1)"])
    client, response = buy(buyer, product, quantity=2)
    client.post(response["Location"])
    order = Order.objects.get()
    page = text(client.get(f"/orders/{order.order_no}/"))
    form = re.search(r'<form[^>]*class="reveal"[^>]*>', page).group(0)
    assert "data-confirm" in form and "不想要了" in form  # asked before the reveal ends "changed mind" refunds
    assert not RevealRecord.objects.exists()
    shown = text(client.post(f"/orders/{order.order_no}/reveal/", {"confirmed": "1"}))
    assert 'href="https://redeem.example.cn/r?code=AB12" target="_blank" rel="noopener noreferrer"' in shown
    assert 'href="javascript:' not in shown and "javascript:alert(1)" in shown  # shown, never linked
    assert shown.count('class="button small copy-secret"') == 2
