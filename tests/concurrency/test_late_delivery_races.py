"""Late-delivery compensation and the free cancel under real concurrency (PostgreSQL): a late delivery reported by
several workers at once pays its compensation once; a cancel racing the supplier's delivery ends in one or the
other, never both."""

import pytest

from kameng.aftersales.cancellation import order_cancel
from kameng.core import clock
from kameng.core.errors import DomainError
from kameng.ledger.models import Journal
from kameng.ledger.selectors import book_check
from kameng.ledger.services import Accounts, balance
from kameng.notifications.models import InboxMessage
from kameng.orders.fulfilment import manual_deliver, topup_dispatch, topup_report
from kameng.orders.models import Order
from kameng.orders.services import order_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

LATE_20 = {"late_delivery_compensation_rate": "0.20"}


def _paid(make_user, fund_wallet, product, **extra):
    buyer = make_user("buyer")
    fund_wallet(buyer, 1000)
    return order_create(buyer=buyer, product_id=product.id, quantity=1, channel="wallet", accept_terms=True, **extra)


def test_a_late_success_reported_by_six_workers_at_once_is_compensated_once(make_user, make_product, fund_wallet,
                                                                              racer):
    product = make_product(kind="topup", price="10.00", delivery_promise_minutes=10, refund_policy=LATE_20)
    order = _paid(make_user, fund_wallet, product, recharge_account="13800138000")
    topup_dispatch(order_id=order.id)
    clock.advance(seconds=3600)
    supplier = product.supplier
    results = racer(6, lambda i: topup_report(actor=supplier, order_no=order.order_no, status="success"))
    assert sum(not isinstance(r, Exception) for r in results) == 1, results
    assert all(isinstance(r, DomainError) and r.code == "TOPUP_FINISHED" for r in results if isinstance(r, Exception))
    assert Journal.objects.filter(order=order, kind="late_delivery_compensation").count() == 1
    assert balance(Accounts.wallet(order.buyer_id)).fen == 1000 - 1000 + 200
    assert InboxMessage.objects.filter(user=order.buyer, title__contains="迟发补偿").count() == 1
    assert book_check().ok


def test_two_late_manual_deliveries_at_once_compensate_once(make_user, make_product, fund_wallet, racer):
    product = make_product(is_manual=True, price="10.00", delivery_promise_minutes=10, refund_policy=LATE_20)
    order = _paid(make_user, fund_wallet, product)
    clock.advance(seconds=3600)
    results = racer(4, lambda i: manual_deliver(actor=product.supplier, order_no=order.order_no,
                                                contents=[f"CODE-{i}"]))
    assert sum(not isinstance(r, Exception) for r in results) == 1, results
    assert Journal.objects.filter(order=order, kind="late_delivery_compensation").count() == 1
    assert balance(Accounts.wallet(order.buyer_id)).fen == 200
    assert book_check().ok


def test_a_cancel_racing_the_suppliers_delivery_ends_in_one_or_the_other(make_user, make_product, fund_wallet, racer):
    product = make_product(is_manual=True, price="10.00", delivery_promise_minutes=10, refund_policy=LATE_20)
    orders = [_paid(make_user, fund_wallet, product) for _ in range(4)]
    clock.advance(seconds=3600)  # late: a delivery that wins also pays compensation

    def contend(i):  # even: the buyer cancels; odd: the supplier delivers
        order = orders[i // 2]
        if i % 2 == 0:
            return order_cancel(user=order.buyer, order_no=order.order_no)
        return manual_deliver(actor=product.supplier, order_no=order.order_no, contents=["CODE"])

    racer(2 * len(orders), contend)
    for order in orders:
        status = Order.objects.get(id=order.id).status
        wallet = balance(Accounts.wallet(order.buyer_id)).fen
        compensated = Journal.objects.filter(order=order, kind="late_delivery_compensation").exists()
        assert (status, wallet, compensated) in (("refunded", 1000, False), ("delivered", 200, True)), \
            (order.order_no, status, wallet, compensated)
    assert book_check().ok
