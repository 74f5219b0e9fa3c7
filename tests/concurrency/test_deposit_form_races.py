"""Finance's deposit form sent several times at once (a double click on a slow connection, two tabs with the
same confirmation page), PostgreSQL, one connection per thread: one deposit is recorded, every request is
answered with the page (never a 500), and the book balances."""

import pytest
from django.test import Client

from kameng.ledger.models import Journal
from kameng.ledger.selectors import book_check
from kameng.ledger.services import Accounts, balance

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_the_same_deposit_form_sent_at_once_records_one_deposit(make_user, supplier, racer):
    finance = make_user("finance")
    clients = []
    for _ in range(6):
        client = Client()
        client.force_login(finance)
        clients.append(client)
    form = {"action": "deposit", "amount": "800.00", "note": "银行转账", "key": "form-key-1", "confirmed": "1"}
    answers = racer(len(clients), lambda i: clients[i].post(f"/finance/suppliers/{supplier.id}/", form))
    assert all(getattr(a, "status_code", None) == 302 for a in answers), answers
    assert Journal.objects.filter(kind="deposit_lodged").count() == 1
    assert balance(Accounts.deposit(supplier.id)).fen == 80_000
    assert book_check().ok
