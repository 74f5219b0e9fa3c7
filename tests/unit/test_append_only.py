import pytest
from django.db import DatabaseError, transaction

from kameng.ledger.models import Posting
from kameng.orders.models import OrderEvent


@pytest.mark.django_db
def test_the_ledger_and_the_order_history_cannot_be_rewritten(make_user, make_product, fund_wallet, api_as):
    buyer = make_user("buyer")
    fund_wallet(buyer, 10_000)
    product = make_product(keys=1)
    api_as(buyer).post("/orders", {"product_id": product.id, "quantity": 1, "channel": "wallet", "accept_terms": True})
    for attempt in (
        lambda: Posting.objects.filter(amount_fen__gt=0).update(amount_fen=1),
        lambda: OrderEvent.objects.update(note="rewritten"),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            attempt()
    assert not OrderEvent.objects.filter(note="rewritten").exists()
