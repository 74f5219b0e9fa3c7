"""Finance's console in a real browser, on a desktop and on a 390 px phone: from the menu to the book check, a journal
search by order number, and a CSV download that opens in Chinese."""

import csv
import io

import pytest
from playwright.sync_api import expect

from kameng.core.worker import run_queued_tasks
from kameng.orders.services import order_create

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SIZES = [(1280, 900), (390, 844)]


def _open_menu(page):
    if page.locator(".menu-button").is_visible():  # a phone: the header's links are in its menu
        page.click(".menu-button")


@pytest.mark.parametrize("size", SIZES, ids=["desktop", "phone"])
def test_finance_checks_the_book_finds_an_orders_journals_and_downloads_them(page, login, make_user, make_product,
                                                                             fund_wallet, size, screenshot):
    buyer = make_user("buyer")
    fund_wallet(buyer, 10_000)
    product = make_product(keys=2, price="9.80")
    wanted = order_create(buyer=buyer, product_id=product.id, quantity=1, channel="wallet", accept_terms=True)
    other = order_create(buyer=buyer, product_id=product.id, quantity=1, channel="wallet", accept_terms=True)
    run_queued_tasks()
    page.set_viewport_size({"width": size[0], "height": size[1]})
    login(page, make_user("finance"), "/")

    _open_menu(page)
    page.click("header.top >> text=财务台")
    page.wait_for_url("**/finance/")
    page.click("#link-book")
    page.wait_for_url("**/finance/book/")
    expect(page.locator("#book-verdict")).to_have_text("账目平衡")
    expect(page.locator("#book-total")).to_have_text("¥0.00")
    assert page.evaluate("document.documentElement.scrollWidth") <= size[0]
    screenshot(page, f"finance-book-{size[0]}")

    page.click("nav.finance-nav >> text=会计凭证")
    page.wait_for_url("**/finance/journals/")
    page.fill("#id_order_no", wanted.order_no)
    page.click("#journal-search button[type=submit]")
    page.wait_for_url("**order_no=*")
    journals = page.locator("li.journal")
    expect(journals.first).to_be_visible()
    expect(page.locator("main")).to_contain_text(wanted.order_no)
    expect(page.locator("main")).not_to_contain_text(other.order_no)
    expect(journals.first).to_contain_text("9.80")
    text = page.inner_text("main")
    for raw in ("escrow", "wallet:", "payable:", "payment_captured", "order_settled"):
        assert raw not in text, raw
    assert page.evaluate("document.documentElement.scrollWidth") <= size[0]
    screenshot(page, f"finance-journals-{size[0]}")

    with page.expect_download() as download:
        page.click("#csv-journals")
    body = open(download.value.path(), "rb").read()
    assert body.startswith("\ufeff".encode())  # Excel reads the Chinese
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0][:3] == ["凭证号", "时间（北京时间）", "类型"]
    assert len(rows) > 1 and all(row[3] == wanted.order_no for row in rows[1:])
    assert download.value.suggested_filename.startswith("journals-") and download.value.suggested_filename.endswith(".csv")

    page.click("nav.finance-nav >> text=账户余额")
    page.wait_for_url("**/finance/balances/")
    expect(page.locator("main")).to_contain_text("买家钱包余额")
    assert page.evaluate("document.documentElement.scrollWidth") <= size[0]


def test_finance_reads_the_console_in_english(page, login, make_user, fund_wallet):
    fund_wallet(make_user("buyer"), 500)
    login(page, make_user("finance"), "/finance/book/")
    page.click("header.top button[value=en]")
    expect(page.locator("#book-verdict")).to_have_text("The book balances")
    page.click("nav.finance-nav >> text=Journals")
    expect(page.locator("li.journal").first).to_contain_text("Platform credit")


def test_a_buyer_cannot_open_the_console(page, login, buyer):
    login(page, buyer, "/")
    assert page.goto("/finance/").status == 403
    assert page.goto("/finance/journals.csv").status == 403
