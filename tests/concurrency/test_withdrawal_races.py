"""Supplier withdrawals under real concurrency (PostgreSQL, one connection per thread): requests at once
can take exactly what is available and no more; an approval sent many times at once pays once; the
maturity sweep run by several workers at once moves a sale once."""

import pytest

from kameng.core import clock
from kameng.core.errors import DomainError
from kameng.ledger.models import Journal, Withdrawal
from kameng.ledger.selectors import book_check
from kameng.ledger.services import Accounts, balance
from kameng.ledger.supplier_money import sales_mature_due, withdrawal_approve, withdrawal_request
from kameng.orders.services import order_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _matured(make_user, fund_wallet, product, sales: int):
    buyer = make_user("buyer")
    fund_wallet(buyer, 100_000)
    for _ in range(sales):
        order_create(buyer=buyer, product_id=product.id, quantity=1, channel="wallet", accept_terms=True)
    clock.advance(seconds=73 * 3600)
    sales_mature_due()


def test_withdrawals_at_once_take_exactly_what_is_available(make_user, make_product, fund_wallet, supplier, racer):
    _matured(make_user, fund_wallet, make_product(price="10.00", keys=4), sales=4)
    assert str(balance(Accounts.available(supplier.id))) == "38.00"
    # Eight requests of 5.00 against 38.00: seven fit, the eighth must be refused whatever the interleaving.
    results = racer(8, lambda i: withdrawal_request(supplier=supplier, amount="5.00"))
    taken = [r for r in results if isinstance(r, Withdrawal)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(taken) == 7 and len(refused) == 1, results
    assert all(isinstance(r, DomainError) and r.code == "INSUFFICIENT_AVAILABLE" for r in refused), refused
    assert str(balance(Accounts.available(supplier.id))) == "3.00"
    results = racer(4, lambda i: withdrawal_request(supplier=supplier, amount="3.00"))
    assert sum(isinstance(r, Withdrawal) for r in results) == 1, results
    assert balance(Accounts.available(supplier.id)).fen == 0
    assert book_check().ok


def test_an_approval_sent_at_once_pays_once(make_user, make_product, fund_wallet, supplier, racer):
    _matured(make_user, fund_wallet, make_product(price="10.00", keys=1), sales=1)
    withdrawal = withdrawal_request(supplier=supplier, amount="9.50")
    finance = make_user("finance")
    results = racer(6, lambda i: withdrawal_approve(actor=finance, withdrawal_id=withdrawal.id))
    assert all(isinstance(r, Withdrawal) and r.status == "paid" for r in results), results
    assert Journal.objects.filter(kind="withdrawal_paid").count() == 1
    assert balance(Accounts.BANK_PAYOUTS).fen == -950
    assert book_check().ok


def test_the_maturity_sweep_run_by_several_workers_moves_a_sale_once(make_user, make_product, fund_wallet, supplier,
                                                                     racer):
    buyer = make_user("buyer")
    fund_wallet(buyer, 100_000)
    for _ in range(3):
        order_create(buyer=buyer, product_id=make_product(price="10.00", keys=1).id, quantity=1, channel="wallet",
                     accept_terms=True)
    clock.advance(seconds=73 * 3600)
    results = racer(4, lambda i: sales_mature_due())
    assert not any(isinstance(r, Exception) for r in results), results
    assert Journal.objects.filter(kind="supplier_matured").count() == 3
    assert str(balance(Accounts.available(supplier.id))) == "28.50"
    assert balance(Accounts.payable(supplier.id)).fen == 0
    assert book_check().ok
