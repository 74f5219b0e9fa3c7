"""Reconciliation racing on real PostgreSQL connections: runs of the same day and the gateway's late
notification all see the same unrecorded payment; it is taken once, and recorded as repaired at most once."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from kameng.ledger.models import Journal
from kameng.ledger.selectors import book_check
from kameng.orders.models import Order
from kameng.orders.services import order_create
from kameng.payments.checkout import checkout_open
from kameng.payments.gateway_notify import gateway_notification_receive
from kameng.payments.gateways.base import Device
from kameng.payments.models import ReconciliationLine, ReconciliationRun
from kameng.payments.reconciliation import reconcile

from ..payments.conftest import alipay_env, alipay_keys, fake_alipay  # noqa: F401  (the fake Alipay over HTTP)
from .conftest import race

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_parallel_runs_and_the_late_notification_take_a_payment_once(settings, alipay_env, make_user,  # noqa: F811
                                                                      make_product):
    settings.KAMENG_SANDBOX = False
    product = make_product(keys=3)
    orders = [order_create(buyer=make_user("buyer"), product_id=product.id, quantity=1, channel="alipay",
                           accept_terms=True) for _ in range(2)]
    bodies = []
    for order in orders:
        payment = checkout_open(payment=order.payments.get(), device=Device.QR)  # precreate: Alipay has it
        bodies.append(alipay_env.pay(payment.payment_no, deliver=False))  # paid at Alipay; we heard nothing
    day = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    bill = alipay_env.bill_zip(day.isoformat())  # downloaded once: the runs start together

    def act(i):
        if i == 0:  # the first payment's notification arrives late, just as the runs start
            return gateway_notification_receive(name="alipay", headers={}, body=bodies[0]).body
        return reconcile(channel="alipay", day=day, file_data=bill).id

    results = race(4, act)
    assert results[0] == "success" and all(isinstance(r, int) for r in results[1:]), results
    assert Journal.objects.filter(payment__isnull=False).count() == 2  # each payment taken once
    assert set(Order.objects.values_list("status", flat=True)) == {"delivered"}
    never_notified = orders[1].payments.get().payment_no
    assert ReconciliationLine.objects.filter(repair="captured", our_no=never_notified).count() == 1
    assert ReconciliationLine.objects.filter(repair="captured").count() <= 2
    for run in ReconciliationRun.objects.all():  # each line of each run: matched, or the one repair
        assert run.matched + run.repaired == 2 and run.unmatched == run.repaired, vars(run)
    assert book_check().ok
