"""Notifications racing on real PostgreSQL connections: refused with a code and recorded, never a 500."""

import pytest

from kameng.core.errors import DomainError
from kameng.ledger.selectors import book_check
from kameng.orders.services import order_create
from kameng.payments.gateways import sandbox
from kameng.payments.models import Payment, PaymentNotification
from kameng.payments.services import notification_receive

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_one_trade_number_racing_to_pay_many_payments_pays_one(make_user, make_product, racer):
    """Both pass the "trade_no unused" check at once; the unique index stops the second, which must be
    refused as TRADE_NO_REUSED and recorded — it was an IntegrityError (500), unaudited."""
    product = make_product(keys=8, price="5.00")
    payments = [order_create(buyer=make_user("buyer"), product_id=product.id, quantity=1, channel="alipay",
                             accept_terms=True).payments.get() for _ in range(6)]
    notices = []
    for payment in payments:
        fields = sandbox.notification_for(payment_no=payment.payment_no, amount="5.00")
        fields["trade_no"] = "SBX-ONE-TRADE"
        fields["sign"] = sandbox.sign(fields)
        notices.append(fields)

    results = racer(len(notices), lambda i: notification_receive(dict(notices[i])))
    accepted = [r for r in results if isinstance(r, Payment)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(accepted) == 1 and len(refused) == len(notices) - 1, results
    assert {e.code for e in refused} == {"TRADE_NO_REUSED"}
    assert Payment.objects.filter(status="succeeded").count() == 1
    outcomes = sorted(PaymentNotification.objects.values_list("outcome", flat=True))
    assert outcomes == ["ACCEPTED"] + ["TRADE_NO_REUSED"] * (len(notices) - 1)
    assert book_check().ok
