"""取消订单 in a real phone-sized browser: the button asks first, then the undelivered order is refunded in full."""

import pytest
from playwright.sync_api import expect

from kameng.ledger.services import Accounts, balance
from kameng.orders.services import order_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_buyer_cancels_an_order_waiting_for_its_supplier_after_confirming(page, login, buyer, make_product,
                                                                            fund_wallet):
    fund_wallet(buyer, 5000)
    product = make_product(is_manual=True, price="12.00", delivery_promise_minutes=120)
    order = order_create(buyer=buyer, product_id=product.id, quantity=1, channel="wallet", accept_terms=True)
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, buyer, f"/orders/{order.order_no}/")
    confirm = page.locator("#confirm-cancel")
    expect(confirm).to_be_hidden()  # nothing happens on a single tap
    page.click("#cancel-order summary")
    expect(page.locator("#cancel-order")).to_contain_text("¥12.00 全额退回，不收手续费")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    confirm.click()
    page.wait_for_url(f"**/orders/{order.order_no}/")
    expect(page.locator("#order-status")).to_have_text("已退款")
    expect(page.locator("body")).to_contain_text("订单已取消")
    expect(page.locator("#cancel-order")).to_have_count(0)
    assert balance(Accounts.wallet(buyer.id)).fen == 5000
