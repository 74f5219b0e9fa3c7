"""The one lock order (kameng.core.locks): a lock taken against it fails loudly in the test suite."""

import pytest
from django.db import transaction

from kameng.core import locks
from kameng.orders.models import Order
from kameng.orders.services import order_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(make_user, make_product, fund_wallet):
    buyer = make_user("buyer")
    fund_wallet(buyer, 1000)
    product = make_product(keys=1, price="1.00")
    return order_create(buyer=buyer, product_id=product.id, quantity=1, channel="wallet", accept_terms=True)


def test_a_refund_locked_before_its_order_is_refused(order):
    """The shape of the deadlock of issue 6: refund then order in one path, order then refund in another."""
    from kameng.aftersales.models import Refund

    with pytest.raises(locks.LockOrderViolation, match="orders.Order"), transaction.atomic():
        list(locks.lock_all(Refund.objects.all()))
        locks.lock_one(Order.objects.filter(id=order.id))


def test_locks_in_order_pass_and_each_transaction_starts_afresh(order):
    from kameng.ledger.models import LedgerAccount

    with transaction.atomic():
        locks.lock_key("idempotency", 1, "k")
        locks.lock_one(Order.objects.filter(id=order.id))
        locks.lock_all(order.items.all())
        locks.lock_all(LedgerAccount.objects.all())
    with transaction.atomic():  # a new transaction holds nothing yet
        locks.lock_one(Order.objects.filter(id=order.id))


def test_every_lock_names_a_place_in_the_order(order):
    from kameng.catalog.models import SupplierSource

    with pytest.raises(locks.LockOrderViolation, match="no place"), transaction.atomic():
        locks.lock_all(SupplierSource.objects.all())
