#!/usr/bin/env python
"""Finance's console (财务台) at a million journals: the book check, balances by kind, journal searches, and a
streamed CSV of a few hundred thousand rows with the server's memory watched.

Setup (one Django process, set-based SQL): B buyers with wallets (bulk-inserted), S suppliers, O orders (minimal
rows), then J journals of two postings each, `at` spread over the last 365 days: for each order a payment
(wallet → escrow) and a settlement (escrow → the supplier's pending account), so escrow nets to zero per order and
the book check has nothing stranded to list; the rest are promotions (platform credit → a wallet). Wallets' kept
balances are set to the sums of their postings, so the book balances. Then VACUUM ANALYZE.

Measured: `kameng serve --no-worker --workers 1`, one finance session (the login form), sequential, loopback:
every page of the console and the searches finance makes, then `journals.csv` of every escrow journal (two per
order), timing the whole download and reading the serving worker's peak resident memory (VmHWM) before and after.
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    BenchEnv,
    PageSession,
    add_common_args,
    latency_line,
    log,
    machine_info,
    percentile,
    report,
    setup_bulk_users,
)

PASSWORD = "bench-password-1"

SETUP = r"""
import time
from django.db import connection, transaction
from kameng.accounts.models import User
from kameng.accounts.services import user_create
from kameng.catalog.services import product_create
from kameng.core import clock
from kameng.ledger.models import Journal, LedgerAccount, Posting
from kameng.ledger.services import Accounts, account
from kameng.orders.models import Order

now = clock.now()
user_create(username="bench_finance", password=payload["password"], role="finance")
suppliers = [User.objects.create(username=f"bench_fsupplier{s}", password="!", role="supplier")
             for s in range(payload["suppliers"])]
products = [product_create(actor=s, name=f"bench 点卡 {i}", kind="card", price="10.00", face_value="10.00").id
            for i, s in enumerate(suppliers)]
for code in (Accounts.ESCROW, Accounts.PROMOTIONS, *(Accounts.payable(s.id) for s in suppliers)):
    account(code)
t0 = time.monotonic()
O, J, P, A = (m._meta.db_table for m in (Order, Journal, Posting, LedgerAccount))
n_orders, n_journals = payload["orders"], payload["journals"]
with transaction.atomic(), connection.cursor() as cur:
    cur.execute("SELECT min(id), max(id) FROM accounts_user WHERE username LIKE 'bench_fbuyer%%'")
    lo, hi = cur.fetchone()
    nb = hi - lo + 1
    cur.execute(f'''INSERT INTO {A} (code, kind, owner_id, running_fen)
                    SELECT 'wallet:' || id, 'liability', id, 0 FROM accounts_user WHERE username LIKE 'bench_fbuyer%%'
                    ON CONFLICT (code) DO NOTHING''')
    cur.execute(f'''
        INSERT INTO {O} (order_no, buyer_id, product_id, quantity, unit_price_fen, amount_fen, refunded_fen, channel,
                         recharge_account, status, terms_text, terms_accepted_at, created_at, expires_at,
                         paid_at, delivered_at)
        SELECT 'F' || lpad(k::text, 12, '0'), %(lo)s + (k %% %(nb)s), (%(products)s::int[])[1 + k %% %(ns)s], 1,
               1000, 1000, 0, 'wallet', '', 'delivered', '', t, t, t, t, t
        FROM (SELECT k, %(now)s::timestamptz - ((k::bigint * 7919) %% 31536000) * interval '1 second' AS t
              FROM generate_series(1, %(n)s) k) s
    ''', {"lo": lo, "nb": nb, "products": products, "ns": len(products), "now": now, "n": n_orders})
    # Two journals an order (capture, settle), then promotions up to J journals.
    cur.execute(f'''
        CREATE TEMP TABLE plan AS
        SELECT o.id AS order_id, o.order_no, o.buyer_id, o.created_at AS at, p.supplier_id, 'capture' AS step
        FROM {O} o JOIN catalog_product p ON p.id = o.product_id WHERE o.order_no LIKE 'F%%'
        UNION ALL
        SELECT o.id, o.order_no, o.buyer_id, o.created_at + interval '1 second', p.supplier_id, 'settle'
        FROM {O} o JOIN catalog_product p ON p.id = o.product_id WHERE o.order_no LIKE 'F%%'
        UNION ALL
        SELECT NULL, 'G' || k, %(lo)s + (k %% %(nb)s),
               %(now)s::timestamptz - ((k::bigint * 104729) %% 31536000) * interval '1 second', NULL, 'grant'
        FROM generate_series(1, greatest(%(j)s - 2 * %(o)s, 0)) k
    ''', {"lo": lo, "nb": nb, "now": now, "j": n_journals, "o": n_orders})
    cur.execute(f'''
        INSERT INTO {J} (reference, kind, at, order_id, payment_id, memo)
        SELECT step || ':' || order_no, CASE step WHEN 'capture' THEN 'payment_captured'
               WHEN 'settle' THEN 'order_settled' ELSE 'promotion' END, at, order_id, NULL, ''
        FROM plan ORDER BY at
    ''')
    ids = {code: i for code, i in LedgerAccount.objects.values_list("code", "id")}
    cur.execute(f'''
        CREATE TEMP TABLE lines AS
        SELECT j.id AS journal_id, pl.step, pl.buyer_id, pl.supplier_id
        FROM {J} j JOIN plan pl ON j.reference = pl.step || ':' || pl.order_no
    ''')
    cur.execute(f'''
        INSERT INTO {P} (journal_id, account_id, amount_fen)
        SELECT l.journal_id, CASE l.step WHEN 'capture' THEN w.id WHEN 'settle' THEN %(escrow)s ELSE %(promo)s END,
               CASE l.step WHEN 'grant' THEN 500 ELSE 1000 END
        FROM lines l JOIN {A} w ON w.code = 'wallet:' || l.buyer_id
        UNION ALL
        SELECT l.journal_id, CASE l.step WHEN 'capture' THEN %(escrow)s WHEN 'settle' THEN s.id ELSE w.id END,
               CASE l.step WHEN 'grant' THEN -500 ELSE -1000 END
        FROM lines l JOIN {A} w ON w.code = 'wallet:' || l.buyer_id
        LEFT JOIN {A} s ON s.code = 'payable:' || l.supplier_id
    ''', {"escrow": ids["escrow"], "promo": ids["promotions"]})
    # A wallet keeps the sum of its postings (what journal_post does as it goes).
    cur.execute(f'''
        UPDATE {A} a SET running_fen = s.total FROM (
            SELECT account_id, sum(amount_fen) AS total FROM {P} GROUP BY account_id) s
        WHERE a.id = s.account_id AND a.code LIKE 'wallet:%%'
    ''')
insert_s = time.monotonic() - t0
with connection.cursor() as cur:
    cur.execute("VACUUM ANALYZE")
    cur.execute(f"SELECT count(*) FROM {J}")
    journals = cur.fetchone()[0]
    cur.execute(f"SELECT count(*) FROM {P}")
    postings = cur.fetchone()[0]
    cur.execute(f"SELECT pg_size_pretty(pg_total_relation_size('{J}')), pg_size_pretty(pg_total_relation_size('{P}'))")
    sizes = list(cur.fetchone())
    cur.execute(f"SELECT order_no FROM {O} WHERE order_no LIKE 'F%%' ORDER BY id LIMIT 20 OFFSET 1000")
    orders = [row[0] for row in cur.fetchall()]
    cur.execute(f"SELECT min(id) FROM {J}")
    first_id = cur.fetchone()[0]
day = (now - __import__("datetime").timedelta(days=100)).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
result = {"insert_s": round(insert_s, 1), "journals": journals, "postings": postings, "sizes": sizes,
          "orders": orders, "day": day.date().isoformat(), "deep_before": first_id + 50}
"""


def worker_peak_kb(server_pid: int) -> dict[int, int]:
    """VmHWM (peak resident set) of each process in the server's session, by pid."""
    peaks = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[3]) != server_pid and int(entry.name) != server_pid:
                continue  # not in the server's session (the fourth field after the name)
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peaks[int(entry.name)] = int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return peaks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--journals", type=int, default=1_000_000, help="journals (default %(default)s)")
    parser.add_argument("--orders", type=int, default=100_000, help="orders, two journals each (default %(default)s)")
    parser.add_argument("--buyers", type=int, default=2000, help="buyers (default %(default)s)")
    parser.add_argument("--suppliers", type=int, default=20, help="suppliers (default %(default)s)")
    parser.add_argument("--rounds", "-n", type=int, default=20, help="requests per search (default %(default)s)")
    parser.add_argument("--target-ms", type=float, default=500, help="p90 target for a search (default %(default)s)")
    add_common_args(parser)
    args = parser.parse_args()
    info = machine_info(args.pg)
    info["load"] = " ".join(f"{x:.2f}" for x in os.getloadavg())

    with BenchEnv(args.pg, prefix="fin", keep=args.keep, sandbox=True) as env:
        t0 = time.monotonic()
        env.env["KAMENG_DB_STATEMENT_TIMEOUT"] = "3600"
        setup_bulk_users(env, prefix="bench_fbuyer", count=args.buyers, role="buyer", password=PASSWORD)
        setup = env.django(SETUP, {"journals": args.journals, "orders": args.orders, "suppliers": args.suppliers,
                                   "password": PASSWORD})
        setup_s = time.monotonic() - t0
        log(f"setup {setup_s:.1f} s: { {k: v for k, v in setup.items() if k != 'orders'} }")
        env.env["KAMENG_DB_STATEMENT_TIMEOUT"] = "120"
        proc, port = env.start_server(no_worker=True, workers=1)
        page = PageSession(port, timeout=600)
        page.login("bench_finance", PASSWORD)
        page.get("/finance/")  # warm-up
        marks = env.log_marks()
        orders, day = setup["orders"], setup["day"]
        cases = [
            ("book check `/finance/book/`", lambda i: "/finance/book/", max(3, args.rounds // 4)),
            ("balances by kind `/finance/balances/`", lambda i: "/finance/balances/", max(3, args.rounds // 4)),
            ("journals, newest page", lambda i: "/finance/journals/", args.rounds),
            ("journals by order no", lambda i: f"/finance/journals/?order_no={orders[i % len(orders)]}", args.rounds),
            ("journals by user name", lambda i: f"/finance/journals/?username=bench_fbuyer{i * 37 % args.buyers}",
             args.rounds),
            ("journals of one Beijing day", lambda i: f"/finance/journals/?day_from={day}&day_to={day}", args.rounds),
            ("journals of escrow (account family)", lambda i: "/finance/journals/?family=escrow", args.rounds),
            ("journals, deepest keyset page", lambda i: f"/finance/journals/?before={setup['deep_before']}",
             args.rounds),
            ("refunds paid, 30 days", lambda i: "/finance/refunds-paid/", args.rounds),
        ]
        results, statuses = {}, {}
        for label, path, rounds in cases:
            times = []
            for i in range(rounds):
                start = time.perf_counter()
                answer = page.get(path(i))
                times.append(time.perf_counter() - start)
                statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
            results[label] = times
            log(f"{label}: {latency_line(times)}")
        verdict = "账目平衡" in page.get("/finance/book/").text
        # The CSV of every escrow journal, streamed; the worker's peak memory before and after.
        before = worker_peak_kb(proc.pid)
        start = time.perf_counter()
        size, rows = 0, 0
        with page.client.stream("GET", "/finance/journals.csv?family=escrow") as answer:
            csv_status = answer.status_code
            for chunk in answer.iter_bytes():
                size += len(chunk)
                rows += chunk.count(b"\n")
        csv_s = time.perf_counter() - start
        after = worker_peak_kb(proc.pid)
        log(f"CSV: {rows:,} lines, {size / 1e6:.1f} MB in {csv_s:.1f} s; peak RSS before {before}, after {after}")
        errors = env.server_errors(marks)
        page.close()

    lines = [
        f"{setup['journals']:,} journals, {setup['postings']:,} postings ({args.orders:,} orders with a payment and a "
        f"settlement each, the rest platform credit to {args.buyers:,} wallets, `at` spread over 365 days); journals "
        f"table {setup['sizes'][0]}, postings {setup['sizes'][1]}; setup {setup_s:.1f} s, then VACUUM ANALYZE. "
        f"Load average at start: {info['load']}. `kameng serve --no-worker --workers 1`, one finance session, "
        f"sequential, loopback.",
        "",
        "| page | requests | p50 | p90 | max |",
        "|---|---|---|---|---|",
        *(f"| {label} | {len(xs)} | {percentile(xs, 50) * 1000:.0f} ms | {percentile(xs, 90) * 1000:.0f} ms | "
          f"{max(xs) * 1000:.0f} ms |" for label, xs in results.items()),
        "",
        f"`/finance/journals.csv?family=escrow` (HTTP {csv_status}): {rows:,} lines, {size / 1e6:.1f} MB in "
        f"{csv_s:.1f} s ({rows / csv_s:,.0f} lines/s); serving processes' peak resident memory (VmHWM, kB) before "
        f"{before} and after {after}.",
        f"Statuses: {statuses}; the book check says {'账目平衡' if verdict else 'NOT BALANCED'}.",
    ]
    searches = [label for label in results if label.startswith("journals")]
    worst = max(percentile(results[label], 90) for label in searches) * 1000
    grown = max(after.values(), default=0) - max(before.values(), default=0)
    good = worst <= args.target_ms and set(statuses) == {200} and verdict and csv_status == 200 and grown < 100_000
    lines += ["", f"- [{'x' if good else ' '}] every journal search p90 <= {args.target_ms:.0f} ms (worst "
              f"{worst:.0f} ms), all 200, the book balances, the CSV grew the worker's peak by {grown / 1024:.0f} MB "
              f"(< 100 MB)"]
    report("finance console", lines=lines, errors=errors, info=info, record_it=args.record)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
