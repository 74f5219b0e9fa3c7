"""A row lock held too long: waiting requests get a clean answer within the lock timeout; health answers."""

import json
import threading
import time

import pytest
from django.conf import settings
from django.db import connections, transaction
from django.test import Client

from kameng.accounts.services import token_issue
from kameng.inventory.models import CardSecret
from kameng.ledger.models import LedgerAccount
from kameng.ledger.services import Accounts
from kameng.orders.models import Order

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

HOLD_SECONDS = 20


def _hold_row(code, held, release):
    try:
        with transaction.atomic():
            LedgerAccount.objects.select_for_update().get(code=code)
            held.set()
            release.wait(timeout=HOLD_SECONDS)
    finally:
        connections.close_all()


def test_a_purchase_waiting_on_a_held_wallet_lock_gets_a_clean_503_and_health_still_answers(
        make_user, make_product, fund_wallet):
    buyer = make_user("buyer")
    fund_wallet(buyer, 10_000)
    product = make_product(keys=3, price="1.00")
    token, _ = token_issue(username=buyer.username, password="secret123")
    held, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=_hold_row, args=(Accounts.wallet(buyer.id), held, release))
    holder.start()
    try:
        assert held.wait(timeout=10)
        started = time.monotonic()
        health = Client().get("/api/v1/health")
        health_took = time.monotonic() - started
        started = time.monotonic()
        bought = Client().post("/api/v1/orders", json.dumps({"product_id": product.id, "quantity": 1, "channel": "wallet",
                                                             "accept_terms": True}),
                               content_type="application/json", headers={"Authorization": f"Bearer {token}"})
        waited = time.monotonic() - started
    finally:
        release.set()
        holder.join()
    assert health.status_code == 200 and health.json()["ok"] is True and health_took < 1
    assert bought.status_code == 503, bought.content
    assert bought.json()["error"]["code"] == "LOCK_TIMEOUT" and bought.headers["Retry-After"]
    assert waited < settings.KAMENG_DB_LOCK_TIMEOUT + 2  # not the holder's 20 s
    assert Order.objects.count() == 0 and CardSecret.objects.filter(status="available").count() == 3
