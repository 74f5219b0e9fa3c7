"""A page that meets a database lock or statement timeout says "try again" (503), never a 500."""

import psycopg
import pytest
from django.db import OperationalError

from kameng.web.views import shop


def _timeout(sqlstate_error):
    # What Django raises when PostgreSQL cancels a wait: its OperationalError wrapping psycopg's.
    exc = OperationalError("canceling statement due to lock timeout")
    exc.__cause__ = sqlstate_error
    return exc


@pytest.mark.parametrize("cause", [psycopg.errors.LockNotAvailable(), psycopg.errors.QueryCanceled()])
def test_checkout_that_times_out_on_a_lock_answers_busy_page(client_as, buyer, make_product, monkeypatch, cause):
    card_product = make_product(keys=1)

    def held_elsewhere(**kwargs):
        raise _timeout(cause)

    monkeypatch.setattr(shop, "order_create", held_elsewhere)
    client = client_as(buyer)
    client.raise_request_exception = False
    page = client.post(f"/products/{card_product.id}/buy/",
                       {"quantity": 1, "channel": "wallet", "accept_terms": "on"})
    assert page.status_code == 503
    assert page["Retry-After"] == "1"
    text = page.content.decode()
    assert "请稍后重试" in text and "本次未做任何更改" in text


def test_other_database_errors_are_not_dressed_up_as_busy(client_as, buyer, make_product, monkeypatch):
    card_product = make_product(keys=1)
    def broken(**kwargs):
        raise OperationalError("disk I/O error")

    monkeypatch.setattr(shop, "order_create", broken)
    client = client_as(buyer)
    client.raise_request_exception = False
    page = client.post(f"/products/{card_product.id}/buy/", {"quantity": 1, "channel": "wallet", "accept_terms": "on"})
    assert page.status_code == 500
