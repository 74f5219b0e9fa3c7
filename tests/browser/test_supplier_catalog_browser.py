"""A supplier's day in a real browser, on a 390 px phone and on a desktop: change a price, take a product off
sale, import a key file with bad lines and read which lines; then withdraw money and watch finance pay it."""

import pytest
from playwright.sync_api import expect

from kameng.catalog.models import Product, ProductChange
from kameng.core.worker import run_queued_tasks
from kameng.ledger.models import Withdrawal
from kameng.ledger.services import Accounts, Line, journal_post

from .conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = pytest.mark.parametrize("size", [(390, 844), (1280, 900)], ids=["phone", "desktop"])


def _no_sideways_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), page.url


@SIZES
def test_supplier_changes_a_price_takes_the_product_off_sale_and_reads_the_import_report(
        page, supplier, make_product, size, screenshot):
    page.set_viewport_size({"width": size[0], "height": size[1]})
    product = make_product(keys=1, price="10.00")  # KEY-<id>-000000 is in stock
    log_in(page, supplier, "/supplier/products/")
    row = page.locator("tr", has=page.locator(f"a[href='/supplier/products/{product.id}/edit/']"))
    expect(row.locator("td.stock")).to_have_text("1")
    expect(row.locator(".sale-state")).to_have_text("在售")

    # A new price, and a refund rule the platform refuses first: said at its field, nothing saved.
    row.locator(f"td.row-actions a[href='/supplier/products/{product.id}/edit/']").click()  # the 编辑 button
    page.wait_for_url(f"**/supplier/products/{product.id}/edit/")
    page.fill("#id_price", "12.80")
    page.evaluate("document.getElementById('id_personal_reason_fee_rate').removeAttribute('max')")
    page.fill("#id_personal_reason_fee_rate", "0.50")
    page.click("#product-form button[type=submit]")
    expect(page.locator(".field.has-error")).to_contain_text("0.00 到 0.10")
    assert Product.objects.get(id=product.id).price_fen == 1000
    _no_sideways_scroll(page)
    page.fill("#id_personal_reason_fee_rate", "0.03")
    page.click("#product-form button[type=submit]")
    expect(page.locator(".msg.success")).to_contain_text("只适用于此后的新订单")
    edited = page.locator(".product-history tr[data-event='edited']")
    expect(edited).to_contain_text("¥10.00")
    expect(edited).to_contain_text("¥12.80")
    expect(edited).to_contain_text("5%")
    expect(edited).to_contain_text("3%")
    _no_sideways_scroll(page)
    screenshot(page, f"supplier-edit-{size[0]}")

    # 下架: the confirmation says what it does; the shop no longer lists or sells it.
    page.click("#sale-button")
    assert "买家看不到" in page.dialogs[-1]
    expect(page.locator("#sale-state")).to_have_text("已下架")
    expect(page.locator("#sale-button")).to_have_text("上架")
    assert not Product.objects.get(id=product.id).is_active
    assert ProductChange.objects.filter(product=product, event="off_sale").count() == 1
    assert page.request.get(f"/products/{product.id}/").status == 404

    # A key file with a blank line, a repeat and a key already in stock: the report names their lines only.
    page.goto(f"/supplier/products/{product.id}/import/")
    body = "\n".join(["BROWSER-1", "", "BROWSER-2", "BROWSER-1", f"KEY-{product.id}-000000", "BROWSER-3"])
    page.set_input_files("#id_file", files=[{"name": "keys.txt", "mimeType": "text/plain", "buffer": body.encode()}])
    page.click("text=开始导入")
    page.wait_for_url("**/supplier/imports/*/")
    expect(page.locator("#import-report")).to_contain_text("导入完成后")
    # The worker's turn, with the page closed: on SQLite the live server shares this test's one connection,
    # and the page's status polling at the same moment would collide with the job on it ("table is locked").
    report_url = page.url
    page.goto("about:blank")
    assert run_queued_tasks() >= 1
    page.goto(report_url)
    expect(page.locator("#import-status")).to_have_text("已完成")
    report = page.locator("#import-report table.report-lines")
    expect(report.locator("tbody tr")).to_have_count(3)
    expect(report.locator("tr[data-first='2']")).to_contain_text("空行")
    expect(report.locator("tr[data-first='4']")).to_contain_text("与本次导入中前面的行重复")
    expect(report.locator("tr[data-first='5']")).to_contain_text("平台上已有该卡密")
    assert "BROWSER-" not in page.content()
    _no_sideways_scroll(page)
    screenshot(page, f"supplier-import-report-{size[0]}")
    with page.expect_download() as download:
        page.click("#report-csv")
    text = open(download.value.path(), encoding="utf-8-sig").read()
    assert text.splitlines() == ["行号,原因", "2,空行", "4,与本次导入中前面的行重复", "5,平台上已有该卡密"]

    # Back on the list: the product is off sale with its new stock, and the import links its report.
    page.goto("/supplier/products/")
    row = page.locator("tr", has=page.locator(f"a[href='/supplier/products/{product.id}/edit/']"))
    expect(row.locator(".sale-state")).to_have_text("已下架")
    expect(row.locator("td.stock")).to_have_text("4")
    expect(page.locator("table.batches a.report-link").first).to_be_visible()
    _no_sideways_scroll(page)


@SIZES
def test_supplier_withdraws_and_finance_pays_it_once(page, staff_page, supplier, make_user, size, screenshot):
    for p in (page, staff_page):
        p.set_viewport_size({"width": size[0], "height": size[1]})
    # Sales that have passed their refund window: ¥20.00 available (moved as the settlement sweep does).
    journal_post(reference="browser:matured", kind="supplier_matured",
                 lines=[Line(Accounts.payable(supplier.id), 2000), Line(Accounts.available(supplier.id), -2000)])
    log_in(page, supplier, "/supplier/money/")
    expect(page.locator("#available")).to_contain_text("¥20.00")

    # More than available: refused, nothing frozen.
    page.fill("#withdraw-amount", "25.00")
    page.click("#withdraw-button")
    expect(page.locator(".msg.error")).to_be_visible()
    expect(page.locator("#available")).to_contain_text("¥20.00")
    assert not Withdrawal.objects.exists()

    page.fill("#withdraw-amount", "12.50")
    page.click("#withdraw-button")
    expect(page.locator(".msg.success")).to_contain_text("12.50")
    expect(page.locator("#available")).to_contain_text("¥7.50")
    expect(page.locator("#withdrawing")).to_contain_text("¥12.50")
    expect(page.locator("table.withdrawals tbody tr").first).to_contain_text("待审核")
    _no_sideways_scroll(page)
    withdrawal = Withdrawal.objects.get()

    finance = make_user("finance")
    log_in(staff_page, finance, "/finance/withdrawals/")
    card = staff_page.locator(f"section[data-withdrawal='{withdrawal.id}']")
    expect(card).to_contain_text("¥12.50")
    expect(card).to_contain_text(supplier.username)
    _no_sideways_scroll(staff_page)
    screenshot(staff_page, f"finance-withdrawals-{size[0]}")
    card.locator("button.approve").click()
    assert "12.50" in staff_page.dialogs[-1]
    expect(staff_page.locator(".msg.success")).to_contain_text("已确认打款")
    expect(staff_page.locator(f"section[data-withdrawal='{withdrawal.id}']")).to_contain_text("已打款")
    expect(staff_page.locator(f"section[data-withdrawal='{withdrawal.id}'] button.approve")).to_have_count(0)

    # Paid once: the supplier sees it withdrawn; a second approval (a stale tab) pays nothing more.
    page.reload()
    expect(page.locator("#withdrawn")).to_contain_text("¥12.50")
    expect(page.locator("#withdrawing")).to_contain_text("¥0.00")
    expect(page.locator("table.withdrawals tbody tr").first).to_contain_text("已打款")
    _no_sideways_scroll(page)
    screenshot(page, f"supplier-money-{size[0]}")
    token = staff_page.locator("input[name=csrfmiddlewaretoken]").first.input_value()
    again = staff_page.request.post(f"/finance/withdrawals/{withdrawal.id}/decide/",
                                    form={"action": "approve", "csrfmiddlewaretoken": token})
    assert again.ok  # the page answers with a message, not a second payment
    withdrawal.refresh_from_db()
    assert withdrawal.status == "paid"
    page.reload()
    expect(page.locator("#withdrawn")).to_contain_text("¥12.50")
