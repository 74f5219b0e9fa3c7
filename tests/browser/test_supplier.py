import pytest
from playwright.sync_api import expect

from kameng.core.worker import run_queued_tasks
from kameng.inventory.models import CardSecret
from kameng.orders.services import order_create
from kameng.payments.services import sandbox_pay

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_supplier_imports_a_key_file_and_watches_it_finish(page, login, supplier, make_product):
    product = make_product(keys=1)
    lines = [f"PAGE-{i:05d}" for i in range(1, 121)] + ["", f"KEY-{product.id}-000000", "PAGE-00001"]
    login(page, supplier, "/supplier/products/")
    page.click(f"a[href='/supplier/products/{product.id}/import/']")
    page.set_input_files("#id_file", files=[{"name": "keys.txt", "mimeType": "text/plain",
                                             "buffer": "\n".join(lines).encode()}])
    page.click("text=开始导入")
    page.wait_for_url("**/supplier/imports/*/")
    expect(page.locator("#import-status")).to_have_text("导入中")
    expect(page.locator("#import-total")).to_have_text("123")

    assert run_queued_tasks() >= 1  # the background worker's turn

    expect(page.locator("#import-status")).to_have_text("已完成")
    expect(page.locator("#import-processed")).to_have_text("123")
    expect(page.locator("#import-imported")).to_have_text("120")
    expect(page.locator("#import-duplicates")).to_have_text("2")
    expect(page.locator("#import-rejected")).to_have_text("1")
    assert CardSecret.objects.filter(product=product).count() == 121
    page.goto("/supplier/products/")
    expect(page.locator("td.stock")).to_have_text("121")


def test_supplier_delivers_a_manual_order(page, login, supplier, buyer, make_product):
    product = make_product(kind="card", is_manual=True)
    order = order_create(buyer=buyer, product_id=product.id, quantity=2, channel="wechat", accept_terms=True)
    sandbox_pay(user=buyer, payment_no=order.payments.get().payment_no)
    login(page, supplier, "/supplier/manual/")
    card = page.locator(f"section[data-order='{order.order_no}']")
    expect(card).to_contain_text(product.name)
    card.locator("input[name$='content_1']").fill("GIFT-AAAA-0001")
    card.locator("input[name$='content_2']").fill("GIFT-AAAA-0002")
    card.locator("button[type=submit]").click()
    expect(page.locator(".msg.success")).to_contain_text(order.order_no)
    expect(page.locator(f"section[data-order='{order.order_no}']")).to_have_count(0)
    assert "GIFT-AAAA" not in page.content()
    order.refresh_from_db()
    assert order.status == "delivered"
