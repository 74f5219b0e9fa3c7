"""Limits checked under the lock that protects them hold under concurrent requests."""

import pytest
from django.conf import settings

from kameng.core.errors import DomainError
from kameng.inventory.models import CardSecret
from kameng.orders.models import Order
from kameng.orders.services import order_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_twenty_racing_orders_leave_one_buyer_at_most_the_unpaid_limit(make_user, make_product, racer):
    buyer = make_user("buyer")
    product = make_product(keys=60, price="1.00")
    limit = settings.KAMENG_MAX_UNPAID_ORDERS
    results = racer(20, lambda i: order_create(buyer=buyer, product_id=product.id, quantity=3, channel="alipay",
                                               accept_terms=True))
    won = [r for r in results if isinstance(r, Order)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(won) + len(refused) == 20, [r for r in results if not isinstance(r, (Order, DomainError))]
    assert {e.code for e in refused} == {"TOO_MANY_UNPAID_ORDERS"}
    assert len(won) == limit
    assert Order.objects.filter(buyer=buyer, status="pending_payment").count() == limit
    assert CardSecret.objects.filter(status="reserved").count() == 3 * limit  # the rest stays on sale
