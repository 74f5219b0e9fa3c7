"""The case page in a real browser, on a phone and a desktop, in Chinese and English: the step bar, a plain
outcome, 售后中 in the order list, and "are you sure?" before withdrawing (saying no changes nothing)."""

import pytest
from playwright.sync_api import expect

from kameng.aftersales.models import Refund
from tests.page_walk import build_world

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"phone": (390, 844), "desktop": (1280, 900)}
TEXT = {
    "zh-hans": {"stopped": "已驳回", "outcome": "申请被驳回。原因：问题无法复现。", "open": "售后中", "withdraw": "撤回申请",
                "ask": "确定撤回", "current": "审核"},
    "en": {"stopped": "Rejected", "outcome": "The request was rejected. Reason: Not reproducible.",
           "open": "After-sales open", "withdraw": "Withdraw", "ask": "Withdraw this request?", "current": "Review"},
}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("lang", TEXT)
def test_steps_outcome_and_a_confirmation(browser, live_server, make_user, make_product, fund_wallet, login, size, lang,
                                          tmp_path):
    world = build_world(make_user, make_product, fund_wallet)
    text = TEXT[lang]
    width, height = SIZES[size]
    context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": height},
                                  locale="zh-CN" if lang == "zh-hans" else "en-US")
    context.add_cookies([{"name": "django_language", "value": lang, "url": live_server.url}])
    page = context.new_page()
    try:
        login(page, world.users["buyer"], f"/refunds/{world.ids['refund_rejected']}/")
        steps = page.locator("#steps li")
        expect(steps).to_have_count(4)
        expect(steps.nth(1)).to_have_class("step stopped")
        expect(steps.nth(1)).to_contain_text(text["stopped"])
        expect(page.locator("#outcome")).to_contain_text(text["outcome"])
        expect(page.locator("#refund-amount")).to_have_count(0)
        page.screenshot(path=str(tmp_path / f"rejected-{lang}-{size}.png"), full_page=True)

        # The open claim: 售后中 in the order list; withdrawing asks first, and "no" leaves it open.
        page.goto("/orders/")
        expect(page.locator("main")).to_contain_text(text["open"])
        refund_id = world.ids["refund_open"]
        page.goto(f"/refunds/{refund_id}/")
        expect(page.locator("#steps li").nth(1)).to_have_class("step current")
        asked = []

        def say_no(dialog):
            asked.append(dialog.message)
            dialog.dismiss()

        page.once("dialog", say_no)
        page.click("#withdraw")
        expect(page.locator("#withdraw")).to_be_visible()
        assert asked and text["ask"] in asked[0]
        assert Refund.objects.get(id=refund_id).status != "withdrawn"
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("#withdraw")
        expect(page.locator("#steps li").nth(1)).to_have_class("step ended")
        assert Refund.objects.get(id=refund_id).status == "withdrawn"
        assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0
        page.screenshot(path=str(tmp_path / f"withdrawn-{lang}-{size}.png"), full_page=True)
    finally:
        context.close()
