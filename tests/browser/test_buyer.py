import re

import pytest
from playwright.sync_api import expect

from kameng.inventory.models import RevealRecord
from kameng.orders.models import Order

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_buyer_buys_a_card_pays_and_reveals_the_key(page, login, screenshot, buyer, make_product):
    product = make_product(keys=2, price="25.00", face_value="30.00", description="全国通用话费卡")
    login(page, buyer, f"/products/{product.id}/")
    expect(page.locator("h1")).to_have_text(product.name)
    expect(page.locator(".price")).to_contain_text("25.00")
    expect(page.locator(".policy")).to_contain_text("第二十五条")
    screenshot(page, "product")

    page.click("text=立即购买")
    expect(page.locator(".terms")).to_contain_text("不适用七日无理由退货")
    page.check("input[name=channel][value=alipay]")
    # Without the box ticked the browser refuses to submit...
    page.click("text=提交订单")
    assert page.locator("#id_accept_terms").evaluate("e => e.validity.valueMissing")
    assert page.url.endswith("/buy/")
    # ...and so does the server, should a client skip the browser's check.
    page.locator("#id_accept_terms").evaluate("e => e.removeAttribute('required')")
    page.click("text=提交订单")
    expect(page.locator(".terms .field-error")).to_contain_text("请先勾选确认")
    assert not Order.objects.exists()

    page.check("#id_accept_terms")
    page.click("text=提交订单")
    page.wait_for_url(re.compile(r"/sandbox/pay/P\w+/$"))
    expect(page.locator(".price")).to_contain_text("25.00")
    page.click("text=确认支付")

    order = Order.objects.get()
    page.wait_for_url(f"**/orders/{order.order_no}/")
    expect(page.locator("#order-status")).to_have_text("已发货")
    expect(page.locator(".policy")).to_contain_text("72 小时")
    assert f"KEY-{product.id}-" not in page.content()
    screenshot(page, "order")

    page.click("text=查看卡密")
    expect(page.locator("code.secret")).to_have_text(f"KEY-{product.id}-000000")
    record = RevealRecord.objects.get()
    assert record.ip_address == "127.0.0.1" and "Chrome" in record.user_agent


def test_language_switch_to_english(page, make_product):
    product = make_product(keys=1)
    page.goto(f"/products/{product.id}/")
    expect(page.locator("a.button.primary")).to_have_text("立即购买")
    page.click("button[name=language][value=en]")
    page.wait_for_url(f"**/products/{product.id}/")
    expect(page.locator("a.button.primary")).to_have_text("Buy now")
    expect(page.locator(".policy h2")).to_have_text("Refund rules")
    expect(page.locator(".policy")).to_contain_text("Consumer Rights Protection Law")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.click("button[name=language][value=zh-hans]")
    expect(page.locator("a.button.primary")).to_have_text("立即购买")
