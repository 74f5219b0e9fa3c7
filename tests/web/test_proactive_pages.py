"""The buyer sets where the platform's own refunds go, and sees such a refund for what it is."""

import re

from kameng.aftersales.proactive import refunds_proactive_due
from kameng.core import clock
from kameng.orders.services import order_create


def test_the_buyer_chooses_the_default_refund_destination_on_the_settings_page(client_as, buyer):
    client = client_as(buyer)
    page = client.get("/settings/").content.decode()
    assert "平台主动退款的默认去向" in page
    assert re.search(r'value="original"[^>]*checked', page) and not re.search(r'value="wallet"[^>]*checked', page)
    saved = client.post("/settings/", {"refund_destination": "wallet"}, follow=True)
    assert saved.status_code == 200 and "已保存" in saved.content.decode()
    buyer.refresh_from_db()
    assert buyer.refund_destination == "wallet"
    assert "退回钱包" in client.get("/wallet/").content.decode()

    refused = client.post("/settings/", {"refund_destination": "alipay"})
    assert refused.status_code == 422
    buyer.refresh_from_db()
    assert buyer.refund_destination == "wallet"

    client.cookies["django_language"] = "en"
    english = client.get("/settings/").content.decode()
    assert "Where the platform&#x27;s own refunds go" in english or "Where the platform's own refunds go" in english
    assert "To my wallet" in english


def test_only_a_buyer_has_the_refund_destination_setting(client_as, supplier):
    client = client_as(supplier)
    page = client.get("/settings/").content.decode()
    assert 'id="language-form"' in page and "平台主动退款的默认去向" not in page
    assert client.post("/settings/", {"form": "destination", "refund_destination": "wallet"}).status_code == 400


def test_a_refund_the_platform_made_says_so_on_the_list_and_the_case(client_as, buyer, make_product, fund_wallet):
    fund_wallet(buyer, 10_000)
    order = order_create(buyer=buyer, product_id=make_product(is_manual=True, delivery_promise_minutes=5).id,
                         quantity=1, channel="wallet", accept_terms=True)
    clock.advance(seconds=3600)
    assert refunds_proactive_due() == 1
    client = client_as(buyer)
    listing = client.get("/refunds/").content.decode()
    assert "平台主动退款" in listing
    refund = buyer.refunds.get(order=order)
    case = client.get(f"/refunds/{refund.id}/").content.decode()
    assert 'id="platform-refund"' in case and "平台主动退款" in case and "系统" in case
    assert "platform_refund" not in case.replace('class="ev-platform_refund"', "")  # the label, never the code
