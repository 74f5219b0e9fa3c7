"""After-sales pages through Django's test client: the buyer's apply / refund pages, the inbox, the console."""

import io
import re
import zipfile
from datetime import timedelta

import pytest
from PIL import Image

from kameng.aftersales.models import Evidence, Refund
from kameng.core import clock
from kameng.core.worker import run_queued_tasks
from kameng.notifications.models import InboxMessage
from kameng.orders.services import order_create, order_reveal

# The database first, so it outlives every other fixture of the test (the ledger check among them).
pytestmark = pytest.mark.django_db

GOOD = "在王者荣耀兑换页面输入卡密后提示“该卡密已被使用”，时间 11 月 20 日 21:05。"


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def upload(name="screen.png", data=None, content_type="image/png"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data if data is not None else png_bytes(), content_type=content_type)


@pytest.fixture
def order(buyer, make_product, fund_wallet):
    """A buyer's delivered wallet order of two keys; `order(reveal=True)` has them revealed."""

    def make(reveal=False, quantity=2):
        product = make_product(keys=quantity + 1, price="10.00")
        fund_wallet(buyer, 100_000)
        placed = order_create(buyer=buyer, product_id=product.id, quantity=quantity, channel="wallet", accept_terms=True)
        run_queued_tasks()
        placed.refresh_from_db()
        if reveal:
            order_reveal(user=buyer, order_no=placed.order_no, ip_address="10.0.0.1", user_agent="pytest")
        return placed

    return make


@pytest.fixture
def applied(order, client_as, buyer):
    """A revealed order with an invalid_key request made on the apply page (with a screenshot)."""
    placed = order(reveal=True)
    client = client_as(buyer)
    response = client.post(f"/orders/{placed.order_no}/refund/", {
        "items": [i.id for i in placed.items.all()], "reason": "invalid_key", "description": GOOD,
        "destination": "original", "file": upload(),
    })
    refund = Refund.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/refunds/{refund.id}/"
    return client, refund


@pytest.fixture
def clock_advance(api_as, admin):
    def move(hours):
        response = api_as(admin).post("/sandbox/clock/advance", {"hours": hours})
        assert response.status_code == 200, response.content
        run_queued_tasks()

    return move


def text(response) -> str:
    return response.content.decode()


def test_the_order_page_links_to_the_apply_page(order, client_as, buyer):
    placed = order()
    page = text(client_as(buyer).get(f"/orders/{placed.order_no}/"))
    assert f"/orders/{placed.order_no}/refund/" in page and "申请售后" in page


def test_apply_page_shows_every_reason_with_eligibility_fee_and_deadline_before_submitting(order, client_as, buyer):
    placed = order()  # never revealed: a personal reason is allowed, with the 5% fee
    response = client_as(buyer).get(f"/orders/{placed.order_no}/refund/")
    assert response.status_code == 200
    page = text(response)
    for label in ("未发货", "卡密无效", "卡密已被使用", "与描述不符", "充值未到账", "系统错误", "不想要了", "充错账号"):
        assert label in page
    row = re.search(r'data-reason="changed_mind".*?</tr>', page, re.S).group(0)
    assert "可申请" in row and "5%" in row and "¥1.00" in row and "¥19.00" in row  # 2 × ¥10, 5% fee
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", row)  # the deadline
    not_delivered = re.search(r'data-reason="not_delivered".*?</tr>', page, re.S).group(0)
    assert "不可申请" in not_delivered and "disabled" in not_delivered and "已发货" in not_delivered
    assert "请具体说明" in page  # the hint of what a good description says
    assert 'value="original"' in page and 'value="wallet"' in page
    assert page.count('name="items"') == 2 and page.count("checked") >= 2


def test_choosing_fewer_items_recomputes_the_fee(order, client_as, buyer):
    placed = order()
    first = placed.items.order_by("position").first()
    page = text(client_as(buyer).post(f"/orders/{placed.order_no}/refund/", {"items": [first.id], "recalc": "1"}))
    row = re.search(r'data-reason="changed_mind".*?</tr>', page, re.S).group(0)
    assert "¥0.50" in row and "¥9.50" in row
    assert not Refund.objects.exists()


def test_a_vague_description_is_refused_and_the_form_keeps_its_values(order, client_as, buyer):
    placed = order(reveal=True)
    response = client_as(buyer).post(f"/orders/{placed.order_no}/refund/", {
        "items": [i.id for i in placed.items.all()], "reason": "invalid_key", "description": "不能用，退款",
        "destination": "wallet",
    })
    assert response.status_code == 422
    page = text(response)
    assert "描述过于笼统" in page and "不能用，退款</textarea>" in page
    assert re.search(r'value="invalid_key"[^>]*checked', page) and re.search(r'value="wallet"[^>]*checked', page)
    assert not Refund.objects.exists()


def test_an_ineligible_reason_is_a_message_not_a_refund(order, client_as, buyer):
    placed = order(reveal=True)  # revealed: "changed mind" no longer applies
    response = client_as(buyer).post(f"/orders/{placed.order_no}/refund/", {
        "items": [i.id for i in placed.items.all()], "reason": "changed_mind", "description": GOOD,
        "destination": "original",
    })
    assert response.status_code == 409 and "卡密已被查看" in text(response)
    assert not Refund.objects.exists()


def test_apply_with_evidence_then_the_refund_page_shows_everything(applied, buyer):
    client, refund = applied
    evidence = Evidence.objects.get(refund=refund, source="buyer")
    page = text(client.get(f"/refunds/{refund.id}/"))
    assert "待审核" in page and "卡密无效" in page and "¥20.00" in page
    assert evidence.sha256 in page and "screen.png" in page and "platform_record.json" in page
    assert "提交申请" in page and "上传证据" in page  # the timeline and its events
    assert "审核截止" in page and "撤回申请" in page and 'id="urge"' not in page and 'id="appeal-form"' not in page
    listing = text(client.get("/refunds/"))
    assert refund.refund_no in listing


def test_another_buyer_gets_404_and_non_buyers_403(applied, client_as, make_user, supplier, reviewer):
    _, refund = applied
    other = client_as(make_user("buyer"))
    evidence = refund.evidence.first()
    for url in (f"/refunds/{refund.id}/", f"/refunds/{refund.id}/dossier/", f"/refunds/{refund.id}/evidence/{evidence.id}/",
                f"/orders/{refund.order.order_no}/refund/"):
        assert other.get(url).status_code == 404, url
    assert other.post(f"/refunds/{refund.id}/withdraw/").status_code == 404
    assert client_as(reviewer).get(f"/refunds/{refund.id}/").status_code == 403
    assert client_as(supplier).get(f"/refunds/{refund.id}/").status_code == 403
    refund.refresh_from_db()
    assert refund.status == "submitted"


def test_staff_pages_are_403_for_buyers_and_suppliers(applied, client_as, supplier):
    client, refund = applied
    for who in (client, client_as(supplier)):
        assert who.get("/staff/refunds/").status_code == 403
        assert who.get(f"/staff/refunds/{refund.id}/").status_code == 403
        assert who.post(f"/staff/refunds/{refund.id}/approve/", {"note": "x"}).status_code == 403
    assert client_as().get("/staff/refunds/").status_code == 302  # to the login page
    refund.refresh_from_db()
    assert refund.status == "submitted"


def test_wrong_state_actions_are_messages_not_500s(applied):
    client, refund = applied
    urge = client.post(f"/refunds/{refund.id}/urge/", follow=True)
    assert urge.status_code == 200 and "审核期限尚未到期" in text(urge)
    appeal = client.post(f"/refunds/{refund.id}/appeal/", {"description": GOOD})
    assert appeal.status_code == 409 and "只有被驳回的申请可以申诉" in text(appeal)
    bad_file = client.post(f"/refunds/{refund.id}/evidence/", {"file": upload("x.exe", b"MZ\x90\x00\x03" * 20)},
                           follow=True)
    assert bad_file.status_code == 200 and "不支持该文件类型" in text(bad_file)
    withdraw = client.post(f"/refunds/{refund.id}/withdraw/", {"confirmed": "1"}, follow=True)
    assert "已撤回" in text(withdraw)
    again = client.post(f"/refunds/{refund.id}/withdraw/", {"confirmed": "1"}, follow=True)
    assert again.status_code == 200 and "当前状态不能撤回" in text(again)
    closed = client.post(f"/refunds/{refund.id}/message/", {"body": "还在吗"})
    assert closed.status_code == 409 and "不能再留言" in text(closed)


def test_dossier_download_is_a_zip(applied):
    client, refund = applied
    response = client.get(f"/refunds/{refund.id}/dossier/")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    names = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))).namelist()
    assert names and any("screen.png" in n or n.endswith(".png") for n in names)


def test_evidence_download_is_an_attachment_with_its_stored_type(applied, client_as, reviewer):
    client, refund = applied
    evidence = Evidence.objects.get(refund=refund, source="buyer")
    for who, url in ((client, f"/refunds/{refund.id}/evidence/{evidence.id}/"),
                     (client_as(reviewer), f"/staff/refunds/{refund.id}/evidence/{evidence.id}/")):
        response = who.get(url)
        assert response.status_code == 200
        assert response["Content-Type"] == "image/png" and response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Disposition"].startswith("attachment") and response.getvalue().startswith(b"\x89PNG")
    assert client_as(reviewer).get(f"/staff/refunds/{refund.id}/evidence/999999/").status_code == 404


def test_queue_and_case_pages_render_for_staff(applied, client_as, reviewer, senior, admin):
    _, refund = applied
    for user in (reviewer, senior, admin):
        staff = client_as(user)
        queue = text(staff.get("/staff/refunds/"))
        assert refund.refund_no in queue and f"/staff/refunds/{refund.id}/" in queue and "审核台" in queue
        case = staff.get(f"/staff/refunds/{refund.id}/")
        assert case.status_code == 200
    page = text(case)
    assert "下单时（快照）" in page and "当前商品页" in page and refund.order.snapshot["name"] in page
    assert "否，仅发给本订单" in page  # the key issue record
    assert "10.0.0.1" in page and "pytest" in page  # the reveal log
    assert "WALLET-" in page  # the payment
    assert "screen.png" in page and GOOD in page
    assert 'id="info-form"' in page and 'id="approve-form"' in page and 'id="reject-form"' in page
    assert "insufficient_evidence" in page


def test_request_info_answer_approve_round_trip(applied, client_as, reviewer):
    client, refund = applied
    staff = client_as(reviewer)
    asked = staff.post(f"/staff/refunds/{refund.id}/request-info/", {"message": "请上传兑换页面的完整截图"})
    assert asked.status_code == 302
    refund.refresh_from_db()
    assert refund.status == "awaiting_buyer"
    page = text(client.get(f"/refunds/{refund.id}/"))
    assert 'id="info-request"' in page and "请上传兑换页面的完整截图" in page and "答复审核员" in page
    assert InboxMessage.objects.filter(user=refund.buyer, refund=refund).count() >= 2

    waiting = text(staff.get("/staff/refunds/?queue=awaiting"))
    assert refund.refund_no in waiting
    assert refund.refund_no not in text(staff.get("/staff/refunds/?queue=senior"))

    answered = client.post(f"/refunds/{refund.id}/message/", {"body": "已上传截图，提示为“卡密无效”。"}, follow=True)
    assert "已补充，审核继续" in text(answered)
    refund.refresh_from_db()
    assert refund.status == "submitted"

    approved = staff.post(f"/staff/refunds/{refund.id}/approve/", {"note": "截图与发卡记录一致", "confirmed": "1"}, follow=True)
    assert approved.status_code == 200 and "已同意退款" in text(approved)
    run_queued_tasks()
    refund.refresh_from_db()
    assert refund.status in ("refunding", "refunded")
    page = text(client.get(f"/refunds/{refund.id}/"))
    assert refund.get_status_display() in page and "审核通过" in page and "截图与发卡记录一致" in page

    twice = staff.post(f"/staff/refunds/{refund.id}/approve/", {"note": "again", "confirmed": "1"})
    assert twice.status_code == 409 and "当前状态不能进行此操作" in text(twice)
    info_late = staff.post(f"/staff/refunds/{refund.id}/request-info/", {"message": "再来"})
    assert info_late.status_code == 409


def test_invalid_staff_input_is_shown_on_the_case_page(applied, client_as, reviewer):
    _, refund = applied
    staff = client_as(reviewer)
    too_much = staff.post(f"/staff/refunds/{refund.id}/approve/", {"amount": "999.00", "note": "", "confirmed": "1"})
    assert too_much.status_code == 422 and "金额无效" in text(too_much)
    no_note = staff.post(f"/staff/refunds/{refund.id}/reject/", {"reason_code": "other", "note": ""})
    assert no_note.status_code == 422
    bad_code = staff.post(f"/staff/refunds/{refund.id}/reject/", {"reason_code": "nope", "note": "x"})
    assert bad_code.status_code == 422
    refund.refresh_from_db()
    assert refund.status == "submitted"


def test_reject_appeal_and_the_same_senior_cannot_decide_it(applied, client_as, senior, make_user):
    client, refund = applied
    first = client_as(senior)
    rejected = first.post(f"/staff/refunds/{refund.id}/reject/", {"confirmed": "1", "reason_code": "insufficient_evidence",
                                                                   "note": "截图看不清"}, follow=True)
    assert "已驳回" in text(rejected)
    page = text(client.get(f"/refunds/{refund.id}/"))
    assert "证据不足" in page and "截图看不清" in page and 'id="appeal-form"' in page and "申诉截止" in page

    vague = client.post(f"/refunds/{refund.id}/appeal/", {"description": "垃圾"})
    assert vague.status_code == 422 and "描述过于笼统" in text(vague)
    appealed = client.post(f"/refunds/{refund.id}/appeal/", {"description": GOOD}, follow=True)
    assert "申诉已提交" in text(appealed)

    senior_queue = text(first.get("/staff/refunds/?queue=senior"))
    assert refund.refund_no in senior_queue and "申诉" in senior_queue
    same = first.post(f"/staff/refunds/{refund.id}/approve/", {"note": "ok", "confirmed": "1"})
    assert same.status_code == 403 and "作出首次决定的审核员不能处理该申诉" in text(same)
    other = client_as(make_user("senior_reviewer"))
    assert other.post(f"/staff/refunds/{refund.id}/approve/", {"note": "复核通过", "confirmed": "1"}).status_code == 302
    refund.refresh_from_db()
    assert refund.status in ("refunding", "refunded")


def test_overdue_rows_are_highlighted_and_urge_works_after_the_deadline(applied, client_as, reviewer, clock_advance):
    client, refund = applied
    from tests.aftersales.conftest import contested

    contested(refund.id)  # contested by the supplier: the claim waits for a reviewer, not for silence
    # Past the deadline, the sweep not yet run (the worker runs it within a second): overdue, urge escalates.
    Refund.objects.filter(id=refund.id).update(sla_due_at=clock.now() - timedelta(minutes=1))
    queue = text(client_as(reviewer).get("/staff/refunds/"))
    row = re.search(rf'<tr class="overdue" data-refund="{refund.id}">.*?</tr>', queue, re.S)
    assert row and "已超期" in row.group(0)
    page = text(client.get(f"/refunds/{refund.id}/"))
    assert 'id="urge"' in page
    urged = client.post(f"/refunds/{refund.id}/urge/", follow=True)
    assert "已催办" in text(urged)
    assert refund.refund_no in text(client_as(reviewer).get("/staff/refunds/?queue=senior"))
    again = client.post(f"/refunds/{refund.id}/urge/", follow=True)
    assert again.status_code == 200 and "已经催办过" in text(again)


def test_queue_paginates(order, client_as, buyer, reviewer):
    for _ in range(3):
        placed = order(quantity=1)
        client_as(buyer).post(f"/orders/{placed.order_no}/refund/", {
            "items": [placed.items.get().id], "reason": "invalid_key", "description": GOOD, "destination": "wallet"})
    assert Refund.objects.count() == 3
    staff = client_as(reviewer)
    first = text(staff.get("/staff/refunds/?limit=2"))
    assert first.count("data-refund=") == 2 and "offset=2" in first
    second = text(staff.get("/staff/refunds/?limit=2&offset=2"))
    assert second.count("data-refund=") == 1 and "下一页" not in second
    assert staff.get("/staff/refunds/?limit=abc&offset=-5").status_code == 200


def test_inbox_lists_messages_and_marks_them_read(applied, client_as, make_user):
    client, refund = applied
    page = text(client.get("/inbox/"))
    message = InboxMessage.objects.filter(user=refund.buyer).first()
    assert message.title in page and "标为已读" in page
    assert '<span class="unread"' in text(client.get("/"))
    assert client.post(f"/inbox/{message.id}/read/").status_code == 302
    message.refresh_from_db()
    assert message.read_at is not None
    opened = client.post(f"/inbox/{message.id}/read/", {"open": "1"})
    assert opened["Location"] == f"/refunds/{refund.id}/"
    assert client_as(make_user("buyer")).post(f"/inbox/{message.id}/read/").status_code == 404


def test_the_header_links_by_role(client_as, buyer, reviewer, supplier):
    as_buyer = text(client_as(buyer).get("/"))
    assert "/inbox/" in as_buyer and "/refunds/" in as_buyer and "/staff/refunds/" not in as_buyer
    as_reviewer = text(client_as(reviewer).get("/"))
    assert "/staff/refunds/" in as_reviewer and "/inbox/" in as_reviewer
    assert "/staff/refunds/" not in text(client_as(supplier).get("/"))


def test_pages_are_english_when_asked(applied, client_as, reviewer):
    client, refund = applied
    client.cookies["django_language"] = "en"
    page = text(client.get(f"/refunds/{refund.id}/"))
    assert "Invalid key" in page and "Timeline" in page and "申请售后" not in page
