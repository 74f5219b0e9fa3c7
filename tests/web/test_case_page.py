"""The refund case page reads plainly: a step bar, one outcome sentence, no refund amount promised on a rejected
case; the order list says 售后中; irreversible actions ask first."""

import re

import pytest
from django.test import Client

from kameng.aftersales.decisions import refund_approve
from kameng.aftersales.services import refund_appeal
from tests.page_walk import build_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(make_user, make_product, fund_wallet):
    return build_world(make_user, make_product, fund_wallet)


def _page(world, role, url):
    client = Client()
    client.force_login(world.users[role])
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def _steps(html):
    bar = re.search(r'<ol class="steps".*?</ol>', html, re.S).group(0)
    return re.findall(r'<li class="step (\w+)".*?<span class="name">([^<]+)</span>', bar, re.S)


def test_a_rejected_case_says_so_and_promises_no_money(world):
    html = _page(world, "buyer", f"/refunds/{world.ids['refund_rejected']}/")
    assert _steps(html) == [("done", "提交"), ("stopped", "已驳回"), ("off", "退款中"), ("off", "到账")]
    assert "申请被驳回。原因：问题无法复现。" in html
    assert 'id="refund-amount"' not in html  # no "退款金额 ¥11.40" in big red
    assert "兑换记录显示该卡密未被使用。" in html  # the reviewer's own words, beside it


def test_an_approval_after_an_appeal_reads_as_an_approval(world):
    refund_id = world.ids["refund_rejected"]
    refund_appeal(user=world.users["buyer"], refund_id=refund_id, description="附上兑换失败的截图和客服聊天记录，请重新审核。")
    appealed = _page(world, "buyer", f"/refunds/{refund_id}/")
    assert [state for state, _name in _steps(appealed)] == ["done", "current", "todo", "todo"]
    assert "申诉审核" in appealed
    refund_approve(actor=world.users["senior_reviewer"], refund_id=refund_id, note="申诉成立")
    html = _page(world, "buyer", f"/refunds/{refund_id}/")
    assert "问题无法复现" not in html.split('id="timeline"')[0]  # the old rejection is history (timeline only)
    assert "已同意退款 ¥11.40" in html or "已退款 ¥11.40" in html


def test_a_refunded_case_has_every_step_done(world):
    html = _page(world, "buyer", f"/refunds/{world.ids['refund_refunded']}/")
    assert [state for state, _name in _steps(html)] == ["done"] * 4
    assert re.search(r"已退款 ¥11\.40（原路退回），\d{4}-\d\d-\d\d \d\d:\d\d 到账。", html)
    assert 'class="price" id="refund-amount"' in html


def test_the_order_list_shows_open_aftersales(world):
    html = _page(world, "buyer", "/orders/")
    rows = re.findall(r"<tr>.*?</tr>", html, re.S)
    open_rows = [r for r in rows if "售后中" in r]
    # The order with the open claim; the rejected one (closed for now) and the refunded one are not 售后中.
    assert len(open_rows) == 1


def test_irreversible_actions_ask_first(world):
    order = _page(world, "buyer", f"/orders/{world.ids['order_revealed']}/")
    assert re.search(r'<form[^>]*class="reveal"[^>]*data-confirm="[^"]*不想要了', order)
    case = _page(world, "reviewer", f"/staff/refunds/{world.ids['refund_open']}/")
    assert re.search(r'id="approve-form" data-confirm=', case)
    assert re.search(r'id="reject-form" data-confirm=', case)
    assert "web/confirm.js" in case
    mine = _page(world, "buyer", f"/refunds/{world.ids['refund_open']}/")
    assert re.search(r'refund_withdraw|/withdraw/" class="inline" data-confirm=', mine)
