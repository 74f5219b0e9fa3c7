"""The public refund figures, the wallet history and the export button in a real browser, desktop and phone."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from kameng.aftersales.dossier import dossier_verify
from kameng.core import clock
from tests.records.test_transparency import _refund

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SIZES = [(1280, 900), (390, 844)]


def _no_sideways_scroll(page, width):
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("size", SIZES, ids=["desktop", "phone"])
def test_anyone_reads_the_refund_figures(page, make_user, make_product, size, screenshot):
    cache.clear()
    shop = make_user("supplier")
    shop.first_name = "好运卡铺"
    shop.save()
    buyer, product = make_user("buyer"), make_product(owner=shop)
    now = clock.now()
    _refund(buyer, product, 1, "invalid_key", now - timedelta(days=2),
            [(now - timedelta(days=2) + timedelta(hours=3), "approved", "reviewer:r")], "refunded")
    _refund(buyer, product, 2, "changed_mind", now - timedelta(days=1),
            [(now - timedelta(days=1), "approved", "system")], "refunded")
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto("/")
    page.click("footer >> text=售后透明度")  # public: no login
    page.wait_for_url("**/transparency/")
    expect(page.locator("h1")).to_have_text("售后透明度")
    expect(page.locator("#fig-submitted strong")).to_have_text("2")
    expect(page.locator("#fig-approved strong")).to_have_text("100%")
    expect(page.locator("#fig-automatic strong")).to_have_text("50%")
    expect(page.locator("#fig-median strong")).to_have_text("1.5 小时")
    expect(page.locator("table.transparency").first).to_contain_text("卡密无效")
    expect(page.locator("table.transparency").last).to_contain_text("好运卡铺")
    expect(page.locator("table.transparency .bar .fill").first).to_be_visible()
    text = page.inner_text("main")
    for raw in ("invalid_key", "changed_mind", "None", shop.username):
        assert raw not in text, raw
    _no_sideways_scroll(page, size[0])
    screenshot(page, f"transparency-{size[0]}")
    page.click("header.top button[value=en]")
    expect(page.locator("h1")).to_have_text("Refund transparency")
    expect(page.locator("#fig-median strong")).to_have_text("1.5 h")
    _no_sideways_scroll(page, size[0])


@pytest.mark.parametrize("size", SIZES, ids=["desktop", "phone"])
def test_a_buyer_reads_the_wallet_history_and_exports_everything(page, login, buyer, fund_wallet, size, screenshot,
                                                                  tmp_path):
    fund_wallet(buyer, 500)
    fund_wallet(buyer, 1234)
    page.set_viewport_size({"width": size[0], "height": size[1]})
    login(page, buyer, "/wallet/")
    page.click("#wallet-history-link")
    page.wait_for_url("**/wallet/history/")
    rows = page.locator("table.wallet-lines tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("平台赠送")
    expect(rows.first).to_contain_text("+¥12.34")
    expect(rows.first).to_contain_text("¥17.34")  # the balance after it
    expect(rows.last).to_contain_text("¥5.00")
    assert "promotion" not in page.inner_text("main")
    _no_sideways_scroll(page, size[0])
    screenshot(page, f"wallet-history-{size[0]}")
    with page.expect_download() as download:
        page.click("#export-button")
    saved = Path(tmp_path) / "export.zip"
    download.value.save_as(saved)
    assert dossier_verify(saved.read_bytes())
