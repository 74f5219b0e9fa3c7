"""Irreversible actions with JavaScript off, on a phone and a desktop: each form lands on the server's
confirmation page (the consequences, a real submit button, a way back), nothing changes until the person
confirms there, and the page fits the screen."""

import os
import shutil

import pytest
from playwright.sync_api import expect

from kameng.aftersales.models import Refund
from kameng.aftersales.services import refund_create
from kameng.inventory.models import RevealRecord
from kameng.orders.services import order_create, order_reveal

from .conftest import log_in, watched_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed")]

GOOD = "在王者荣耀兑换页面输入卡密后提示“该卡密已被使用”，时间 11 月 20 日 21:05。"
OVERFLOW = "document.scrollingElement.scrollWidth - window.innerWidth"
SIZES = {"phone": (390, 844), "desktop": (1280, 900)}


def _order(buyer, make_product, fund_wallet, reveal):
    fund_wallet(buyer, 100_000)
    order = order_create(buyer=buyer, product_id=make_product(keys=2, price="10.00").id, quantity=1,
                         channel="wallet", accept_terms=True)
    if reveal:
        order_reveal(user=buyer, order_no=order.order_no)
    return order


def _asked(page, question):
    """On the server's confirmation page: the consequence stated, nothing done yet, the page fits."""
    if os.environ.get("KAMENG_SCREENSHOT_DIR"):  # for a human to look at, when asked
        width = page.viewport_size["width"]
        name = f"confirm-{width}-{page.url.rstrip('/').rsplit('/', 1)[-1]}.png"
        page.screenshot(path=os.path.join(os.environ["KAMENG_SCREENSHOT_DIR"], name), full_page=True)
    expect(page.locator("#confirm-step")).to_be_visible()
    expect(page.locator("#confirm-question")).to_contain_text(question)
    expect(page.locator("#confirm-submit")).to_be_visible()
    expect(page.locator("#confirm-cancel-link")).to_be_visible()
    assert page.evaluate(OVERFLOW) <= 0


@pytest.mark.parametrize("size", SIZES)
def test_buyer_confirms_reveal_and_withdraw_without_script(browser, live_server, buyer, make_product, fund_wallet,
                                                           size):
    order = _order(buyer, make_product, fund_wallet, reveal=False)
    claimed = _order(buyer, make_product, fund_wallet, reveal=True)
    refund = refund_create(buyer=buyer, order_no=claimed.order_no, reason="invalid_key", description=GOOD)
    with watched_page(browser, live_server.url, size=SIZES[size], script=False) as page:
        log_in(page, buyer, f"/orders/{order.order_no}/")
        page.click("#reveal-form button[type=submit]")
        _asked(page, "不想要了")
        assert not RevealRecord.objects.filter(order_item__order=order).exists()
        page.click("#confirm-cancel-link")  # changed their mind: back to the order, still nothing revealed
        page.wait_for_url(f"**/orders/{order.order_no}/")
        assert not RevealRecord.objects.filter(order_item__order=order).exists()
        page.click("#reveal-form button[type=submit]")
        page.click("#confirm-submit")
        expect(page.locator("main")).to_contain_text("KEY-")
        assert RevealRecord.objects.filter(order_item__order=order).count() == 1

        page.goto(f"/refunds/{refund.id}/")
        page.click("#withdraw")
        _asked(page, "撤回后这些商品不能再以同一原因申请")
        assert Refund.objects.get(id=refund.id).status == "submitted"
        page.click("#confirm-submit")
        page.wait_for_url(f"**/refunds/{refund.id}/")
        assert Refund.objects.get(id=refund.id).status == "withdrawn"
        assert page.dialogs == []  # no script ran: the server asked


@pytest.mark.parametrize("size", SIZES)
def test_reviewer_confirms_reject_and_approve_without_script(browser, live_server, buyer, make_user, make_product,
                                                             fund_wallet, size):
    reviewer = make_user("reviewer")
    to_reject, to_approve = (refund_create(buyer=buyer, reason="invalid_key", description=GOOD,
                                           order_no=_order(buyer, make_product, fund_wallet, reveal=True).order_no)
                             for _ in range(2))
    with watched_page(browser, live_server.url, size=SIZES[size], script=False) as page:
        log_in(page, reviewer, f"/staff/refunds/{to_reject.id}/")
        page.select_option("#reject-form select[name=reason_code]", "insufficient_evidence")
        page.fill("#reject-form [name=note]", "没有截图，无法核实")
        page.click("#reject-form button[type=submit]")
        _asked(page, "买家会立即收到通知")
        expect(page.locator("#confirm-step")).to_contain_text("证据不足")  # what was chosen, in words
        expect(page.locator("#confirm-step")).to_contain_text("没有截图，无法核实")
        assert Refund.objects.get(id=to_reject.id).status == "submitted"
        page.click("#confirm-submit")
        page.wait_for_url(f"**/staff/refunds/{to_reject.id}/")
        assert Refund.objects.get(id=to_reject.id).status == "rejected"

        page.goto(f"/staff/refunds/{to_approve.id}/")
        page.fill("#approve-form [name=note]", "发卡记录显示该卡密异常")
        page.click("#approve-form button[type=submit]")
        _asked(page, "同意后立即退款")
        expect(page.locator("#confirm-step")).to_contain_text("¥10.00")
        assert Refund.objects.get(id=to_approve.id).status == "submitted"
        page.click("#confirm-submit")
        page.wait_for_url(f"**/staff/refunds/{to_approve.id}/")
        assert Refund.objects.get(id=to_approve.id).status in ("approved", "refunding", "refunded")
        assert page.dialogs == []
