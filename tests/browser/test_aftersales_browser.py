"""After-sales in a real browser: a buyer applies with evidence, a reviewer asks, the buyer answers, approved."""

import io
import re
import shutil

import pytest
from PIL import Image
from playwright.sync_api import expect

from kameng.aftersales.models import Evidence, Refund
from kameng.core.worker import run_queued_tasks
from kameng.orders.services import order_create, order_reveal

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GOOD = "在王者荣耀兑换页面输入卡密后提示“该卡密已被使用”，时间 11 月 20 日 21:05。"


@pytest.fixture
def revealed_order(buyer, make_product, fund_wallet):
    product = make_product(keys=3, price="10.00", description="全国通用游戏点卡")
    fund_wallet(buyer, 100_000)
    order = order_create(buyer=buyer, product_id=product.id, quantity=2, channel="wallet", accept_terms=True)
    run_queued_tasks()
    order_reveal(user=buyer, order_no=order.order_no, ip_address="127.0.0.1", user_agent="Chrome test")
    return order


@pytest.fixture
def screenshot_png(tmp_path):
    out = io.BytesIO()
    Image.new("RGB", (64, 32), (220, 40, 40)).save(out, format="PNG")
    path = tmp_path / "兑换失败截图.png"
    path.write_bytes(out.getvalue())
    return path


@pytest.mark.skipif(not shutil.which("chromium"), reason="Debian's chromium is not installed")
def test_refund_from_request_to_refunded(page, staff_page, login, screenshot, buyer, make_user, revealed_order,
                                         screenshot_png):
    order = revealed_order
    reviewer = make_user("reviewer")

    # The buyer opens the order and asks for after-sales.
    login(page, buyer, f"/orders/{order.order_no}/")
    page.click("#apply-refund")
    page.wait_for_url(f"**/orders/{order.order_no}/refund/")
    options = page.locator("#refund-options")
    # Before submitting: each reason, eligible or not and why, evidence, the fee and the deadline.
    invalid_key = options.locator("tr[data-reason=invalid_key]")
    expect(invalid_key).to_contain_text("可申请")
    expect(invalid_key).to_contain_text("需要")
    expect(invalid_key).to_contain_text("¥20.00")
    expect(invalid_key).to_contain_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d"))
    changed_mind = options.locator("tr[data-reason=changed_mind]")
    expect(changed_mind).to_contain_text("不可申请")
    expect(changed_mind).to_contain_text("卡密已被查看")
    expect(changed_mind.locator("input[type=radio]")).to_be_disabled()
    expect(page.locator("#description-hint")).to_contain_text("请具体说明")

    # Unticking an item recomputes the amounts on the server (static script, no inline JS).
    page.locator("input[name=items]").first.uncheck()
    expect(options.locator("tr[data-reason=invalid_key]")).to_contain_text("¥10.00")
    page.locator("input[name=items]").first.check()
    expect(options.locator("tr[data-reason=invalid_key]")).to_contain_text("¥20.00")

    # A vague description is refused, and what was typed stays.
    invalid_key.locator("input[type=radio]").check()
    page.fill("#id_description", "不能用，退款")
    page.set_input_files("#id_file", str(screenshot_png))
    page.click("#submit-refund")
    expect(page.locator(".error-box")).to_contain_text("描述过于笼统")
    expect(page.locator("#id_description")).to_have_value("不能用，退款")
    assert not Refund.objects.exists()

    page.fill("#id_description", GOOD)
    page.set_input_files("#id_file", str(screenshot_png))
    page.click("#submit-refund")
    page.wait_for_url(re.compile(r"/refunds/\d+/$"))
    refund = Refund.objects.get()
    expect(page.locator("#refund-status")).to_have_text("待审核")
    evidence = Evidence.objects.get(refund=refund, source="buyer")
    expect(page.locator("#evidence")).to_contain_text("兑换失败截图.png")
    expect(page.locator("#evidence")).to_contain_text(evidence.sha256[:16])

    # A reviewer works the queue and asks for more.
    login(staff_page, reviewer, "/")
    staff_page.click("header >> text=审核台")
    staff_page.wait_for_url("**/staff/refunds/")
    staff_page.click(f"text={refund.refund_no}")
    staff_page.wait_for_url(f"**/staff/refunds/{refund.id}/")
    expect(staff_page.locator("#deliveries")).to_contain_text("否，仅发给本订单")
    expect(staff_page.locator("#reveals")).to_contain_text("127.0.0.1")
    expect(staff_page.locator("#compare")).to_contain_text("全国通用游戏点卡")
    expect(staff_page.locator("#evidence")).to_contain_text("兑换失败截图.png")
    screenshot(staff_page, "staff-case")
    staff_page.fill("#id_message", "请补充兑换页面的完整截图，包含时间。")
    staff_page.click("#info-form button[type=submit]")
    expect(staff_page.locator("#refund-status")).to_have_text("待补充材料")

    # The buyer sees the request highlighted and answers.
    page.reload()
    expect(page.locator("#info-request")).to_contain_text("请补充兑换页面的完整截图")
    page.fill("#id_body", "已补充：完整截图见上传的证据，提示“卡密无效”，时间 21:05。")
    page.click("#message-form button[type=submit]")
    expect(page.locator(".msg.success")).to_contain_text("已补充")
    expect(page.locator("#refund-status")).to_have_text("待审核")

    # The reviewer approves; a wallet order is paid back at once.
    staff_page.reload()
    staff_page.fill("#id_note", "截图与发卡记录一致")
    staff_page.click("#approve-form button[type=submit]")
    expect(staff_page.locator(".msg.success")).to_contain_text("已同意退款")

    page.reload()
    expect(page.locator("#refund-status")).to_have_text("已退款")
    timeline = page.locator("#timeline")
    for label in ("提交申请", "上传证据", "审核员请求补充材料", "买家已补充", "审核通过", "退款到账"):
        expect(timeline).to_contain_text(label)
    expect(timeline).to_contain_text(f"审核员 {reviewer.username}")
    screenshot(page, "refund")
