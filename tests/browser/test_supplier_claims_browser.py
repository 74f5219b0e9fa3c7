"""The supplier answers a claim from a phone (390 px wide): confirmation first, nothing wider than the screen."""

import pytest
from playwright.sync_api import expect

from kameng.aftersales.models import Refund
from kameng.aftersales.services import refund_create
from kameng.orders.services import order_create, order_reveal

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_supplier_contests_a_claim_on_a_phone(page, login, supplier, buyer, make_product, fund_wallet):
    fund_wallet(buyer, 10_000)
    product = make_product(keys=2)
    order = order_create(buyer=buyer, product_id=product.id, quantity=1, channel="wallet", accept_terms=True)
    order_reveal(user=buyer, order_no=order.order_no)
    refund = refund_create(buyer=buyer, order_no=order.order_no, reason="key_already_used", destination="wallet",
                           description="在兑换页面输入卡密后提示“该卡密已被使用”，时间 11 月 20 日 21:05。")
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, supplier, "/supplier/refunds/")
    card = page.locator(f"section[data-refund='{refund.id}']")
    expect(card).to_contain_text("卡密已被使用")
    expect(card).to_contain_text("待供货商答复")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    contest = card.locator("form.answer-contest")
    contest.locator("textarea").fill("该卡密在我方系统中未被激活过，请买家提供兑换截图。")
    contest.locator("button[type=submit]").click()  # the browser refuses: the confirmation is not ticked
    assert Refund.objects.get(id=refund.id).supplier_answer == "pending"
    contest.locator("input[type=checkbox]").check()
    contest.locator("button[type=submit]").click()
    expect(page.locator(".msg.success")).to_contain_text("已提交异议")
    assert Refund.objects.get(id=refund.id).supplier_answer == "contested"
    expect(page.locator(f"section[data-refund='{refund.id}']")).to_contain_text("供货商有异议")
