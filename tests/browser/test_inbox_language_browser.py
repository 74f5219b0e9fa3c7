"""站内信 in the reader's language, in a real browser on a desktop and a 390 px phone: a buyer switches the page to
English, reads the refund's messages in English, and the choice is remembered for the SMS that follow."""

import pytest

from kameng.notifications.models import OutboxMessage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BAD = "在兑换页面输入卡密后提示“卡密无效”，时间 11 月 20 日 21:05，截图已上传。"


def _approved_refund(make_product, make_user, fund_wallet):
    from kameng.aftersales.decisions import refund_approve
    from kameng.aftersales.services import refund_create
    from kameng.orders.services import order_create, order_reveal

    buyer = make_user("buyer")
    fund_wallet(buyer, 10_000)
    order = order_create(buyer=buyer, product_id=make_product(keys=2, price="10.00").id, quantity=1, channel="wallet",
                         accept_terms=True)
    order_reveal(user=buyer, order_no=order.order_no)
    refund = refund_create(buyer=buyer, order_no=order.order_no, reason="invalid_key", description=BAD,
                           destination="wallet")
    return buyer, refund, make_user("reviewer"), refund_approve


@pytest.mark.parametrize("size", [(1280, 900), (390, 844)], ids=["desktop", "phone"])
def test_a_buyer_reads_the_inbox_in_english_and_the_next_sms_is_english(page, login, make_product, make_user,
                                                                        fund_wallet, size, screenshot):
    buyer, refund, reviewer, approve = _approved_refund(make_product, make_user, fund_wallet)
    page.set_viewport_size({"width": size[0], "height": size[1]})
    login(page, buyer, "/inbox/")
    assert page.locator(".inbox-row").first.inner_text().count("退款") >= 1  # Chinese by default
    page.click("header.top button[value=en]")
    page.wait_for_url("**/inbox/")
    assert f"({refund.refund_no})" in page.locator(".inbox-row").first.inner_text()
    buyer.refresh_from_db()
    assert buyer.language == "en"  # switching the page language is remembered for messages

    approve(actor=reviewer, refund_id=refund.id, note="checked")  # the next event: an SMS, now in English
    [sms] = OutboxMessage.objects.filter(channel="sms", recipient=buyer.phone)
    assert sms.body.startswith(f"[Kameng] Refund received ({refund.refund_no}): Your refund of ¥10.00")

    page.reload()
    newest = page.locator(".inbox-row").first.inner_text()
    assert f"Refund received ({refund.refund_no})" in newest and "¥10.00" in newest and "：" not in newest
    assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0
    screenshot(page, f"inbox-en-{size[0]}")

    page.goto("/settings/")
    assert page.locator("#language-form input[value=en]").is_checked()
    page.check("#language-form input[value=zh-hans]")
    page.click("#language-form button[type=submit]")
    page.wait_for_url("**/settings/")
    assert page.locator("html").get_attribute("lang") == "zh-CN"  # the pages follow the saved language
    buyer.refresh_from_db()
    assert buyer.language == "zh-hans"
