"""One sweep, many deadlines: each domain declares what falls due; core runs them without knowing any."""

import ast
import pathlib

import pytest

import kameng.core
from kameng.core import deadlines


def test_core_imports_no_domain():
    """The sweep's registry lives in core and names no domain: domains register themselves."""
    source = pathlib.Path(kameng.core.__file__).parent.joinpath("deadlines.py").read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    domains = {"kameng." + name for name in ("orders", "aftersales", "payments", "notifications", "web", "inventory",
                                              "catalog", "ledger", "accounts")}
    assert not {module for module in imported if any(module.startswith(d) for d in domains)}


def test_every_domain_deadline_is_swept_and_the_outbox_goes_last():
    names = [d.name for d in deadlines.registered()]
    for expected in ("payments_recovered", "statements_reconciled", "topups_queried", "orders_expired", "topups_sent", "refund_requests_closed", "payouts_reconciled",
                     "gateway_refunds_notified", "import_files_removed", "outbox_sent"):
        assert expected in names
    assert names[-1] == "outbox_sent"  # messages written by the other deadlines of a sweep go out in it
    assert names[0] == "payments_recovered"  # a payment taken at the last second pays before its order expires


@pytest.mark.django_db
def test_the_sweep_reports_each_deadline():
    done = deadlines.process_due()
    assert set(done) == {d.name for d in deadlines.registered()}
    assert all(count == 0 for count in done.values())
