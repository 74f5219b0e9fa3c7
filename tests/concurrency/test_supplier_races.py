"""Supplier callback races on PostgreSQL: one signed callback delivered many times at once, and a callback
racing the query sweep. Whatever the interleaving, the order is settled once."""

import pytest

from kameng.catalog.models import SupplierNotification
from kameng.catalog.supply import callback_receive, supply_query_due
from kameng.core import clock
from kameng.ledger.models import Journal
from kameng.orders.models import Order, OrderEvent
from tests.suppliers.conftest import buy, fake, source  # noqa: F401  (fixtures)
from tests.suppliers.fake_source import NOTIFY_SECRET, signed_headers

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_one_signed_callback_sent_many_times_at_once_settles_once(fake, buy, source, racer):  # noqa: F811
    _, order = buy()
    no = order["order_no"]
    fake.finish(no, "success")
    body = fake.callback_body(no)
    headers = signed_headers(NOTIFY_SECRET, "notify", body)
    results = racer(6, lambda i: callback_receive(source_ref=str(source.id), headers=headers, body=body))
    assert sorted(status for status, _ in results) == [200, 409, 409, 409, 409, 409], results
    assert Order.objects.get(order_no=no).status == "delivered"
    assert Journal.objects.filter(reference=f"settle:{no}").count() == 1
    assert SupplierNotification.objects.filter(outcome="ACCEPTED").count() == 1


def test_a_callback_racing_the_query_sweep_settles_once(fake, buy, source, racer):  # noqa: F811
    orders = [buy()[1]["order_no"] for _ in range(4)]
    for no in orders:
        fake.finish(no, "success")
    clock.advance(seconds=3600)  # past the promise: the sweep will ask about all four

    def contend(i):
        if i == 0:
            return supply_query_due()
        no = orders[i - 1]
        body = fake.callback_body(no)
        return callback_receive(source_ref=str(source.id), headers=signed_headers(NOTIFY_SECRET, "notify", body),
                                body=body)

    results = racer(len(orders) + 1, contend)
    assert all(status == 200 and answer["code"] == "0000" for status, answer in results[1:]), results
    for no in orders:
        assert Order.objects.get(order_no=no).status == "delivered"
        assert Journal.objects.filter(reference=f"settle:{no}").count() == 1
        assert OrderEvent.objects.filter(order__order_no=no, event="topup_succeeded").count() == 1
