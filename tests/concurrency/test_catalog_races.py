"""Catalogue races on PostgreSQL, real connections: edits of one product at once, price changes racing
purchases, and two suppliers importing the same keys at once. Whatever the interleaving, the history says
exactly what happened, every order pays the price its own snapshot shows, and each key is stocked once
with every other line reported."""

import pytest

from kameng.catalog.models import Product, ProductChange
from kameng.catalog.services import product_update
from kameng.inventory.models import CardSecret, ImportProblem
from kameng.inventory.services import keys_import_list
from kameng.orders.models import Order
from kameng.orders.services import order_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_price_edits_at_once_leave_a_history_that_chains(supplier, make_product, racer):
    product = make_product(price="10.00")
    prices = [f"{11 + i}.00" for i in range(6)]
    results = racer(len(prices), lambda i: product_update(actor=supplier, product_id=product.id,
                                                          changes={"price": prices[i]}))
    assert not [r for r in results if isinstance(r, Exception)], results
    edits = list(ProductChange.objects.filter(product=product, event="edited").order_by("at", "id"))
    assert len(edits) == len(prices)
    # Each change's "old" is the one before's "new": no edit read a price another had already replaced.
    chain = ["10.00"] + [edit.changes["price"][1] for edit in edits]
    assert [edit.changes["price"][0] for edit in edits] == chain[:-1]
    assert sorted(chain[1:]) == sorted(prices)
    assert f"{Product.objects.get(id=product.id).price_fen / 100:.2f}" == chain[-1]


def test_orders_racing_a_price_change_pay_the_price_their_snapshot_shows(supplier, make_user, make_product,
                                                                        fund_wallet, racer):
    product = make_product(price="10.00", keys=6)
    buyers = [make_user("buyer") for _ in range(5)]
    for buyer in buyers:
        fund_wallet(buyer, 10_000)

    def contend(i):
        if i == 0:
            return product_update(actor=supplier, product_id=product.id, changes={"price": "20.00"})
        return order_create(buyer=buyers[i - 1], product_id=product.id, quantity=1, channel="wallet", accept_terms=True)

    results = racer(6, contend)
    assert not [r for r in results if isinstance(r, Exception)], results
    for order in Order.objects.filter(product=product):
        assert order.amount_fen == order.unit_price_fen in (1000, 2000)
        assert order.snapshot["price"] == f"{order.unit_price_fen / 100:.2f}"
    assert Product.objects.get(id=product.id).price_fen == 2000


def test_two_suppliers_importing_the_same_keys_at_once_stock_each_once_and_report_the_rest(make_user, make_product,
                                                                                         racer):
    owners = [make_user("supplier") for _ in range(2)]
    products = [make_product(owner=owner) for owner in owners]
    keys = [f"SHARED-{i:04d}" for i in range(300)]
    results = racer(2, lambda i: keys_import_list(actor=owners[i], product_id=products[i].id, keys=keys))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r.imported for r in results) == 300 and sum(r.duplicates for r in results) == 300
    assert CardSecret.objects.filter(fingerprint__isnull=False).count() == 300
    # Every line is either stocked by its import or reported by it, and reported once.
    for result in results:
        reported = sum(run.lines for run in ImportProblem.objects.filter(batch_id=result.batch_id))
        assert reported == result.duplicates
        assert set(ImportProblem.objects.filter(batch_id=result.batch_id).values_list("problem", flat=True)) <= {
            "already_on_platform"}
