"""Top-up races on PostgreSQL: a not-delivered refund against the send job, a success report against a
refund. Whatever the interleaving, the buyer never has both the top-up and the money back."""

import pytest

from kameng.aftersales.services import refund_create
from kameng.core import clock
from kameng.ledger.selectors import book_check
from kameng.ledger.services import Accounts, balance
from kameng.orders.fulfilment import topup_dispatch, topup_report
from kameng.orders.models import Order, SandboxSupplierTopup, TopupDispatch
from kameng.orders.services import order_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LATE = "付款一小时了还没有到账，订单一直显示处理中。"


def _paid_topups(make_user, make_product, fund_wallet, n):
    product = make_product(kind="topup", delivery_promise_minutes=10, price="10.00")
    orders = []
    for _ in range(n):
        buyer = make_user("buyer")
        fund_wallet(buyer, 1000)
        orders.append(order_create(buyer=buyer, product_id=product.id, quantity=1, channel="wallet",
                                   accept_terms=True, recharge_account="13800138000"))
    clock.advance(seconds=3600)  # past the promise, all still queued
    return orders


def test_a_refund_and_the_send_job_racing_never_both_happen(make_user, make_product, fund_wallet, racer):
    orders = _paid_topups(make_user, make_product, fund_wallet, 8)

    def contend(i):  # even: the buyer asks for the money back; odd: the worker sends the top-up
        order = orders[i // 2]
        if i % 2 == 0:
            return refund_create(buyer=order.buyer, order_no=order.order_no, reason="not_delivered",
                                 destination="wallet", description=LATE)
        return topup_dispatch(order_id=order.id)

    racer(2 * len(orders), contend)
    for order in orders:
        topup = TopupDispatch.objects.get(order=order)
        refunded = Order.objects.get(id=order.id).status == "refunded"
        sent = SandboxSupplierTopup.objects.filter(order_no=order.order_no).exists()
        assert refunded != sent, (order.order_no, topup.status, refunded, sent)  # one or the other, never both
        if refunded:
            topup_dispatch(order_id=order.id)  # the queued job, running late, still sends nothing
            assert not SandboxSupplierTopup.objects.filter(order_no=order.order_no).exists()
            assert balance(Accounts.wallet(order.buyer_id)).fen == 1000
    assert book_check().ok


def test_success_reports_retried_at_once_are_recorded_once(make_user, make_product, fund_wallet, racer):
    """The supplier retries its success callback several times at once: one record, one delivery, no 500."""
    orders = _paid_topups(make_user, make_product, fund_wallet, 1)
    order = orders[0]
    topup_dispatch(order_id=order.id)
    supplier = order.product.supplier
    results = racer(6, lambda i: topup_report(actor=supplier, order_no=order.order_no, status="success"))
    assert sum(isinstance(r, TopupDispatch) for r in results) == 1
    assert all(getattr(r, "code", None) == "TOPUP_FINISHED" for r in results if not isinstance(r, TopupDispatch))
    assert Order.objects.get(id=order.id).status == "delivered"
    assert book_check().ok
