"""Evidence in a real browser, desktop and phone, Chinese and English: the case waits for evidence with a
deadline, several files go up at once, thumbnails open an in-page viewer for buyer and reviewer, a wrong
upload is removed before review."""

import io
import shutil

import pytest
from PIL import Image
from playwright.sync_api import expect

from kameng.aftersales.models import Evidence, EvidenceRemoval
from kameng.aftersales.services import refund_create
from kameng.core.worker import run_queued_tasks
from kameng.orders.services import order_create, order_reveal

from .conftest import log_in, watched_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed")]

GOOD = "在王者荣耀兑换页面输入卡密后提示“该卡密已被使用”，时间 11 月 20 日 21:05。"
SIZES = {"desktop": (1280, 900), "phone": (390, 844)}
TEXTS = {
    "zh-CN": {"waiting": "待补充证据", "removed": "买家已撤下", "original": "上传的原始文件 SHA-256"},
    "en-US": {"waiting": "Waiting for evidence", "removed": "Removed by the buyer", "original": "SHA-256 of the file as uploaded"},
}


def picture(path, colour, size=(900, 600)):
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG")
    path.write_bytes(out.getvalue())
    return str(path)


def no_overflow(page, width):
    """What this feature draws fits the screen (the header and the page frame at 390 px are the phone work's)."""
    for selector in ("#evidence-needed", "#evidence", "#evidence-form", ".viewer:target"):
        right = page.evaluate(f"(() => {{ const e = document.querySelector('{selector}'); "
                              "return e ? Math.max(e.getBoundingClientRect().right, e.scrollWidth - e.clientWidth) : 0; })()")
        assert right <= width + 1, (selector, right)


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
@pytest.mark.parametrize("size_name", ["desktop", "phone"])
def test_evidence_upload_view_and_remove(browser, live_server, buyer, make_user, make_product, fund_wallet,
                                         screenshot, tmp_path, locale, size_name):
    size, words = SIZES[size_name], TEXTS[locale]
    product = make_product(keys=2, price="10.00")
    fund_wallet(buyer, 100_000)
    order = order_create(buyer=buyer, product_id=product.id, quantity=1, channel="wallet", accept_terms=True)
    run_queued_tasks()
    order_reveal(user=buyer, order_no=order.order_no, ip_address="127.0.0.1", user_agent="Chrome test")
    refund = refund_create(buyer=buyer, order_no=order.order_no, reason="invalid_key", description=GOOD,
                           destination="wallet")
    reviewer = make_user("reviewer")

    with watched_page(browser, live_server.url, locale=locale, size=size) as page:
        log_in(page, buyer, f"/refunds/{refund.id}/")
        waiting = page.locator("#evidence-needed")
        expect(waiting).to_contain_text(words["waiting"])
        expect(waiting).to_contain_text(refund.evidence_due_at.astimezone().strftime("%Y-%m-%d %H:%M"))
        no_overflow(page, size[0])

        page.set_input_files("#evidence-form input[type=file]",
                             [picture(tmp_path / "wrong.jpg", (200, 30, 30)), picture(tmp_path / "兑换失败.jpg", (30, 30, 200))])
        page.click("#evidence-form button[type=submit]")
        cards = page.locator(".evidence-card[data-kind=image]")
        expect(cards).to_have_count(2)
        expect(page.locator("#evidence-needed")).to_have_count(0)
        first = cards.first
        expect(first).to_contain_text(words["original"])
        thumb = first.locator(".thumb img")
        thumb.scroll_into_view_if_needed()
        expect(thumb).to_be_visible()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0 && img.naturalWidth <= 320",
                               arg=thumb.element_handle())
        # The in-page viewer: the full picture over the page, closed again without leaving it.
        first.locator(".thumb").click()
        viewer = page.locator(".viewer:target")
        expect(viewer).to_be_visible()
        page.wait_for_function("() => { const i = document.querySelector('.viewer:target img'); return i && i.complete && i.naturalWidth === 900; }")
        no_overflow(page, size[0])
        screenshot(page, f"evidence-viewer-{size_name}-{locale}")
        viewer.locator(".viewer-close").click()
        expect(page.locator(".viewer:target")).to_have_count(0)

        wrong = Evidence.objects.get(original_name="wrong.jpg")
        page.locator(f"#evidence-{wrong.id} .remove-evidence").click()
        expect(page.locator(f"#evidence-{wrong.id}")).to_contain_text(words["removed"])
        assert EvidenceRemoval.objects.filter(evidence=wrong).exists()
        no_overflow(page, size[0])
        screenshot(page, f"evidence-buyer-{size_name}-{locale}")

        with watched_page(browser, live_server.url, locale=locale, size=size) as staff:
            log_in(staff, reviewer, f"/staff/refunds/{refund.id}/")
            expect(staff.locator(f"#evidence-{wrong.id}")).to_contain_text(words["removed"])
            kept = staff.locator(".evidence-card[data-kind=image]:not(.removed)")
            kept.locator(".thumb").click()
            staff.wait_for_function("() => { const i = document.querySelector('.viewer:target img'); return i && i.complete && i.naturalWidth === 900; }")
            no_overflow(staff, size[0])
            screenshot(staff, f"evidence-reviewer-{size_name}-{locale}")
        # The reviewer has opened the case: the buyer's remaining upload can no longer be removed.
        page.reload()
        expect(page.locator(".remove-evidence")).to_have_count(0)
