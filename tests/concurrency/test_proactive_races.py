"""Two workers sweeping at once make the platform's own refund of an undelivered order exactly once."""

import pytest

from kameng.aftersales.models import Refund, RefundEvent
from kameng.core import clock
from kameng.core.deadlines import process_due
from kameng.ledger.models import Journal
from kameng.ledger.selectors import book_check
from kameng.notifications.models import OutboxMessage
from kameng.orders.services import order_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_two_sweeps_at_once_refund_each_late_order_once(make_user, make_product, fund_wallet, racer):
    orders = []
    for _ in range(3):
        buyer = make_user("buyer")
        fund_wallet(buyer, 10_000)
        product = make_product(is_manual=True, price="10.00", delivery_promise_minutes=5)
        orders.append(order_create(buyer=buyer, product_id=product.id, quantity=2, channel="wallet", accept_terms=True))
    clock.advance(seconds=3600)  # every promise passed

    results = racer(2, lambda i: process_due())
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r["undelivered_refunded"] for r in results) == len(orders)
    for order in orders:
        [refund] = Refund.objects.filter(order=order)
        assert refund.status == "refunded" and refund.amount_fen == 2000
        assert list(RefundEvent.objects.filter(refund=refund).values_list("actor", flat=True))[0] == "system"
    assert Journal.objects.filter(kind="refund").count() == len(orders)
    assert OutboxMessage.objects.filter(body__startswith="【卡盟】平台主动退款").count() == len(orders)
    assert book_check().ok
