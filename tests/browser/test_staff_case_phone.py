"""The reviewer's case page at 390 px, in English (longer labels than Chinese) and Chinese, in its fullest
state: supplier contested with a long note, escalated, evidence deadline passed, a request for information
open, a long file name, a revealed key with a long browser string, a changed product page. Nothing wider
than the screen."""

import shutil
from urllib.parse import urlparse

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from kameng.aftersales.deadlines import DEADLINES
from kameng.aftersales.decisions import refund_request_info
from kameng.aftersales.services import evidence_add, evidence_remove, refund_create
from kameng.core import clock
from kameng.orders.services import order_create, order_reveal
from tests.aftersales.conftest import contested

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed")]

OVERFLOW = "document.scrollingElement.scrollWidth - window.innerWidth"
GOOD = "在王者荣耀兑换页面输入卡密后提示“该卡密已被使用”，时间 11 月 20 日 21:05。"


def _full_case(buyer, reviewer, make_product, fund_wallet):
    fund_wallet(buyer, 100_000)
    product = make_product(keys=3, price="10.00", description="全国通用游戏点卡 " * 20)
    order = order_create(buyer=buyer, product_id=product.id, quantity=2, channel="wallet", accept_terms=True)
    order_reveal(user=buyer, order_no=order.order_no, ip_address="2001:db8:85a3:0000:0000:8a2e:0370:7334",
                 user_agent="Mozilla/5.0 (Linux; Android 14; SM-S9180 Build/UP1A.231005.007; wv) AppleWebKit/537.36 "
                            "(KHTML, like Gecko) Version/4.0 Chrome/125.0.6422.165 Mobile Safari/537.36 "
                            "MicroMessenger/8.0.49.2600(0x28003133) WeChat/arm64 Weixin NetType/WIFI Language/zh_CN")
    refund = refund_create(buyer=buyer, order_no=order.order_no, reason="invalid_key",
                           description=GOOD + " " + "兑换码区分大小写吗？" * 10)
    contested(refund.id)
    wrong = evidence_add(user=buyer, refund_id=refund.id, uploaded_file=SimpleUploadedFile(
        "a_very_long_screenshot_file_name_from_a_phone_camera_IMG_20261120_210512345_HDR_portrait.txt", b"wrong"))
    evidence_remove(user=buyer, refund_id=refund.id, evidence_id=wrong.id)
    clock.advance(seconds=(refund.evidence_due_at - clock.now()).total_seconds() + 60)
    for deadline in DEADLINES:
        deadline.run()  # evidence deadline passed with no file: the 未补充证据 badges
    clock.advance(seconds=(refund.__class__.objects.get(id=refund.id).sla_due_at - clock.now()).total_seconds() + 60)
    for deadline in DEADLINES:
        deadline.run()  # escalated
    refund_request_info(actor=reviewer, refund_id=refund.id, message="Please send the full screenshot " * 8)
    product.description = "changed " * 30
    product.save()
    return refund


@pytest.mark.parametrize("lang", ["en", "zh-hans"])
def test_the_fullest_staff_case_fits_a_phone(browser, live_server, buyer, make_user, make_product, fund_wallet,
                                             lang, tmp_path):
    reviewer = make_user("reviewer")
    refund = _full_case(buyer, reviewer, make_product, fund_wallet)
    host = urlparse(live_server.url).hostname
    client = Client()
    client.force_login(reviewer)
    context = browser.new_context(base_url=live_server.url, viewport={"width": 390, "height": 844})
    context.add_cookies([{"name": "django_language", "value": lang, "domain": host, "path": "/"},
                         {"name": "sessionid", "value": client.cookies["sessionid"].value, "domain": host, "path": "/"}])
    try:
        page = context.new_page()
        for path in (f"/staff/refunds/{refund.id}/", "/staff/refunds/"):
            response = page.goto(path)
            assert response.status == 200
            wide = page.evaluate("""() => [...document.querySelectorAll('main *')]
                .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
                .slice(0, 8).map(e => e.tagName + '.' + e.className + ' ' + (e.id || '') + ' '
                                 + Math.round(e.getBoundingClientRect().right))""")
            page.screenshot(path=str(tmp_path / f"{lang}-{path.strip('/').replace('/', '-')}.png"), full_page=True)
            assert page.evaluate(OVERFLOW) <= 0 and not wide, (path, wide)
        if lang == "en":
            page.goto(f"/staff/refunds/{refund.id}/")
            assert "No evidence supplied" in page.content()
    finally:
        context.close()
