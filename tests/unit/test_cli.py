import base64
import os

import pytest

from kameng import cli
from kameng.core import crypto
from kameng.inventory.models import CardSecret, ImportBatch
from kameng.ledger.models import Journal, LedgerAccount, Posting


@pytest.fixture
def keys_file(tmp_path):
    def write(lines, raw=None):
        path = tmp_path / "keys.txt"
        if raw is not None:
            path.write_bytes(raw)
        else:
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return str(path)

    return write


def test_import_keys_streams_a_file_and_reports_counts(db, make_product, keys_file, capsys):
    product = make_product()
    path = keys_file(["K-1", "K-2", "K-2", "", "bad\x07key", "K-3\r", "x" * 600])
    assert cli.main(["import-keys", str(product.id), path, "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert "imported: 3  duplicates: 1  rejected: 3" in out
    batch = ImportBatch.objects.get()
    assert (batch.imported, batch.duplicates, batch.rejected, batch.status) == (3, 1, 3, "done")
    assert batch.imported_by == product.supplier and batch.source == "cli"
    # Which lines, and why, never the lines themselves.
    assert f"report: /supplier/imports/{batch.id}/" in err
    assert "line 3: duplicate_in_import" in err and "lines 4-5:" not in err and "line 4: empty" in err
    assert "lines 5-5" not in err and "line 7: too_long" in err
    assert "bad" not in out + err and "K-2" not in out + err


def test_import_keys_rejects_bytes_that_are_not_utf8(db, make_product, keys_file, capsys):
    product = make_product()
    path = keys_file(None, raw=b"GOOD-1\n\xff\xfeBAD\n")
    cli.main(["import-keys", str(product.id), path, "--quiet"])
    assert "imported: 1  duplicates: 0  rejected: 1" in capsys.readouterr().out


def test_import_keys_refuses_an_unknown_product(db, keys_file, capsys):
    assert cli.main(["import-keys", "999999", keys_file(["A"]), "--quiet"]) == 2
    assert "PRODUCT_NOT_FOUND" in capsys.readouterr().err


def test_createuser_prints_the_id_and_refuses_bad_roles(db, capsys):
    assert cli.main(["createuser", "alice", "--password", "pw123456", "--role", "buyer", "--phone", "13900000000"]) == 0
    assert capsys.readouterr().out.strip().isdigit()
    assert cli.main(["createuser", "bob", "--password", "pw123456", "--role", "wizard"]) == 2


def test_rotate_keys_re_encrypts_under_the_newest_key(db, make_product, monkeypatch, capsys):
    make_product(keys=3)
    old_ring = os.environ.get("KAMENG_KEYRING") or ",".join(crypto.config.keyring())
    new_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("KAMENG_KEYRING", f"{new_key},{old_ring}")
    crypto.keyring.cache_clear()
    try:
        assert cli.main(["rotate-keys"]) == 0
        assert "re-encrypted: 3" in capsys.readouterr().out
        ring = crypto.keyring()
        assert all(ring.is_current(bytes(blob)) for blob in CardSecret.objects.values_list("ciphertext", flat=True))
        assert sorted(ring.decrypt(b) for b in CardSecret.objects.values_list("ciphertext", flat=True))[0].startswith("KEY-")
    finally:
        crypto.keyring.cache_clear()


@pytest.mark.unbalanced_ledger
def test_check_ledger_finds_an_unbalanced_journal(db, buyer, fund_wallet, capsys):
    fund_wallet(buyer, 500)
    assert cli.main(["check-ledger"]) == 0
    journal = Journal.objects.create(reference="broken", kind="test", at=Journal.objects.first().at)
    Posting.objects.create(journal=journal, account=LedgerAccount.objects.first(), amount_fen=7)
    Posting.objects.create(journal=journal, account=LedgerAccount.objects.last(), amount_fen=-5)
    assert cli.main(["check-ledger"]) == 1
    out = capsys.readouterr().out
    assert "UNBALANCED broken: 2 fen" in out and "DOES NOT BALANCE" in out


@pytest.mark.unbalanced_ledger
def test_check_ledger_finds_money_stranded_in_escrow(db, buyer, make_product, fund_wallet, capsys):
    """A closed order must hold nothing in escrow: the partial-refund bug of issue 6 left 9.00 there."""
    from kameng.ledger.services import Accounts, Line, journal_post
    from kameng.orders.models import Order, OrderItem
    from kameng.orders.services import order_create

    fund_wallet(buyer, 1000)
    order = order_create(buyer=buyer, product_id=make_product(is_manual=True, price="10.00").id, quantity=1,
                         channel="wallet", accept_terms=True)
    assert cli.main(["check-ledger"]) == 0  # paid, awaiting delivery: escrow rightly holds 10.00
    # What the old partial approval did: 1.00 back from escrow, every item and the order closed.
    journal_post(reference="refund:old", kind="refund", order=order,
                 lines=[Line(Accounts.ESCROW, 100), Line(Accounts.wallet(buyer.id), -100)])
    OrderItem.objects.filter(order=order).update(status="refunded")
    Order.objects.filter(id=order.id).update(status="refunded")
    assert cli.main(["check-ledger"]) == 1
    assert f"STRANDED IN ESCROW {order.order_no}: 900 fen" in capsys.readouterr().out


@pytest.mark.unbalanced_ledger
def test_check_ledger_finds_a_wallet_whose_running_balance_drifted(db, buyer, fund_wallet, capsys):
    """The wallet's kept balance is what purchases trust: check-ledger proves it equals its postings."""
    from kameng.ledger.services import Accounts

    fund_wallet(buyer, 500)
    fund_wallet(buyer, 250)
    assert cli.main(["check-ledger"]) == 0
    LedgerAccount.objects.filter(code=Accounts.wallet(buyer.id)).update(running_fen=-10_000)
    assert cli.main(["check-ledger"]) == 1
    out = capsys.readouterr().out
    assert f"RUNNING BALANCE OFF {Accounts.wallet(buyer.id)}: kept -10000 fen, postings sum to -750 fen" in out


def test_existing_wallets_start_from_the_sum_of_their_postings(db, buyer, supplier, fund_wallet):
    """The migration that adds the kept balance fills it for wallets that already have a history."""
    from importlib import import_module

    from django.apps import apps

    from kameng.ledger.services import Accounts, account

    fund_wallet(buyer, 500)
    fund_wallet(buyer, 120)
    account(Accounts.payable(supplier.id))
    LedgerAccount.objects.update(running_fen=None)  # as the rows were before the migration
    migration = import_module("kameng.ledger.migrations.0002_wallet_running_balance")
    migration.fill_wallet_balances(apps, None)
    kept = dict(LedgerAccount.objects.values_list("code", "running_fen"))
    assert kept[Accounts.wallet(buyer.id)] == -620
    assert kept[Accounts.payable(supplier.id)] is None  # shared and supplier accounts keep none
