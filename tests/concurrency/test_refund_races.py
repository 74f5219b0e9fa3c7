"""Refund races on PostgreSQL: two approvals at once, a doubled refund notification."""

import pytest

from kameng.aftersales.decisions import refund_approve
from kameng.aftersales.models import Refund, RefundPayout
from kameng.aftersales.payouts import payout_send, refund_notification_receive
from kameng.aftersales.services import refund_create
from kameng.core.errors import DomainError
from kameng.ledger.models import Journal
from kameng.ledger.selectors import book_check
from kameng.orders.models import Order
from kameng.orders.services import order_create, order_reveal
from kameng.payments.gateways import sandbox_refunds
from kameng.payments.models import SandboxGatewayRefund
from kameng.payments.services import sandbox_pay

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

GOOD = "在兑换页面输入卡密后提示“该卡密已被使用”，时间 11 月 20 日 21:05。"


def delivered_refund(make_user, make_product, fund_wallet, channel):
    buyer = make_user("buyer")
    fund_wallet(buyer, 10_000)
    product = make_product(keys=2, price="10.00")
    order = order_create(buyer=buyer, product_id=product.id, quantity=1, channel=channel, accept_terms=True)
    if channel != "wallet":
        sandbox_pay(user=buyer, payment_no=order.payments.get().payment_no)
    order_reveal(user=buyer, order_no=order.order_no)
    return refund_create(buyer=buyer, order_no=order.order_no, reason="invalid_key", description=GOOD,
                         destination="wallet" if channel == "wallet" else "original")


def test_two_simultaneous_approvals_refund_once(make_user, make_product, fund_wallet, racer):
    refund = delivered_refund(make_user, make_product, fund_wallet, "wallet")
    reviewers = [make_user("reviewer") for _ in range(4)]
    results = racer(4, lambda i: refund_approve(actor=reviewers[i], refund_id=refund.id, note="ok"))
    assert sum(isinstance(r, Refund) for r in results) == 1
    assert {r.code for r in results if isinstance(r, DomainError)} == {"INVALID_STATE"}
    assert RefundPayout.objects.count() == 1 and Journal.objects.filter(kind="refund").count() == 1
    assert Order.objects.get(id=refund.order_id).refunded_fen == 1000
    assert book_check().ok


def test_a_doubled_gateway_notification_refunds_once(make_user, make_product, fund_wallet, racer):
    refund = delivered_refund(make_user, make_product, fund_wallet, "alipay")
    refund_approve(actor=make_user("reviewer"), refund_id=refund.id, note="ok")
    payout_send(payout_id=RefundPayout.objects.get().id)
    fields = sandbox_refunds.notification_for(SandboxGatewayRefund.objects.get())
    results = racer(6, lambda i: refund_notification_receive(dict(fields)))
    assert sum(isinstance(r, RefundPayout) for r in results) == 1
    assert {r.code for r in results if isinstance(r, DomainError)} == {"ALREADY_PROCESSED"}
    assert Journal.objects.filter(kind="refund").count() == 1
    assert Refund.objects.get(id=refund.id).status == "refunded"
    assert book_check().ok


def test_racing_requests_for_one_item_open_one_refund(make_user, make_product, fund_wallet, racer):
    buyer = make_user("buyer")
    fund_wallet(buyer, 10_000)
    product = make_product(keys=2, price="10.00")
    order = order_create(buyer=buyer, product_id=product.id, quantity=1, channel="wallet", accept_terms=True)
    order_reveal(user=buyer, order_no=order.order_no)
    results = racer(5, lambda i: refund_create(buyer=buyer, order_no=order.order_no, reason="invalid_key",
                                                description=GOOD))
    assert sum(isinstance(r, Refund) for r in results) == 1
    assert Refund.objects.count() == 1


def test_many_buyers_refunded_at_once_all_get_their_answer(make_user, make_product, fund_wallet, racer):
    """Threads of one process answering refunds together (django-fsm's class-wide refresh toggle raced here)."""
    product = make_product(kind="topup", delivery_promise_minutes=0, price="10.00")
    orders = []
    for _ in range(12):
        buyer = make_user("buyer")
        fund_wallet(buyer, 1000)
        orders.append(order_create(buyer=buyer, product_id=product.id, quantity=1, channel="wallet",
                                   accept_terms=True, recharge_account="13800138000"))
    results = racer(len(orders), lambda i: refund_create(buyer=orders[i].buyer, order_no=orders[i].order_no,
                                                         reason="not_delivered", destination="wallet",
                                                         description="付款后一直没有到账，订单显示处理中。"))
    assert all(isinstance(r, Refund) and r.status == "refunded" for r in results), results
    assert Journal.objects.filter(kind="refund").count() == len(orders)


def test_two_workers_sweeping_at_once_decide_each_due_refund_once(make_user, make_product, fund_wallet, racer):
    """Deadline actions lock and re-check: two sweeps together escalate once and approve once."""
    from datetime import timedelta

    from kameng.aftersales.models import RefundEvent
    from kameng.core import clock
    from kameng.core.deadlines import process_due

    refunds = [delivered_refund(make_user, make_product, fund_wallet, "wallet") for _ in range(4)]
    Refund.objects.filter(id__in=[r.id for r in refunds]).update(sla_due_at=clock.now() - timedelta(days=30))
    results = racer(2, lambda i: process_due())
    assert not [r for r in results if isinstance(r, Exception)], results
    if any(Refund.objects.filter(status="submitted")):  # one sweep escalated; the new deadline is in the past too
        racer(2, lambda i: process_due())
    for refund in refunds:
        names = list(RefundEvent.objects.filter(refund=refund).values_list("event", flat=True))
        assert names.count("escalated") == 1 and names.count("auto_approved") == 1, names
    assert Journal.objects.filter(kind="refund").count() == len(refunds)
    assert sum(r["refunds_auto_approved"] for r in results) <= len(refunds)
    assert book_check().ok
