#!/usr/bin/env python
"""The reviewers' queue with 100,000 open refunds: `GET /api/v1/staff/refunds` and the `/staff/refunds/` page.

Setup (one Django process, set-based SQL, a few seconds): a supplier, a card product, B buyers (bulk-inserted),
a reviewer and a senior reviewer (through `user_create`, real passwords), then R orders (status `delivered`, the
product's real `product_snapshot` and `terms_text`, wallet channel), one item each (`refund_pending`, as
`refund_create` leaves it), R refunds (`not_as_described`, evidence needed, liable supplier) with a `submitted`
timeline event and an active refund item. Statuses: ~88% `submitted` (3% of them escalated after an urge),
~7% `awaiting_buyer` (SLA paused, info_due_at set), ~5% `appealed` (first decision by the reviewer, new SLA);
`submitted_at` spread over the last 12 days, `sla_due_at` 3–6 days later, so part of the queue is overdue.
No payments, journals or evidence files are written: the queue reads none of them. Then `ANALYZE`.

Measured: one client, sequential requests on an idle keep-alive connection (loopback), so each latency is the
server's time plus a loopback round trip: the API with a bearer token (the reviewer's), the page with a session
logged in through the login form (CSRF). Targets: first page of the API and of the page, plus a few offsets and
filters. Reported p50/p90/p99/max per target; target p99 <= 100 ms. Then EXPLAIN (ANALYZE, BUFFERS) of the
queue's SQL as `kameng.aftersales.selectors.staff_queue` builds it, for each filter, with whether
`refund_queue_idx` is used.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    BenchEnv,
    Http,
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
import json, time
from django.db import connection, transaction
from kameng.accounts.services import user_create
from kameng.aftersales.models import Refund, RefundEvent, RefundItem
from kameng.catalog.services import product_create
from kameng.core import clock
from kameng.orders.models import Order, OrderItem
from kameng.orders.policies import terms_text
from kameng.orders.services import product_snapshot
from kameng.orders.snapshots import version_for

supplier = user_create(username="bench_supplier", password=payload["password"], role="supplier")
reviewer = user_create(username="bench_reviewer", password=payload["password"], role="reviewer")
senior = user_create(username="bench_senior", password=payload["password"], role="senior_reviewer")
product = product_create(actor=supplier, name="bench 游戏点卡 100 元", kind="card", price="100.00", face_value="100.00")
version = version_for(product_snapshot(product), product_id=product.id)  # one shared snapshot, as orders point at
now = clock.now()
t0 = time.monotonic()
O, I, R, RI, E = (m._meta.db_table for m in (Order, OrderItem, Refund, RefundItem, RefundEvent))
n = payload["refunds"]
with transaction.atomic(), connection.cursor() as cur:
    cur.execute("SELECT min(id), max(id) FROM accounts_user WHERE role = 'buyer' AND username LIKE 'bench_qbuyer%%'")
    lo, hi = cur.fetchone()
    nb = hi - lo + 1
    # orders: paid and delivered 1-20 days ago, one item each
    cur.execute(f'''
        INSERT INTO {O} (order_no, buyer_id, product_id, quantity, unit_price_fen, amount_fen, refunded_fen, channel,
                         recharge_account, status, snapshot_version_id, terms_text, terms_accepted_at, created_at, expires_at,
                         paid_at, delivered_at)
        SELECT 'B' || lpad(g::text, 12, '0'), %(lo)s + (g %% %(nb)s), %(product)s, 1, 10000, 10000, 0, 'wallet',
               '', 'delivered', %(version)s, %(terms)s, t, t, t + interval '15 minutes', t, t + interval '2 seconds'
        FROM (SELECT g, %(now)s::timestamptz - interval '12 days' - (g %% 691) * interval '11 minutes' AS t
              FROM generate_series(1, %(n)s) g) s
    ''', {"lo": lo, "nb": nb, "product": product.id, "version": version, "terms": terms_text(), "now": now, "n": n})
    cur.execute(f'''
        INSERT INTO {I} (order_id, position, status, delivered_at, first_revealed_at)
        SELECT id, 1, 'refund_pending', delivered_at, NULL FROM {O} WHERE product_id = %(product)s
    ''', {"product": product.id})
    # refunds: k = order's sequence number decides status and timing (deterministic, spread out)
    cur.execute(f'''
        INSERT INTO {R} (refund_no, order_id, buyer_id, reason, description, destination, status, amount_fen, fee_fen,
                         refund_amount_fen, fee_rate, needs_evidence, liable, submitted_at, sla_due_at, sla_paused_at,
                         info_due_at, escalated, urged_at, decided_at, first_decided_by_id, final_decided_by_id,
                         reject_reason_code, decision_note, appeal_due_at, appeal_description, appealed_at,
                         expected_arrival_by, refunded_at, closed_reason, supplier_answer, supplier_note)
        SELECT 'R20261122' || lpad(k::text, 10, '0'), id, buyer_id, 'not_as_described',
               '卡密面值与页面描述不符：页面写 100 元，充值后只到账 50 元，附充值记录截图。', 'original',
               st, amount_fen, 0, amount_fen, '0.00', true, 'supplier', sub,
               CASE WHEN st = 'appealed' THEN sub + interval '2 days' + (3 + k %% 4) * interval '1 day'
                    ELSE sub + (3 + k %% 4) * interval '1 day' END,
               CASE WHEN st = 'awaiting_buyer' THEN sub + interval '1 day' END,
               CASE WHEN st = 'awaiting_buyer' THEN sub + interval '2 days' END,
               (st = 'submitted' AND k %% 33 = 0),
               CASE WHEN st = 'submitted' AND k %% 33 = 0 THEN sub + interval '7 days' END,
               CASE WHEN st = 'appealed' THEN sub + interval '1 day' END,
               CASE WHEN st = 'appealed' THEN %(reviewer)s END, NULL,
               CASE WHEN st = 'appealed' THEN 'insufficient_evidence' ELSE '' END,
               CASE WHEN st = 'appealed' THEN '截图无法证明到账金额' ELSE '' END,
               CASE WHEN st = 'appealed' THEN sub + interval '8 days' END,
               CASE WHEN st = 'appealed' THEN '补充了运营商的充值流水，显示只到账 50 元。' ELSE '' END,
               CASE WHEN st = 'appealed' THEN sub + interval '2 days' END,
               NULL, NULL, '', '', ''
        FROM (SELECT o.id, o.buyer_id, o.amount_fen, row_number() OVER (ORDER BY o.id) AS k,
                     %(now)s::timestamptz - (row_number() OVER (ORDER BY o.id) * 1037 %% 1036800) * interval '1 second' AS sub,
                     CASE WHEN row_number() OVER (ORDER BY o.id) %% 100 < 7 THEN 'awaiting_buyer'
                          WHEN row_number() OVER (ORDER BY o.id) %% 100 < 12 THEN 'appealed'
                          ELSE 'submitted' END AS st
              FROM {O} o WHERE o.product_id = %(product)s) s
    ''', {"now": now, "product": product.id, "reviewer": reviewer.id})
    cur.execute(f'''
        INSERT INTO {RI} (refund_id, order_item_id, amount_fen, active)
        SELECT r.id, i.id, r.amount_fen, true FROM {R} r JOIN {I} i ON i.order_id = r.order_id
    ''')
    cur.execute(f'''
        INSERT INTO {E} (refund_id, at, actor, event, note)
        SELECT id, submitted_at, 'buyer:' || buyer_id, 'submitted', 'not_as_described: ' || description FROM {R}
    ''')
insert_s = time.monotonic() - t0
with connection.cursor() as cur:
    cur.execute("ANALYZE")
    cur.execute(f"SELECT status, count(*), count(*) FILTER (WHERE escalated), "
                f"count(*) FILTER (WHERE sla_due_at < %s) FROM {R} GROUP BY status ORDER BY status", [now])
    dist = [list(r) for r in cur.fetchall()]
    cur.execute(f"SELECT pg_size_pretty(pg_total_relation_size('{R}')), pg_size_pretty(pg_total_relation_size('{O}'))")
    sizes = list(cur.fetchone())
result = {"insert_s": round(insert_s, 1), "dist": dist, "sizes": sizes, "reviewer": reviewer.id, "senior": senior.id}
"""

EXPLAIN = r"""
from kameng.accounts.models import User
from kameng.aftersales.selectors import staff_queue
reviewer = User.objects.get(username="bench_reviewer")
out = []
for label, kwargs in payload["cases"]:
    qs = staff_queue(user=reviewer, **kwargs)
    plan = qs.explain(analyze=True, buffers=True)
    out.append({"label": label, "sql": str(qs.query), "plan": plan})
result = out
"""

# (label, path, staff_queue kwargs for the EXPLAIN of the same query)
API_TARGETS = [
    ("API first page", "/api/v1/staff/refunds", {}),
    ("API offset 1000", "/api/v1/staff/refunds?offset=1000", {"offset": 1000}),
    ("API offset 50000", "/api/v1/staff/refunds?offset=50000", {"offset": 50000}),
    ("API ?queue=senior", "/api/v1/staff/refunds?queue=senior", {"senior_only": True}),
    ("API ?status=awaiting_buyer", "/api/v1/staff/refunds?status=awaiting_buyer", {"statuses": ["awaiting_buyer"]}),
    ("API ?status=submitted", "/api/v1/staff/refunds?status=submitted", {"statuses": ["submitted"]}),
]
PAGE_TARGETS = [
    ("page first page", "/staff/refunds/"),
    ("page offset 1000", "/staff/refunds/?queue=open&limit=50&offset=1000"),
    ("page ?queue=senior", "/staff/refunds/?queue=senior"),
    ("page ?queue=awaiting", "/staff/refunds/?queue=awaiting"),
]
FIRST_PAGES = ("API first page", "page first page")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--refunds", type=int, default=100000, help="open refunds (default %(default)s)")
    parser.add_argument("--buyers", type=int, default=500, help="buyers the orders belong to (default %(default)s)")
    parser.add_argument("--requests", "-n", type=int, default=500,
                        help="requests to each first page (API and page; default %(default)s)")
    parser.add_argument("--variant-requests", type=int, default=100,
                        help="requests to each other offset/filter (default %(default)s)")
    parser.add_argument("--target-ms", type=float, default=100, help="p99 target in ms (default %(default)s)")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: kameng serve's own)")
    add_common_args(parser)
    args = parser.parse_args()
    if args.refunds < 100 or args.requests < 1 or args.variant_requests < 1:
        parser.error("--refunds >= 100, --requests and --variant-requests >= 1")
    info = machine_info(args.pg)

    with BenchEnv(args.pg, prefix="queue", keep=args.keep, sandbox=True) as env:
        t0 = time.monotonic()
        setup_bulk_users(env, prefix="bench_qbuyer", count=args.buyers, role="buyer", password=PASSWORD)
        setup = env.django(SETUP, {"refunds": args.refunds, "password": PASSWORD})
        setup_s = time.monotonic() - t0
        log(f"setup {setup_s:.1f} s (inserts {setup['insert_s']} s): {setup['dist']}, sizes {setup['sizes']}")

        _, port = env.start_server(no_worker=True, workers=args.workers)
        token = Http(port).request("POST", "/api/v1/auth/token", {"username": "bench_reviewer", "password": PASSWORD})[1]["token"]
        api = Http(port, token)
        page = PageSession(port)
        page.login("bench_reviewer", PASSWORD)

        def api_get(path):
            status, body = api.request("GET", path)
            return status, len(body) if isinstance(body, list) else -1

        def page_get(path):
            answer = page.get(path)
            return answer.status_code, answer.text.count("data-refund=")

        targets = [(label, path, api_get) for label, path, _ in API_TARGETS] + \
                  [(label, path, page_get) for label, path in PAGE_TARGETS]
        # warm-up: every target a few times, so each gunicorn worker has imported and connected
        for _ in range(6):
            for _, path, get in targets:
                get(path)

        marks = env.log_marks()
        results = {}
        for label, path, get in targets:
            n = args.requests if label in FIRST_PAGES else args.variant_requests
            lat, statuses, rows = [], {}, set()
            for _ in range(n):
                start = time.perf_counter()
                status, count = get(path)
                lat.append(time.perf_counter() - start)
                statuses[status] = statuses.get(status, 0) + 1
                rows.add(count)
            results[label] = (path, lat, statuses, rows)
            log(f"{label}: {latency_line(lat)} {statuses} rows {rows}")
        api.close()
        page.close()
        errors = env.server_errors(marks)

        cases = [[label, kwargs] for label, _, kwargs in API_TARGETS]
        plans = env.django(EXPLAIN, {"cases": cases})

    lines = [
        f"{args.refunds:,} open refunds ({', '.join(f'{s} {c:,}' + (f' ({e:,} escalated)' if e else '') for s, c, e, _ in setup['dist'])}; "
        f"{sum(r[3] for r in setup['dist']):,} with sla_due_at in the past), {args.buyers} buyers; refunds table "
        f"{setup['sizes'][0]}, orders {setup['sizes'][1]}; set-based SQL setup {setup_s:.1f} s, then ANALYZE. "
        f"`kameng serve --no-worker`, workers {args.workers or 'default'}, KAMENG_SANDBOX=1. One client, sequential, "
        f"keep-alive, loopback: latency = server time + one loopback round trip.",
        "",
        "| target | path | requests | p50 | p90 | p99 | max | rows per answer | statuses |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    checks = []
    for label, (path, lat, statuses, rows) in results.items():
        p99 = percentile(lat, 99)
        bold = "**" if label in FIRST_PAGES else ""
        lines.append(f"| {label} | `{path}` | {len(lat)} | {percentile(lat, 50) * 1000:.1f} ms | "
                     f"{percentile(lat, 90) * 1000:.1f} ms | {bold}{p99 * 1000:.1f} ms{bold} | {max(lat) * 1000:.1f} ms | "
                     f"{', '.join(map(str, sorted(rows)))} | {statuses} |")
        checks.append((p99 * 1000 <= args.target_ms and set(statuses) == {200}, f"{label}: p99 {p99 * 1000:.1f} ms "
                       f"<= {args.target_ms:.0f} ms, all 200"))
    lines += ["", f"server error lines during the run: {len(errors)}", ""]
    lines += [f"- [{'x' if good else ' '}] {text}" for good, text in checks]
    lines += ["", "EXPLAIN (ANALYZE, BUFFERS) of the queue query as `staff_queue()` builds it:", ""]
    for plan in plans:
        used = "refund_queue_idx" in plan["plan"]
        lines.append(f"- {plan['label']}: `refund_queue_idx` {'USED' if used else '**NOT used**'}")
    lines.append("")
    for plan in plans:
        lines += [f"{plan['label']}:", "", "```", plan["sql"], "", plan["plan"], "```", ""]
    report("staff_queue", lines=lines, errors=errors, info=info, record_it=args.record)
    return 0 if all(good for good, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
