#!/usr/bin/env python
"""Automatic refunds of undelivered orders: N wallet refunds through `POST /api/v1/refunds` against `kameng serve`.

Setup (Django code in subprocesses, before the server starts): a supplier, one top-up product
(delivery_promise_minutes=1), B buyers with funded wallets (bulk-inserted, one shared password hash, API tokens
minted as `token_issue` stores them), N wallet orders through `kameng.orders.services.order_create`, each top-up
then reported failed by the supplier through `kameng.orders.fulfilment.topup_report` — so every order is paid,
undelivered and eligible for an automatic refund.

Measured: C concurrent keep-alive clients (client i takes buyers i, i+C, …: no two clients share a buyer) each
POST /api/v1/refunds {"order_no","reason","description","destination":"wallet"} with the buyer's token. The
answer must be 201 with status "refunded" (a wallet refund is paid at once), so the request latency *is* the time
from request to `refunded`. Reported: throughput, p50/p90/p99/max.

Verified afterwards (SQL through Django): N refunds all `refunded`, one per order, N journals of kind `refund`,
every order `refunded` with refunded_fen == amount_fen, N succeeded wallet payouts, every buyer's wallet back to
its grant, `kameng check-ledger` passes, no server errors.
"""

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    BenchEnv,
    Http,
    add_common_args,
    django_parallel,
    latency_line,
    log,
    machine_info,
    report,
    setup_bulk_users,
)

DESCRIPTION = "付款一小时了还没有到账，订单一直显示处理中。"
PASSWORD = "bench-password-1"
PRICE_FEN = 1000

SETUP_SUPPLIER = r"""
from kameng.accounts.services import user_create
from kameng.catalog.services import product_create
from kameng.ledger.services import Accounts, account
supplier = user_create(username="bench_supplier", password=payload["password"], role="supplier")
product = product_create(actor=supplier, name="bench 话费充值 10 元", kind="topup", price=payload["price"],
                         face_value=payload["price"], delivery_promise_minutes=1)
account(Accounts.payable(supplier.id))
result = {"supplier": supplier.id, "product": product.id}
"""

# One chunk of buyers: their wallet orders through the service, then each top-up reported failed by the supplier.
SETUP_ORDERS = r"""
from kameng.accounts.models import User
from kameng.orders.fulfilment import topup_report
from kameng.orders.services import order_create
supplier = User.objects.get(id=payload["supplier"])
out = []
for buyer_id, count in payload["buyers"]:
    buyer = User.objects.get(id=buyer_id)
    for _ in range(count):
        order = order_create(buyer=buyer, product_id=payload["product"], quantity=1, channel="wallet",
                             accept_terms=True, recharge_account="13800138000")
        topup_report(actor=supplier, order_no=order.order_no, status="failed")
        out.append([buyer_id, order.order_no])
result = out
"""

VERIFY = r"""
from django.db.models import Count, F, Sum
from kameng.aftersales.models import Refund, RefundPayout
from kameng.ledger.models import Journal
from kameng.ledger.services import Accounts, balance
from kameng.orders.models import Order, OrderItem
orders = Order.objects.filter(product_id=payload["product"])
refunds = Refund.objects.filter(order__product_id=payload["product"])
wallets_off = 0
for buyer_id in payload["buyer_ids"]:
    if balance(Accounts.wallet(buyer_id)).fen != payload["fund_fen"]:
        wallets_off += 1
result = {
    "orders": orders.count(),
    "refunds": refunds.count(),
    "refunds_by_status": dict(refunds.values_list("status").annotate(n=Count("id")).order_by()),
    "orders_with_2plus_refunds": refunds.values("order_id").annotate(n=Count("id")).filter(n__gt=1).count(),
    "refund_journals": Journal.objects.filter(kind="refund").count(),
    "orders_by_status": dict(orders.values_list("status").annotate(n=Count("id")).order_by()),
    "orders_refunded_fen_ne_amount": orders.exclude(refunded_fen=F("amount_fen")).count(),
    "items_not_refunded": OrderItem.objects.filter(order__product_id=payload["product"]).exclude(status="refunded").count(),
    "payouts_succeeded_wallet": RefundPayout.objects.filter(status="succeeded", channel="wallet").count(),
    "payouts_total_fen": RefundPayout.objects.aggregate(s=Sum("amount_fen"))["s"] or 0,
    "wallets_not_back_to_grant": wallets_off,
}
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10000, help="undelivered orders to refund (default %(default)s)")
    parser.add_argument("--buyers", type=int, default=200, help="buyers the orders are spread over (default %(default)s)")
    parser.add_argument("--concurrency", "-c", type=int, default=16, help="concurrent clients (default %(default)s)")
    parser.add_argument("--reason", default="not_delivered", choices=["not_delivered", "topup_not_received"],
                        help="refund reason (both are automatic for a failed top-up; default %(default)s)")
    parser.add_argument("--setup-procs", type=int, default=3,
                        help="Django processes creating the orders in parallel (default %(default)s)")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: kameng serve's own)")
    parser.add_argument("--with-worker", action="store_true",
                        help="run the in-process background worker too (default: --no-worker; wallet refunds need none)")
    parser.add_argument("--timeout", type=float, default=600, help="stop sending after this many seconds (default %(default)s)")
    add_common_args(parser)
    args = parser.parse_args()
    if args.orders < 1 or args.buyers < 1 or args.concurrency < 1:
        parser.error("--orders, --buyers and --concurrency are at least 1")
    buyers_n = min(args.buyers, args.orders)
    info = machine_info(args.pg)
    fund_fen = PRICE_FEN * (args.orders // buyers_n + 2)

    with BenchEnv(args.pg, prefix="refunds", keep=args.keep, sandbox=True) as env:
        t0 = time.monotonic()
        base = env.django(SETUP_SUPPLIER, {"password": PASSWORD, "price": f"{PRICE_FEN / 100:.2f}"})
        buyers = setup_bulk_users(env, prefix="bench_buyer", count=buyers_n, role="buyer", password=PASSWORD,
                                  fund_fen=fund_fen)
        per_buyer = [args.orders // buyers_n + (1 if i < args.orders % buyers_n else 0) for i in range(buyers_n)]
        procs = max(1, min(args.setup_procs, buyers_n))
        chunks = [[[b["id"], per_buyer[i]] for i, b in enumerate(buyers) if i % procs == p] for p in range(procs)]
        log(f"creating {args.orders} wallet top-up orders for {buyers_n} buyers in {procs} processes …")
        t1 = time.monotonic()
        made = django_parallel(env, SETUP_ORDERS, [{"supplier": base["supplier"], "product": base["product"],
                                                    "buyers": chunk} for chunk in chunks])
        orders_by_buyer: dict[int, list[str]] = {}
        for part in made:
            for buyer_id, order_no in part:
                orders_by_buyer.setdefault(buyer_id, []).append(order_no)
        setup_s = time.monotonic() - t0
        log(f"setup done in {setup_s:.1f} s (orders {time.monotonic() - t1:.1f} s)")

        _, port = env.start_server(no_worker=not args.with_worker, workers=args.workers)
        token_of = {b["id"]: b["token"] for b in buyers}
        # warm each gunicorn worker's imports with a few reads (not counted)
        warm = Http(port, buyers[0]["token"])
        for _ in range(8):
            warm.request("GET", "/api/v1/wallet")
        warm.close()

        latencies: list[float] = []
        statuses: dict[str, int] = {}
        lock = threading.Lock()
        deadline = time.monotonic() + args.timeout
        buyer_ids = [b["id"] for b in buyers]

        def client(i: int) -> None:
            mine = buyer_ids[i::args.concurrency]
            work = [(bid, no) for bid in mine for no in orders_by_buyer.get(bid, [])]
            conns = {bid: Http(port, token_of[bid]) for bid in mine}
            local_lat, local_st = [], {}
            # interleave buyers so one client's requests do not all hit the same buyer back to back
            work.sort(key=lambda pair: (orders_by_buyer[pair[0]].index(pair[1]), pair[0]))
            for bid, order_no in work:
                if time.monotonic() > deadline:
                    break
                start = time.perf_counter()
                status, body = conns[bid].request("POST", "/api/v1/refunds", {
                    "order_no": order_no, "reason": args.reason, "description": DESCRIPTION, "destination": "wallet"})
                elapsed = time.perf_counter() - start
                if status == 201 and body and body.get("status") == "refunded":
                    key = "201 refunded"
                    local_lat.append(elapsed)
                else:
                    key = f"{status} {(body or {}).get('status') or (body or {}).get('code') or body}"[:80]
                local_st[key] = local_st.get(key, 0) + 1
            for conn in conns.values():
                conn.close()
            with lock:
                latencies.extend(local_lat)
                for key, n in local_st.items():
                    statuses[key] = statuses.get(key, 0) + n

        marks = env.log_marks()
        log(f"{args.orders} refunds, {args.concurrency} clients …")
        started = time.monotonic()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        errors = env.server_errors(marks)
        ok = statuses.get("201 refunded", 0)
        log(f"done in {elapsed:.1f} s: {statuses}")

        check = env.django(VERIFY, {"product": base["product"], "buyer_ids": buyer_ids, "fund_fen": fund_fen})
        ledger_out = ""
        ledger_ok = True
        try:
            ledger_out = env.kameng("check-ledger").strip()
        except RuntimeError as exc:
            ledger_ok = False
            ledger_out = str(exc)[-500:]

    n = args.orders
    thr = ok / elapsed if elapsed else 0
    lines = [
        f"{n} undelivered wallet top-up orders (top-up reported failed by the supplier), {buyers_n} buyers, "
        f"{args.concurrency} concurrent clients, reason `{args.reason}`, destination wallet, `kameng serve "
        f"{'' if args.with_worker else '--no-worker'}` workers {args.workers or 'default'}, KAMENG_SANDBOX=1",
        "",
        f"- setup (users, {n} orders via order_create + topup_report) {setup_s:.1f} s",
        f"- elapsed {elapsed:.2f} s → **{thr:.1f} refunds/s**; request → `refunded` latency {latency_line(latencies)}",
        f"- answers: {statuses}; server error lines during the run: {len(errors)}",
        f"- SQL: {check}",
        f"- check-ledger: {ledger_out.splitlines()[-1] if ledger_out else ''}",
        "",
    ]
    checks = [
        (ok == n, f"all {n} answers 201 with status `refunded`"),
        (check["refunds_by_status"] == {"refunded": n} and check["refunds"] == n, f"{n} refunds, all `refunded`"),
        (check["orders_with_2plus_refunds"] == 0, "each order refunded once (no order with two refunds)"),
        (check["refund_journals"] == n, f"ledger journals of kind `refund` = {n}"),
        (check["orders_refunded_fen_ne_amount"] == 0 and check["orders_by_status"] == {"refunded": n},
         "every order `refunded` with refunded_fen == amount_fen"),
        (check["payouts_succeeded_wallet"] == n and check["payouts_total_fen"] == n * PRICE_FEN,
         f"{n} wallet payouts succeeded, total {n * PRICE_FEN} fen"),
        (check["wallets_not_back_to_grant"] == 0, "every buyer's wallet back to its grant"),
        (ledger_ok, "`kameng check-ledger` passes"),
        (not errors, "no server errors"),
    ]
    lines += [f"- [{'x' if good else ' '}] {text}" for good, text in checks]
    report("refunds_auto", lines=lines, errors=errors, info=info, record_it=args.record)
    return 0 if all(good for good, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
