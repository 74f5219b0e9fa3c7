"""Checkout and keys in a real browser, desktop and phone, Chinese and English: the total follows the
quantity, the wallet balance shows, a phone number is refused or read back before paying, an unpaid order
is cancelled, and the key page has a copy button and a safe, clickable exchange link."""

import re
import shutil

import pytest
from playwright.sync_api import expect

from kameng.catalog.services import product_create
from kameng.inventory.services import keys_import_list
from kameng.orders.models import Order

from .conftest import log_in, watched_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed")]

SIZES = {"desktop": (1280, 900), "phone": (390, 844)}
WORDS = {
    "zh-CN": {"next": "下一步：核对号码", "confirm": "号码无误，提交订单", "invalid": "不是有效的中国大陆手机号",
              "cancel": "取消订单", "cancelled": "订单已取消", "reveal": "查看卡密", "copied": "已复制",
              "place": "提交订单", "unpaid": "待支付"},
    "en-US": {"next": "Next: check the number", "confirm": "The number is right, place the order",
              "invalid": "is not a valid mainland China mobile number", "cancel": "Cancel order",
              "cancelled": "Order cancelled", "reveal": "Reveal", "copied": "Copied", "place": "Place order",
              "unpaid": "Awaiting payment"},
}


def fits(page, width, *selectors):
    for selector in selectors:
        right = page.evaluate(f"(() => {{ const e = document.querySelector('{selector}'); "
                              "return e ? e.getBoundingClientRect().right : 0; })()")
        assert right <= width + 1, (selector, right)


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
@pytest.mark.parametrize("size_name", ["desktop", "phone"])
def test_checkout_top_up_cancel_and_key_page(browser, live_server, buyer, supplier, make_product, fund_wallet,
                                            screenshot, locale, size_name):
    size, words = SIZES[size_name], WORDS[locale]
    card = make_product(kind="link", price="12.50")
    keys_import_list(actor=supplier, product_id=card.id, keys=["https://redeem.example.cn/r?code=AB12",
                                                               "https://redeem.example.cn/r?code=CD34"])
    top_up = product_create(actor=supplier, name="中国移动 话费直充 50 元", kind="topup", price="49.50",
                            face_value="50.00")
    fund_wallet(buyer, 10_000)
    with watched_page(browser, live_server.url, locale=locale, size=size,
                      permissions=("clipboard-read", "clipboard-write")) as page:
        # The total follows the quantity; the wallet balance is beside the wallet.
        log_in(page, buyer, f"/products/{card.id}/buy/")
        expect(page.locator("#wallet-balance")).to_contain_text("¥100.00")
        page.fill("#id_quantity", "2")
        expect(page.locator("#order-total")).to_have_text("¥25.00")
        fits(page, size[0], "#checkout-form")
        screenshot(page, f"checkout-{size_name}-{locale}")

        # A top-up: "12345" refused with a clear message, then the number read back before ordering.
        page.goto(f"/products/{top_up.id}/buy/")
        page.check("input[name=channel][value=alipay]")
        page.fill("#id_recharge_account", "12345")
        page.check("#id_accept_terms")
        page.click(f"text={words['next']}")
        expect(page.locator("main")).to_contain_text(words["invalid"])
        page.fill("#id_recharge_account", "13800138000")
        page.check("#id_accept_terms")
        page.click(f"text={words['next']}")
        expect(page.locator("#readback-number")).to_have_text("138 0013 8000")
        assert not Order.objects.exists()
        fits(page, size[0], "#confirm-account")
        screenshot(page, f"checkout-readback-{size_name}-{locale}")
        page.click(f"text={words['confirm']}")
        page.wait_for_url(re.compile(r"/(sandbox/)?pay/P\w+/$"))
        order = Order.objects.get()
        assert order.recharge_account == "13800138000"

        # The unpaid order: its items await payment, not delivery, and it can be cancelled.
        page.goto(f"/orders/{order.order_no}/")
        expect(page.locator("table.grid tbody")).to_contain_text(words["unpaid"])
        page.click("#cancel-order summary")
        page.click("#confirm-cancel")  # asked first (the cancel flow's own confirmation)
        expect(page.locator("main")).to_contain_text(words["cancelled"])
        order.refresh_from_db()
        assert order.status == "closed"

        # Buy the two keys from the wallet, confirm, reveal: copy buttons and a clickable link.
        page.goto(f"/products/{card.id}/buy/")
        page.fill("#id_quantity", "2")
        page.check("input[name=channel][value=wallet]")
        page.check("#id_accept_terms")
        page.click("#checkout-form button[type=submit]")
        page.wait_for_url(re.compile(r"/orders/\w+/$"))
        page.click("form.reveal button[type=submit]")
        link = page.locator("a.secret-link").first
        expect(link).to_be_visible()
        assert page.dialogs and ("不想要了" in page.dialogs[-1] or "changed" in page.dialogs[-1].lower())
        expect(link).to_have_attribute("rel", "noopener noreferrer")
        expect(link).to_have_attribute("href", "https://redeem.example.cn/r?code=AB12")
        page.locator("button.copy-secret").first.click()
        expect(page.locator("#copy-status")).to_have_text(words["copied"])
        assert page.evaluate("navigator.clipboard.readText()") == "https://redeem.example.cn/r?code=AB12"
        fits(page, size[0], "table.secrets")
        screenshot(page, f"keys-{size_name}-{locale}")
