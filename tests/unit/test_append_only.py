import pytest
from django.core.management import call_command
from django.db import DatabaseError, transaction

from kameng.ledger.models import Journal, Posting
from kameng.ledger.services import forget_cached_accounts
from kameng.orders.models import OrderEvent


def _buy(make_user, make_product, fund_wallet, api_as):
    buyer = make_user("buyer")
    fund_wallet(buyer, 10_000)
    product = make_product(keys=1, owner=make_user("supplier"))
    api_as(buyer).post("/orders", {"product_id": product.id, "quantity": 1, "channel": "wallet", "accept_terms": True})


@pytest.mark.django_db
def test_the_ledger_and_the_order_history_cannot_be_rewritten(make_user, make_product, fund_wallet, api_as):
    _buy(make_user, make_product, fund_wallet, api_as)
    for attempt in (
        lambda: Posting.objects.filter(amount_fen__gt=0).update(amount_fen=1),
        lambda: OrderEvent.objects.update(note="rewritten"),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            attempt()
    assert not OrderEvent.objects.filter(note="rewritten").exists()


@pytest.mark.django_db
def test_rows_of_the_ledger_and_the_order_history_cannot_be_deleted(make_user, make_product, fund_wallet, api_as):
    _buy(make_user, make_product, fund_wallet, api_as)
    events, postings = OrderEvent.objects.count(), Posting.objects.count()
    assert events and postings
    for attempt in (
        lambda: OrderEvent.objects.all().delete(),
        lambda: Posting.objects.filter(amount_fen__gt=0).delete(),
        lambda: Journal.objects.all()._raw_delete(Journal.objects.db),  # no ORM cascade: the database itself
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            attempt()
    assert (OrderEvent.objects.count(), Posting.objects.count()) == (events, postings)


@pytest.mark.django_db(transaction=True)
def test_a_flush_still_empties_the_append_only_tables_and_keeps_them_guarded(
        make_user, make_product, fund_wallet, api_as):
    """Test teardown (and an operator's purge) empties the tables; the guard is back afterwards."""
    _buy(make_user, make_product, fund_wallet, api_as)
    call_command("flush", interactive=False, verbosity=0)
    assert not OrderEvent.objects.exists() and not Posting.objects.exists()
    forget_cached_accounts()
    _buy(make_user, make_product, fund_wallet, api_as)
    with pytest.raises(DatabaseError), transaction.atomic():
        OrderEvent.objects.all().delete()
