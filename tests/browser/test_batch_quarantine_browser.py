"""批次隔离 in a real browser, on a desktop and a 390 px phone: the admin reads a quarantined batch, voids it only
after confirming, and releases another."""

import pytest
from playwright.sync_api import expect

from kameng.inventory.models import CardSecret, ImportBatch
from kameng.notifications.models import InboxMessage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BAD = "在兑换页面输入卡密后提示“卡密无效”，时间 11 月 20 日 21:05，截图已上传。"


def quarantined_batch(make_product, make_user, fund_wallet, supplier):
    """A batch of 6 keys, two sold and approved bad: quarantined by the rule, not by hand."""
    from kameng.aftersales.services import refund_create
    from kameng.aftersales.supplier_claims import claim_accept
    from kameng.orders.services import order_create, order_reveal

    product = make_product(keys=6, price="10.00")
    for _ in range(2):
        buyer = make_user("buyer")
        fund_wallet(buyer, 10_000)
        order = order_create(buyer=buyer, product_id=product.id, quantity=1, channel="wallet", accept_terms=True)
        order_reveal(user=buyer, order_no=order.order_no)
        refund = refund_create(buyer=buyer, order_no=order.order_no, reason="invalid_key", description=BAD,
                               destination="wallet")
        claim_accept(supplier=supplier, refund_id=refund.id)
    batch = ImportBatch.objects.get(product=product)
    assert batch.quarantine == "quarantined"
    return batch


@pytest.mark.parametrize("size", [(1280, 900), (390, 844)], ids=["desktop", "phone"])
def test_the_admin_voids_after_confirming_and_releases(page, login, make_user, make_product, fund_wallet, supplier,
                                                       settings, size, screenshot):
    settings.KAMENG_QUARANTINE_MIN_DEFECTS = 2
    settings.KAMENG_QUARANTINE_DEFECT_SHARE = "0.5"
    first = quarantined_batch(make_product, make_user, fund_wallet, supplier)
    second = quarantined_batch(make_product, make_user, fund_wallet, supplier)
    admin = make_user("admin")
    page.set_viewport_size({"width": size[0], "height": size[1]})
    login(page, admin, "/")
    if page.locator(".menu-button").is_visible():  # a phone: the header's links are in its menu
        page.click(".menu-button")
    page.click("header.top >> text=批次隔离")
    page.wait_for_url("**/staff/batches/")
    assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0

    card = page.locator(f"section[data-batch='{first.id}']")
    expect(card.locator(".state")).to_have_text("已隔离")
    expect(card.locator(".frozen")).to_have_text("4")
    expect(card.locator(".defects")).to_contain_text("2（100.0%）")
    # Voiding asks first: the confirm button is hidden until the admin opens the confirmation.
    confirm = card.locator(".batch-void button.confirm-void")
    expect(confirm).to_be_hidden()
    card.locator(".batch-void summary").click()
    expect(card.locator(".batch-void")).to_contain_text("4 张未售出的卡密将永不销售")
    assert CardSecret.objects.filter(batch=first, status="frozen").count() == 4  # nothing happened yet
    card.locator(".batch-void textarea").fill("供货商承认该批卡密来源有问题")
    confirm.click()
    expect(page.locator("main")).to_contain_text(f"批次 #{first.id} 已作废")
    assert CardSecret.objects.filter(batch=first, status="voided").count() == 6
    expect(page.locator(f"section[data-batch='{first.id}']")).to_have_count(0)  # gone from the quarantined tab

    other = page.locator(f"section[data-batch='{second.id}']")
    other.locator(".batch-release textarea").fill("核实为买家误操作")
    other.locator(".batch-release button").click()
    expect(page.locator("main")).to_contain_text(f"批次 #{second.id} 已解除隔离")
    assert CardSecret.objects.filter(batch=second, status="available").count() == 4
    page.click("nav.tabs >> text=已解除隔离")
    released = page.locator(f"section[data-batch='{second.id}']")
    expect(released).to_contain_text("核实为买家误操作")
    expect(released).to_contain_text(admin.username)
    assert page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0
    screenshot(page, f"batches-{size[0]}")
    assert InboxMessage.objects.filter(user=supplier, title__contains="已作废").count() == 1
