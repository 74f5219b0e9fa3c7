"""The finance page in a real browser: runs and their unmatched lines, on a desktop and on a 390 px phone."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from kameng.core import clock
from kameng.payments.models import ReconciliationLine, ReconciliationRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BEIJING = ZoneInfo("Asia/Shanghai")


def _runs():
    now = clock.now()
    ReconciliationRun.objects.create(channel="wechat", day=date(2026, 11, 20), source="gateway", actor="system",
                                     status="failed", error="NOT_CONFIGURED: the wechat channel is not configured here",
                                     started_at=now, finished_at=now)
    ReconciliationRun.objects.create(channel="wechat", day=date(2026, 11, 21), source="gateway", actor="system",
                                     status="balanced", statement_lines=3, matched=3, started_at=now, finished_at=now)
    run = ReconciliationRun.objects.create(
        channel="alipay", day=date(2026, 11, 22), source="file", file_name="2088_20261122_bill.zip", actor="cli",
        status="differences", statement_lines=4, matched=1, missing_here=2, missing_there=1, amount_differs=1,
        repaired=1, started_at=now, finished_at=now)
    at = datetime(2026, 11, 22, 23, 59, 58, tzinfo=BEIJING)
    rows = [
        ("payment", "missing_here", "P20261122235958ABCDEF0123456789", "2026112222001499991234567890", 1000, 1000,
         "NOT_RECORDED_PAID", "captured"),
        ("payment", "missing_here", "P-UNKNOWN-000000000000000000001", "2026112222001400000000000001", 500, None,
         "UNKNOWN_TO_US", ""),
        ("payment", "amount_differs", "P20261122101010ABCDEF0123456789", "2026112222001411112222333344", 999, 1000,
         "AMOUNT_DIFFERS", ""),
        ("refund", "missing_there", "R20261122101010ABCDEF01234567", "", None, 300, "NOT_ON_STATEMENT", ""),
    ]
    for kind, category, ours, theirs, stated, recorded, reason, repair in rows:
        ReconciliationLine.objects.create(run=run, kind=kind, category=category, our_no=ours, their_no=theirs,
                                          statement_amount_fen=stated, our_amount_fen=recorded, at=at,
                                          order_no="O2026112200000001", reason=reason, repair=repair)
    return run


@pytest.mark.parametrize("size", [(1280, 900), (390, 844)], ids=["desktop", "phone"])
def test_finance_reads_the_reconciliation_runs(page, login, make_user, size, screenshot):
    run = _runs()
    page.set_viewport_size({"width": size[0], "height": size[1]})
    login(page, make_user("finance"), "/")
    if page.locator(".menu-button").is_visible():  # a phone: the header's links are in its menu
        page.click(".menu-button")
    page.click("header.top >> text=对账")
    page.wait_for_url("**/finance/reconciliation/")
    card = page.locator(f"section[data-run='{run.id}']")
    expect(card.locator("h2")).to_have_text("支付宝 · 2026年11月22日")
    expect(card).to_contain_text("存在差异")
    expect(card).to_contain_text("下载的账单文件（2088_20261122_bill.zip）")
    expect(card.locator(".recon-lines li")).to_have_count(4)
    repaired = card.locator(".recon-lines li.repaired")
    expect(repaired).to_contain_text("已补记收款")
    expect(repaired).to_contain_text("¥10.00")
    expect(repaired).to_contain_text("2026-11-22 23:59:58")  # Beijing time
    expect(card.locator(".recon-lines li.c-amount_differs")).to_contain_text("¥9.99")
    expect(card.locator(".recon-lines li.c-missing_there")).to_contain_text("网关无记录")
    expect(page.locator("section.recon-run.s-balanced h2")).to_have_text("微信支付 · 2026年11月21日")
    expect(page.locator("section.recon-run.s-failed")).to_contain_text("未取得账单：该支付渠道未配置")
    text = page.inner_text("main")
    for raw in ("alipay", "wechat", "missing_here", "NOT_RECORDED_PAID", "captured", "differences", "None"):
        assert raw not in text, raw
    # Nothing runs off the side of a phone: the page is as wide as the screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= size[0]
    screenshot(page, f"finance-reconciliation-{size[0]}")

    page.click("nav.tabs >> text=微信支付")
    expect(page.locator("section.recon-run")).to_have_count(2)


def test_a_buyer_cannot_open_the_finance_page(page, login, buyer):
    login(page, buyer, "/")
    answer = page.goto("/finance/reconciliation/")
    assert answer.status == 403
