"""Irreversible actions are confirmed by the server when no script asked first (web/confirmations.py):
the form without `confirmed=1` lands on a page that states the consequences and changes nothing; its real
submit button does the action; a stranger still gets 404 and an invalid form its errors, never a confirmation."""

import re
from html import unescape

import pytest

from kameng.aftersales.models import Refund
from kameng.aftersales.services import refund_create
from kameng.inventory.models import RevealRecord
from kameng.orders.services import order_create

pytestmark = pytest.mark.django_db

GOOD = "在王者荣耀兑换页面输入卡密后提示“该卡密已被使用”，时间 11 月 20 日 21:05。"


@pytest.fixture
def delivered(buyer, make_product, fund_wallet):
    fund_wallet(buyer, 100_000)
    product = make_product(keys=3, price="10.00")
    return order_create(buyer=buyer, product_id=product.id, quantity=1, channel="wallet", accept_terms=True)


def confirm_form(response) -> tuple[str, dict]:
    """The confirmation page's form: where it posts and what it sends (csrf aside), as a browser would."""
    page = response.content.decode()
    form = re.search(r'<form method="post" action="([^"]+)" class="stack" id="confirm-form">(.*?)</form>', page, re.S)
    assert form, page
    fields = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(2)):
        if name != "csrfmiddlewaretoken":
            fields.setdefault(name, []).append(unescape(value))
    return form.group(1), fields


def test_revealing_without_script_asks_on_a_page_then_reveals(delivered, client_as, buyer, make_user):
    client = client_as(buyer)
    url = f"/orders/{delivered.order_no}/reveal/"
    asked = client.post(url)
    page = asked.content.decode()
    assert asked.status_code == 200 and 'id="confirm-step"' in page
    assert "不想要了" in page and 'id="confirm-submit"' in page  # the consequence, and a real button
    assert f'href="/orders/{delivered.order_no}/"' in page  # and the way back
    assert not RevealRecord.objects.exists() and "KEY-" not in page  # nothing shown, nothing recorded

    action, fields = confirm_form(asked)
    assert action == url and fields == {"confirmed": ["1"]}
    shown = client.post(action, fields).content.decode()
    assert "KEY-" in shown and RevealRecord.objects.count() == 1

    assert client_as(make_user("buyer")).post(url).status_code == 404  # a stranger learns nothing


def test_withdrawing_without_script_asks_first(delivered, client_as, buyer):
    from kameng.orders.services import order_reveal

    order_reveal(user=buyer, order_no=delivered.order_no)
    refund = refund_create(buyer=buyer, order_no=delivered.order_no, reason="invalid_key", description=GOOD)
    client = client_as(buyer)
    asked = client.post(f"/refunds/{refund.id}/withdraw/")
    assert asked.status_code == 200 and "撤回后这些商品不能再以同一原因申请" in asked.content.decode()
    assert Refund.objects.get(id=refund.id).status == "submitted"
    action, fields = confirm_form(asked)
    client.post(action, fields)
    assert Refund.objects.get(id=refund.id).status == "withdrawn"


def test_a_reviewer_confirms_the_decision_with_what_was_chosen(delivered, client_as, buyer, reviewer):
    from kameng.orders.services import order_reveal

    order_reveal(user=buyer, order_no=delivered.order_no)
    refund = refund_create(buyer=buyer, order_no=delivered.order_no, reason="invalid_key", description=GOOD)
    staff = client_as(reviewer)
    url = f"/staff/refunds/{refund.id}/reject/"

    invalid = staff.post(url, {"reason_code": "other", "note": ""})  # the form's errors come first
    assert invalid.status_code == 422 and 'id="confirm-step"' not in invalid.content.decode()

    asked = staff.post(url, {"reason_code": "insufficient_evidence", "note": "没有截图 <b>"})
    page = asked.content.decode()
    assert asked.status_code == 200 and "买家会立即收到通知" in page
    assert "证据不足" in page and "insufficient_evidence</dd>" not in page  # the reason in words
    assert "没有截图 &lt;b&gt;" in page  # the note as typed, escaped
    assert Refund.objects.get(id=refund.id).status == "submitted"
    action, fields = confirm_form(asked)
    assert fields["reason_code"] == ["insufficient_evidence"] and fields["note"] == ["没有截图 <b>"]
    assert staff.post(action, fields).status_code == 302
    assert Refund.objects.get(id=refund.id).status == "rejected"


def test_the_confirmation_page_is_in_english_too(delivered, client_as, buyer):
    client = client_as(buyer)
    client.cookies["django_language"] = "en"
    page = client.post(f"/orders/{delivered.order_no}/reveal/").content.decode()
    assert "Go back, change nothing" in page and "确认" not in page
