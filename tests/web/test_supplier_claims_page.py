"""The supplier's claims page: Chinese labels, Beijing times, answers that must be confirmed."""

import pytest
from django.utils import timezone

from kameng.aftersales.models import Refund
from kameng.aftersales.services import refund_create
from kameng.orders.services import order_create, order_reveal

pytestmark = pytest.mark.django_db

GOOD = "在王者荣耀兑换页面输入卡密后提示“该卡密无效”，时间 11 月 20 日 21:05。"


@pytest.fixture
def claim(make_user, make_product, fund_wallet):
    buyer = make_user("buyer")
    fund_wallet(buyer, 10_000)
    product = make_product(keys=2)
    order = order_create(buyer=buyer, product_id=product.id, quantity=1, channel="wallet", accept_terms=True)
    order_reveal(user=buyer, order_no=order.order_no)
    return refund_create(buyer=buyer, order_no=order.order_no, reason="invalid_key", description=GOOD,
                         destination="wallet")


def test_the_page_lists_the_claim_in_chinese_with_its_beijing_deadline(claim, client_as, supplier, make_user):
    page = client_as(supplier).get("/supplier/refunds/").content.decode()
    assert claim.refund_no in page and "卡密无效" in page and "待供货商答复" in page
    assert f"{timezone.localtime(claim.supplier_due_at):%Y-%m-%d %H:%M}" in page  # Asia/Shanghai
    assert claim.buyer.username not in page and claim.buyer.phone not in page
    assert claim.refund_no not in client_as(make_user("supplier")).get("/supplier/refunds/").content.decode()
    assert client_as(claim.buyer).get("/supplier/refunds/").status_code == 403


def test_an_unconfirmed_answer_changes_nothing_then_a_confirmed_one_decides(claim, client_as, supplier):
    client = client_as(supplier)
    unconfirmed = client.post(f"/supplier/refunds/{claim.id}/accept/", {f"a{claim.id}-note": ""}, follow=True)
    assert "请勾选确认" in unconfirmed.content.decode()
    assert Refund.objects.get(id=claim.id).status == "submitted"
    no_reason = client.post(f"/supplier/refunds/{claim.id}/contest/", {f"c{claim.id}-confirm": "on"}, follow=True)
    assert "请勾选确认" in no_reason.content.decode() and Refund.objects.get(id=claim.id).supplier_answer == "pending"
    done = client.post(f"/supplier/refunds/{claim.id}/accept/", {f"a{claim.id}-confirm": "on"}, follow=True)
    assert "已同意退款" in done.content.decode()
    assert Refund.objects.get(id=claim.id).status == "refunded"
    again = client.post(f"/supplier/refunds/{claim.id}/accept/", {f"a{claim.id}-confirm": "on"}, follow=True)
    assert "已有决定" in again.content.decode()


def test_a_contest_from_the_page_reaches_the_reviewer(claim, client_as, supplier, make_user):
    client_as(supplier).post(f"/supplier/refunds/{claim.id}/contest/",
                             {f"c{claim.id}-note": "该卡密发货时已核验有效。", f"c{claim.id}-confirm": "on"})
    assert Refund.objects.get(id=claim.id).supplier_answer == "contested"
    case = client_as(make_user("reviewer")).get(f"/staff/refunds/{claim.id}/").content.decode()
    assert "该卡密发货时已核验有效。" in case


def test_another_suppliers_claim_is_404(claim, client_as, make_user):
    other = client_as(make_user("supplier"))
    assert other.post(f"/supplier/refunds/{claim.id}/accept/", {f"a{claim.id}-confirm": "on"}).status_code == 404
    assert Refund.objects.get(id=claim.id).status == "submitted"
