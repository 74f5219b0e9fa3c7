"""Real concurrent connections on PostgreSQL: the invariants that must hold whatever the timing."""

import pytest
from django.db.models import Count

from kameng.core.errors import DomainError
from kameng.inventory.models import CardSecret, KeyIssue
from kameng.ledger.models import Journal
from kameng.ledger.selectors import book_check
from kameng.orders.models import Order
from kameng.orders.services import order_create
from kameng.payments.gateways import sandbox
from kameng.payments.models import Payment
from kameng.payments.services import notification_receive

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_buyers_racing_for_the_last_keys_never_share_one_or_oversell(make_user, make_product, fund_wallet, racer):
    product = make_product(keys=10, price="1.00")
    buyers = [make_user("buyer") for _ in range(24)]
    for buyer in buyers:
        fund_wallet(buyer, 1000)

    def buy(i):
        return order_create(buyer=buyers[i], product_id=product.id, quantity=1 + i % 2, channel="wallet", accept_terms=True)

    results = racer(len(buyers), buy)
    won = [r for r in results if isinstance(r, Order)]
    lost = [r for r in results if isinstance(r, DomainError)]
    assert len(won) + len(lost) == len(buyers), [r for r in results if not isinstance(r, (Order, DomainError))]
    assert {e.code for e in lost} <= {"OUT_OF_STOCK"}
    delivered_keys = sum(o.quantity for o in won)
    assert delivered_keys <= 10
    assert KeyIssue.objects.filter(returned_at__isnull=True).count() == delivered_keys
    assert not KeyIssue.objects.values("secret").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert CardSecret.objects.filter(status="issued").count() == delivered_keys
    assert all(Order.objects.get(id=o.id).status == "delivered" for o in won)
    assert book_check().ok


def test_one_notification_delivered_many_times_at_once_pays_once(make_user, make_product, racer):
    buyer = make_user("buyer")
    product = make_product(keys=3, price="8.00")
    order = order_create(buyer=buyer, product_id=product.id, quantity=2, channel="alipay", accept_terms=True)
    payment = order.payments.get()
    fields = sandbox.notification_for(payment_no=payment.payment_no, amount="16.00")

    results = racer(8, lambda i: notification_receive(dict(fields)))
    accepted = [r for r in results if isinstance(r, Payment)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(accepted) == 1 and len(refused) == 7
    assert {e.code for e in refused} == {"ALREADY_PROCESSED"}
    assert Journal.objects.filter(payment__isnull=False).count() == 1
    assert KeyIssue.objects.count() == 2
    assert Order.objects.get(id=order.id).status == "delivered"
    assert book_check().ok


def test_one_wallet_cannot_be_spent_twice_by_racing_orders(make_user, make_product, fund_wallet, racer):
    buyer = make_user("buyer")
    fund_wallet(buyer, 1000)  # 10.00: enough for exactly two 5.00 orders
    product = make_product(keys=10, price="5.00")
    results = racer(6, lambda i: order_create(buyer=buyer, product_id=product.id, quantity=1, channel="wallet", accept_terms=True))
    assert sum(isinstance(r, Order) for r in results) == 2
    assert {r.code for r in results if isinstance(r, DomainError)} == {"INSUFFICIENT_BALANCE"}
    from kameng.ledger.services import Accounts, balance

    assert balance(Accounts.wallet(buyer.id)).fen == 0
    assert book_check().ok


def test_racing_requests_with_one_idempotency_key_create_one_order(make_user, make_product, fund_wallet, racer):
    import json

    from django.test import Client

    from kameng.accounts.services import token_issue

    buyer = make_user("buyer")
    fund_wallet(buyer, 10_000)
    product = make_product(keys=10, price="1.00")
    token, _ = token_issue(username=buyer.username, password="secret123")
    body = json.dumps({"product_id": product.id, "quantity": 1, "channel": "wallet", "accept_terms": True})

    def post(i):
        return Client().post("/api/v1/orders", body, content_type="application/json",
                             headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "same-key"})

    responses = racer(6, post)
    assert all(r.status_code == 201 for r in responses), [getattr(r, "content", r) for r in responses]
    assert len({r.json()["order_no"] for r in responses}) == 1
    assert Order.objects.count() == 1
