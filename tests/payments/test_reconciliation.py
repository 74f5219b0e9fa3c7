"""Reconciliation against the fake Alipay and WeChat Pay over real HTTP (their bill APIs, real signing).

A payment the gateway took that we never recorded is caught and taken through the normal capture
(order delivered, book balanced); a refund it paid back that we still think is refunding is settled
once; everything else is reported for a person and changes nothing. After every test the book
balances (the suite's autouse check).
"""

import gzip
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kameng import cli
from kameng.aftersales.models import RefundPayout
from kameng.core import clock
from kameng.core.deadlines import process_due
from kameng.core.worker import run_queued_tasks
from kameng.ledger.models import Journal
from kameng.orders.models import Order, OrderEvent
from kameng.payments.models import Payment, ReconciliationLine, ReconciliationRun
from kameng.payments.reconciliation import reconcile

from ..aftersales.conftest import ask
from .fakes.common import Modes

BEIJING = ZoneInfo("Asia/Shanghai")
ALIPAY_NOTIFY = "/api/v1/payments/notify/alipay"
WECHAT_NOTIFY = "/api/v1/payments/notify/wechat"
FORM = "application/x-www-form-urlencoded; charset=utf-8"


@pytest.fixture
def production(settings, monkeypatch):
    settings.KAMENG_SANDBOX = False
    monkeypatch.setenv("KAMENG_PUBLIC_URL", "https://shop.example")


def _today():
    # The fakes stamp their bills with the real Beijing date; with the sandbox off our clock is real time.
    return datetime.now(BEIJING).date()


def _order(api, product, channel):
    created = api.post("/orders?device=qr", {"product_id": product.id, "quantity": 1, "channel": channel,
                                              "accept_terms": True})
    assert created.status_code == 201, created.content
    return created.json()


def _status(api, order):
    return api.get(f"/orders/{order['order_no']}").json()["status"]


def _paid_alipay_order(api, fake, product):
    order = _order(api, product, "alipay")
    body = fake.pay(order["payment"]["payment_no"], deliver=False)
    assert api.client.post(ALIPAY_NOTIFY, data=body, content_type=FORM).content == b"success"
    return order


def _run(channel="alipay", **kwargs):
    return reconcile(channel=channel, day=_today(), **kwargs)


def _counts(run):
    return (run.matched, run.missing_here, run.missing_there, run.amount_differs, run.repaired)


# ---- payments -------------------------------------------------------------------------------------


def test_a_payment_the_gateway_took_but_we_never_saw_is_caught_and_delivered_once(
        production, alipay_env, api_as, buyer, make_product):
    api = api_as(buyer)
    seen = _paid_alipay_order(api, alipay_env, make_product(keys=1))
    lost = _order(api, make_product(keys=1), "alipay")
    alipay_env.pay(lost["payment"]["payment_no"], deliver=False)  # paid at Alipay; the notification never came
    assert _status(api, lost) == "pending_payment"

    run = _run()
    assert run.status == "differences" and run.statement_lines == 2
    assert _counts(run) == (1, 1, 0, 0, 1)
    line = run.lines.get()
    assert (line.category, line.kind, line.reason, line.repair) == ("missing_here", "payment", "NOT_RECORDED_PAID",
                                                                    "captured")
    assert line.our_no == lost["payment"]["payment_no"] and line.order_no == lost["order_no"]
    assert line.statement_amount_fen == line.our_amount_fen == 1000
    assert _status(api, lost) == "delivered" and _status(api, seen) == "delivered"
    events = list(OrderEvent.objects.filter(order__order_no=lost["order_no"]).values_list("event", flat=True))
    assert "paid" in events and "reconciliation_repair" in events
    trade_no = alipay_env.trades[lost["payment"]["payment_no"]]["trade_no"]
    assert Payment.objects.get(payment_no=lost["payment"]["payment_no"]).trade_no == trade_no
    # The same day again: everything matches, nothing is taken twice.
    again = _run()
    assert again.status == "balanced" and _counts(again) == (2, 0, 0, 0, 0) and not again.lines.exists()
    assert Journal.objects.filter(payment__isnull=False).count() == 2
    assert OrderEvent.objects.filter(event="reconciliation_repair").count() == 1


def test_a_payment_for_an_order_that_expired_meanwhile_is_taken_by_the_late_payment_rules(
        production, alipay_env, api_as, buyer, make_product):
    api = api_as(buyer)
    order = _order(api, make_product(keys=2), "alipay")
    alipay_env.pay(order["payment"]["payment_no"], deliver=False)
    # Its deadline passes while Alipay answers garbage: the query cannot tell, the order expires.
    past = clock.now() - timedelta(seconds=1)
    Order.objects.filter(order_no=order["order_no"]).update(expires_at=past)
    Payment.objects.filter(payment_no=order["payment"]["payment_no"]).update(expires_at=past)
    alipay_env.mode = Modes.GARBAGE
    assert process_due()["orders_expired"] == 1
    assert _status(api, order) == "expired"
    alipay_env.mode = Modes.NORMAL

    run = _run()
    assert _counts(run) == (0, 1, 0, 0, 1)
    assert _status(api, order) == "delivered"  # the late payment delivers while stock lasts
    events = list(OrderEvent.objects.filter(order__order_no=order["order_no"]).values_list("event", flat=True))
    assert "late_payment" in events and "reconciliation_repair" in events


def test_a_statement_line_the_gateway_cannot_confirm_moves_no_money(production, alipay_env, api_as, buyer, make_product):
    """A line alone (a doctored file, a bill out of step) never pays: the gateway's signed answer must agree."""
    api = api_as(buyer)
    order = _order(api, make_product(keys=1), "alipay")
    trade = alipay_env.trades[order["payment"]["payment_no"]]
    alipay_env.extra_bill_rows.append({"trade_no": trade["trade_no"], "out_trade_no": trade["out_trade_no"],
                                       "kind": "交易", "subject": "x", "created": trade["created"],
                                       "done": datetime.now(BEIJING), "amount": "10.00", "request_no": ""})
    run = _run()  # the bill says paid; trade.query says WAIT_BUYER_PAY
    assert _counts(run) == (0, 1, 0, 0, 0)
    assert run.lines.get().reason == "NOT_CONFIRMED"
    bill = alipay_env.bill_zip(_today().isoformat())
    alipay_env.mode = Modes.TIMEOUT  # the downloaded bill is read; the query cannot be answered
    assert _run(file_data=bill).lines.get().reason == "QUERY_FAILED"
    alipay_env.mode = Modes.NORMAL
    alipay_env.release.set()
    assert _status(api, order) == "pending_payment" and not Journal.objects.filter(payment__isnull=False).exists()


def test_an_amount_that_differs_is_reported_and_changes_nothing(production, alipay_env, api_as, buyer, make_product):
    api = api_as(buyer)
    paid = _paid_alipay_order(api, alipay_env, make_product(keys=1))
    unpaid = _order(api, make_product(keys=1), "alipay")
    alipay_env.pay(unpaid["payment"]["payment_no"], deliver=False)
    for order, fen in ((paid, 999), (unpaid, 1001)):
        alipay_env.trades[order["payment"]["payment_no"]]["total_fen"] = fen

    run = _run()
    assert run.status == "differences" and _counts(run) == (0, 0, 0, 2, 0)
    lines = {line.our_no: line for line in run.lines.all()}
    assert (lines[paid["payment"]["payment_no"]].statement_amount_fen,
            lines[paid["payment"]["payment_no"]].our_amount_fen) == (999, 1000)
    assert lines[unpaid["payment"]["payment_no"]].repair == ""  # never taken at a different amount
    assert _status(api, unpaid) == "pending_payment" and _status(api, paid) == "delivered"


def test_what_the_gateway_does_not_know_is_missing_there(production, alipay_env, api_as, buyer, make_product):
    api = api_as(buyer)
    kept = _paid_alipay_order(api, alipay_env, make_product(keys=1))
    vanished = _paid_alipay_order(api, alipay_env, make_product(keys=1))
    late = _paid_alipay_order(api, alipay_env, make_product(keys=1))
    del alipay_env.trades[vanished["payment"]["payment_no"]]  # Alipay has no such trade
    # Alipay completed this one a second before midnight: it is on yesterday's bill, not a difference.
    alipay_env.trades[late["payment"]["payment_no"]]["paid_at"] = datetime.combine(
        _today(), datetime.min.time(), tzinfo=BEIJING) - timedelta(seconds=1)
    alipay_env.extra_bill_rows.append({"trade_no": "2026000022001999", "out_trade_no": "P-NOT-OURS", "kind": "交易",
                                       "subject": "x", "created": datetime.now(BEIJING),
                                       "done": datetime.now(BEIJING), "amount": "5.00", "request_no": ""})
    run = _run()
    assert _counts(run) == (1, 1, 1, 0, 0)
    there = run.lines.get(category="missing_there")
    assert (there.our_no, there.our_amount_fen, there.statement_amount_fen) == (vanished["payment"]["payment_no"], 1000,
                                                                               None)
    here = run.lines.get(category="missing_here")
    assert (here.our_no, here.reason) == ("P-NOT-OURS", "UNKNOWN_TO_US")
    assert kept and Payment.objects.filter(status="succeeded").count() == 3  # nothing changed


# ---- refunds --------------------------------------------------------------------------------------


def _refunded(api, api_as, reviewer, order):
    api.post(f"/orders/{order['order_no']}/reveal")
    refund = ask(api, api.get(f"/orders/{order['order_no']}").json(), "invalid_key").json()
    approved = api_as(reviewer).post(f"/staff/refunds/{refund['id']}/approve", {"note": "卡密无效，同意退款"})
    assert approved.status_code == 200, approved.content
    return refund


def test_an_alipay_refund_whose_answer_was_lost_is_settled_once(
        production, alipay_env, api_as, buyer, reviewer, make_product):
    api = api_as(buyer)
    order = _paid_alipay_order(api, alipay_env, make_product(keys=2))
    refund = _refunded(api, api_as, reviewer, order)
    alipay_env.mode = Modes.LATE  # Alipay refunds; its answer never reaches us
    run_queued_tasks()
    alipay_env.mode = Modes.NORMAL
    alipay_env.release.set()
    assert RefundPayout.objects.get().status == "pending"

    run = _run()
    assert _counts(run) == (1, 1, 0, 0, 1)
    line = run.lines.get()
    assert (line.kind, line.repair, line.our_no) == ("refund", "payout_settled", RefundPayout.objects.get().request_no)
    assert api.get(f"/refunds/{refund['id']}").json()["status"] == "refunded"
    assert _counts(_run()) == (2, 0, 0, 0, 0)
    assert Journal.objects.filter(kind="refund").count() == 1 and alipay_env.refund_calls == 1


def test_a_wechat_refund_whose_notification_was_lost_is_settled_once(
        production, wechat_env, api_as, buyer, reviewer, make_product):
    api = api_as(buyer)
    order = _order(api, make_product(keys=2), "wechat")
    body, headers = wechat_env.pay(order["payment"]["payment_no"], deliver=False)
    assert api.client.post(WECHAT_NOTIFY, data=body, content_type="application/json", headers=headers).status_code == 204
    refund = _refunded(api, api_as, reviewer, order)
    run_queued_tasks()  # WeChat Pay accepts it: processing
    payout = RefundPayout.objects.get()
    assert payout.status == "sent"
    wechat_env.complete_refund(payout.request_no, deliver=False)  # done at WeChat Pay; we never hear of it

    run = _run("wechat")
    assert run.statement_lines == 2 and _counts(run) == (1, 1, 0, 0, 1)
    assert api.get(f"/refunds/{refund['id']}").json()["status"] == "refunded"
    assert _counts(_run("wechat")) == (2, 0, 0, 0, 0)
    assert Journal.objects.filter(kind="refund").count() == 1
    events = OrderEvent.objects.filter(order__order_no=order["order_no"], event="reconciliation_repair")
    assert events.count() == 1 and payout.request_no in events.get().note


# ---- files and the command line --------------------------------------------------------------------


def test_the_command_reads_a_downloaded_file_prints_the_counts_and_exits_1_on_differences(
        production, alipay_env, api_as, buyer, make_product, tmp_path, capsys):
    api = api_as(buyer)
    _paid_alipay_order(api, alipay_env, make_product(keys=1))
    lost = _order(api, make_product(keys=1), "alipay")
    alipay_env.pay(lost["payment"]["payment_no"], deliver=False)
    day = _today().isoformat()
    bill = tmp_path / "20881234_bill.zip"
    bill.write_bytes(alipay_env.bill_zip(day))
    requests_before = len(alipay_env.requests)

    assert cli.main(["reconcile", "alipay", "--date", day, "--file", str(bill)]) == 1
    out = capsys.readouterr().out
    assert "matched: 1  missing here: 1  missing there: 0  amount differs: 0  repaired: 1" in out
    assert lost["payment"]["payment_no"] in out and "REPAIRED: captured" in out
    assert "PRIVATE" not in out and "sign" not in out
    asked = [path for _, path in alipay_env.requests[requests_before:]]
    assert not any("bill" in p for p in asked)  # the file was read, not fetched; the query confirmed it
    assert _status(api, lost) == "delivered"
    run = ReconciliationRun.objects.get()
    assert (run.source, run.file_name) == ("file", "20881234_bill.zip")

    assert cli.main(["reconcile", "alipay", "--date", day, "--file", str(bill)]) == 0  # all matches now
    assert "matched: 2  missing here: 0" in capsys.readouterr().out
    assert cli.main(["reconcile", "alipay", "--date", day]) == 0  # fetched through the bill API: the same


def test_a_wechat_trade_bill_file_gzipped_or_not(production, wechat_env, api_as, buyer, make_product, tmp_path, capsys):
    api = api_as(buyer)
    order = _order(api, make_product(keys=1), "wechat")
    wechat_env.pay(order["payment"]["payment_no"], deliver=False)
    text = wechat_env.bill_text(_today().isoformat()).encode("utf-8")
    plain, packed = tmp_path / "bill.csv", tmp_path / "bill.csv.gz"
    plain.write_bytes(text)
    packed.write_bytes(gzip.compress(text))
    assert cli.main(["reconcile", "wechat", "--date", _today().isoformat(), "--file", str(packed)]) == 1
    assert _status(api, order) == "delivered"
    assert cli.main(["reconcile", "wechat", "--date", _today().isoformat(), "--file", str(plain)]) == 0
    assert "matched: 1  missing here: 0  missing there: 0  amount differs: 0" in capsys.readouterr().out


def test_the_command_refuses_what_it_cannot_reconcile(production, alipay_env, tmp_path, capsys, db):
    day = _today().isoformat()
    assert cli.main(["reconcile", "alipay", "--date", "2026-13-01"]) == 2
    assert "INVALID_DATE" in capsys.readouterr().err
    tomorrow = (_today() + timedelta(days=1)).isoformat()
    assert cli.main(["reconcile", "alipay", "--date", tomorrow]) == 2
    assert cli.main(["reconcile", "alipay", "--date", day, "--file", str(tmp_path / "nope.zip")]) == 2
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"PK\x03\x04 not really a zip")
    assert cli.main(["reconcile", "alipay", "--date", day, "--file", str(garbage)]) == 2
    assert cli.main(["reconcile", "wechat", "--date", day]) == 2  # not configured here
    err = capsys.readouterr().err
    assert "STATEMENT_UNREADABLE" in err and "wechat channel is not configured" in err
    assert list(ReconciliationRun.objects.values_list("status", flat=True)) == ["failed", "failed"]
    assert not ReconciliationLine.objects.exists()
    alipay_env.mode = Modes.GARBAGE
    assert cli.main(["reconcile", "alipay", "--date", day]) == 2
    assert ReconciliationRun.objects.latest("id").error.startswith("FETCH_FAILED: the gateway's statement could not be fetched")
    alipay_env.mode = Modes.NORMAL
    assert cli.main(["reconcile", "alipay", "--date", day]) == 0  # an empty day balances


# ---- the daily job --------------------------------------------------------------------------------


def test_the_daily_job_reconciles_yesterday_once_and_retries_a_day_it_could_not_fetch(
        production, settings, alipay_env, api_as, buyer, make_product):
    from kameng.payments.reconciliation import DAILY_RETRY_AFTER

    settings.KAMENG_RECONCILE_DAILY = True
    settings.KAMENG_RECONCILE_HOUR = 24  # not yet: the bill is out only in the morning
    api = api_as(buyer)
    order = _order(api, make_product(keys=1), "alipay")
    no = order["payment"]["payment_no"]
    alipay_env.pay(no, deliver=False)  # paid yesterday at noon; the notification never came
    yesterday = _today() - timedelta(days=1)
    alipay_env.trades[no]["paid_at"] = datetime.combine(yesterday, datetime.min.time(), tzinfo=BEIJING) + timedelta(hours=12)
    assert process_due()["statements_reconciled"] == 0

    settings.KAMENG_RECONCILE_HOUR = 0
    alipay_env.mode = Modes.GARBAGE  # the bill API is down
    assert process_due()["statements_reconciled"] == 1  # alipay only: wechat is not configured
    assert process_due()["statements_reconciled"] == 0  # claimed: not twice
    run_queued_tasks()
    failed = ReconciliationRun.objects.get()
    assert (failed.actor, failed.day, failed.status) == ("system", yesterday, "failed")
    assert process_due()["statements_reconciled"] == 0  # tried again later, not at every sweep
    ReconciliationRun.objects.update(started_at=clock.now() - DAILY_RETRY_AFTER - timedelta(seconds=1))

    alipay_env.mode = Modes.NORMAL
    assert process_due()["statements_reconciled"] == 1
    run_queued_tasks()
    run = ReconciliationRun.objects.latest("id")
    assert run.status == "differences" and _counts(run) == (0, 1, 0, 0, 1)
    assert _status(api, order) == "delivered"
    assert process_due()["statements_reconciled"] == 0 and run_queued_tasks() == 0
    assert ReconciliationRun.objects.count() == 2


def test_the_sandbox_statement_balances_with_what_the_sandbox_paid(api_as, buyer, make_product):
    """The demo (sandbox on, no credentials): the sandbox serves alipay and its statement matches."""
    from kameng.payments.reconciliation import beijing_today
    from kameng.payments.services import sandbox_pay

    api = api_as(buyer)
    order = _order(api, make_product(keys=1), "alipay")
    sandbox_pay(user=buyer, payment_no=order["payment"]["payment_no"])
    run = reconcile(channel="alipay", day=beijing_today())
    assert run.status == "balanced" and _counts(run) == (1, 0, 0, 0, 0)
    assert reconcile(channel="wechat", day=beijing_today()).status == "balanced"
