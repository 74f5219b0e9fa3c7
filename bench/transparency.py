#!/usr/bin/env python
"""The public refund figures at 1,000,000 refunds: `GET /api/v1/transparency` (and the `/transparency/` page).

Setup (one Django process, set-based SQL): S suppliers with one card product each, B buyers (bulk-inserted), then
R orders (one per refund, no snapshot: the figures never read it) and R refunds with their timeline events, `submitted_at` spread evenly
over the last 365 days (so about R × 30/365 fall in the published window). Per refund k (deterministic):
reason k mod 8, supplier k mod S; 3% still undecided; of the decided, the first decision comes 0–119 hours after
submission, 70% approvals, 30% by `system`; every 20th is escalated at 72 h and approved by the platform at 96 h;
every 30th rejection is appealed a day later and decided two days after that (half upheld). Events: `submitted`
for every refund, the first decision, `escalated`, `appealed` and the appeal's decision where they apply (about
2.1 events per refund). Then `ANALYZE`.

Measured: `kameng serve --no-worker` with the one-minute cache off (`KAMENG_TRANSPARENCY_CACHE_SECONDS=0`), so every
request computes every figure; one client, sequential, keep-alive, loopback. Then the same with the cache on
(what the public actually gets). Then EXPLAIN (ANALYZE, BUFFERS) of every query the report runs, with the index
each uses.
"""

import argparse
import os
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
import time
from django.db import connection, transaction
from kameng.accounts.models import User
from kameng.aftersales.models import Refund, RefundEvent
from kameng.catalog.services import product_create
from kameng.core import clock
from kameng.orders.models import Order

now = clock.now()
products = []
for s in range(payload["suppliers"]):
    # No password: nobody logs in as these; hashing fifty passwords would only slow the setup.
    supplier = User.objects.create(username=f"bench_tsupplier{s}", password="!", role="supplier",
                                   first_name=f"店铺{s:03d}")
    products.append(product_create(actor=supplier, name=f"bench 点卡 {s}", kind="card", price="10.00",
                                   face_value="10.00").id)
t0 = time.monotonic()
O, R, E = (m._meta.db_table for m in (Order, Refund, RefundEvent))
n = payload["refunds"]
with transaction.atomic(), connection.cursor() as cur:
    cur.execute("SELECT min(id), max(id) FROM accounts_user WHERE username LIKE 'bench_tbuyer%%'")
    lo, hi = cur.fetchone()
    cur.execute(f'''
        INSERT INTO {O} (order_no, buyer_id, product_id, quantity, unit_price_fen, amount_fen, refunded_fen, channel,
                         recharge_account, status, terms_text, terms_accepted_at, created_at, expires_at,
                         paid_at, delivered_at)
        SELECT 'T' || lpad(k::text, 12, '0'), %(lo)s + (k %% %(nb)s), (%(products)s::int[])[1 + k %% %(ns)s], 1,
               1000, 1000, 0, 'wallet', '', 'delivered', '', t, t, t, t, t
        FROM (SELECT k, %(now)s::timestamptz - ((k::bigint * 7919) %% 31536000) * interval '1 second'
                     - interval '1 hour' AS t
              FROM generate_series(1, %(n)s) k) s
    ''', {"lo": lo, "nb": hi - lo + 1, "products": products, "ns": len(products), "now": now, "n": n})
    reasons = ["not_delivered", "invalid_key", "key_already_used", "not_as_described", "topup_not_received",
               "system_error", "changed_mind", "wrong_account"]
    # d: hours to the first decision (NULL: undecided); esc: escalated; app: rejected and appealed
    cur.execute(f'''
        CREATE TEMP TABLE plan AS
        SELECT o.id AS order_id, o.buyer_id, k, o.created_at + interval '1 hour' AS sub,
               (%(reasons)s::text[])[1 + k %% 8] AS reason,
               CASE WHEN k %% 100 < 3 THEN NULL WHEN k %% 20 = 0 THEN 96 ELSE (k * 37) %% 120 END AS d,
               k %% 100 >= 3 AND k %% 20 = 0 AS esc,
               k %% 100 >= 3 AND k %% 20 <> 0 AND k %% 10 < 7 AS approved,
               k %% 100 >= 3 AND k %% 20 <> 0 AND k %% 10 >= 7 AND k %% 30 = 7 AS app,
               k %% 60 = 7 AS upheld
        FROM (SELECT id, buyer_id, created_at, substr(order_no, 2)::int AS k FROM {O} WHERE order_no LIKE 'T%%') o
    ''', {"reasons": reasons})
    cur.execute(f'''
        INSERT INTO {R} (refund_no, order_id, buyer_id, reason, description, destination, status, amount_fen, fee_fen,
                         refund_amount_fen, fee_rate, needs_evidence, liable, submitted_at, sla_due_at, sla_paused_at,
                         info_due_at, escalated, urged_at, decided_at, first_decided_by_id, final_decided_by_id,
                         reject_reason_code, decision_note, appeal_due_at, appeal_description, appealed_at,
                         expected_arrival_by, refunded_at, closed_reason, supplier_answer, supplier_note)
        SELECT 'RT' || lpad(k::text, 12, '0'), order_id, buyer_id, reason, 'bench', 'wallet',
               CASE WHEN d IS NULL THEN 'submitted' WHEN app AND upheld THEN 'refunded' WHEN app THEN 'rejected_final'
                    WHEN esc OR approved THEN 'refunded' ELSE 'rejected' END,
               1000, 0, 1000, '0', false, 'platform', sub, sub + interval '72 hours', NULL, NULL, esc, NULL,
               CASE WHEN app THEN sub + d * interval '1 hour' + interval '3 days'
                    WHEN d IS NOT NULL THEN sub + d * interval '1 hour' END,
               NULL, NULL, '', '', NULL, '', CASE WHEN app THEN sub + d * interval '1 hour' + interval '1 day' END,
               NULL, NULL, '', '', ''
        FROM plan
    ''')
    cur.execute(f'''
        CREATE TEMP TABLE rp AS SELECT r.id, p.* FROM {R} r JOIN plan p ON p.order_id = r.order_id
    ''')
    cur.execute(f'''
        INSERT INTO {E} (refund_id, at, actor, event, note)
        SELECT id, sub, 'buyer:' || buyer_id, 'submitted', '' FROM rp
        UNION ALL
        SELECT id, sub + interval '72 hours', 'system', 'escalated', '' FROM rp WHERE esc
        UNION ALL
        SELECT id, sub + d * interval '1 hour', CASE WHEN esc OR k % 10 < 3 THEN 'system' ELSE 'reviewer:bench' END,
               CASE WHEN esc THEN 'auto_approved' WHEN approved THEN 'approved' ELSE 'rejected' END, ''
        FROM rp WHERE d IS NOT NULL
        UNION ALL
        SELECT id, sub + d * interval '1 hour' + interval '1 day', 'buyer:' || buyer_id, 'appealed', '' FROM rp WHERE app
        UNION ALL
        SELECT id, sub + d * interval '1 hour' + interval '3 days', 'senior_reviewer:bench',
               CASE WHEN upheld THEN 'appeal_approved' ELSE 'appeal_rejected' END, '' FROM rp WHERE app
    ''')
insert_s = time.monotonic() - t0
# The rows the figures read, from the timelines just inserted (what the migration does for existing data).
from kameng.aftersales import figure_facts
t1 = time.monotonic()
with transaction.atomic():
    figure_facts.rebuild()
facts_s = time.monotonic() - t1
with connection.cursor() as cur:
    cur.execute("VACUUM ANALYZE")  # as autovacuum would after a bulk load: visibility map for index-only scans
    cur.execute(f"SELECT count(*), count(*) FILTER (WHERE submitted_at >= %s - interval '30 days') FROM {R}", [now])
    refunds, in_window = cur.fetchone()
    cur.execute(f"SELECT count(*) FROM {E}")
    events = cur.fetchone()[0]
    cur.execute(f"SELECT pg_size_pretty(pg_total_relation_size('{R}')), pg_size_pretty(pg_total_relation_size('{E}'))")
    sizes = list(cur.fetchone())
result = {"insert_s": round(insert_s, 1), "facts_s": round(facts_s, 1), "refunds": refunds, "in_window": in_window, "events": events, "sizes": sizes}
"""

# The report as computed before RefundFacts (commit c5eeed1): each figure joined the window's timeline events or
# refunds to orders and products. Kept here to measure against, and to check both give the same figures.
INTERLEAVED = r"""
import time
from django.db import connection, transaction
from django.db.models import Aggregate, Count, Exists, F, FloatField, OuterRef, Q
from datetime import timedelta
from kameng.aftersales import transparency as t
from kameng.aftersales.figure_facts import APPROVALS, FIRST_DECISIONS
from kameng.aftersales.models import Refund, RefundEvent
from kameng.core import clock

class PercentileCont(Aggregate):
    function = "percentile_cont"
    output_field = FloatField()

    def __init__(self, expression, fraction, **extra):
        self.fraction = float(fraction)
        super().__init__(expression, **extra)

    def as_postgresql(self, compiler, connection, **extra):
        value, params = compiler.compile(self.source_expressions[0])
        return f"percentile_cont({self.fraction!r}) WITHIN GROUP (ORDER BY {value})", params


OLD_REFUND = ("reason", "order__product__supplier_id")
OLD_EVENT = ("refund__reason", "refund__order__product__supplier_id")


def old_collect(since, until):
    first = (RefundEvent.objects.filter(event__in=FIRST_DECISIONS, at__gte=since, at__lt=until)
             .exclude(event="auto_approved", refund__appealed_at__isnull=False))
    escalated_before = RefundEvent.objects.filter(refund_id=OuterRef("refund_id"), event="escalated",
                                                  at__lt=OuterRef("at"))
    hours = t.HoursBetween("at", "refund__submitted_at")
    appealed = (Refund.objects.filter(appealed_at__isnull=False, decided_at__gte=since, decided_at__lt=until)
                .filter(decided_at__gte=F("appealed_at")).exclude(status="appealed"))
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
        parts = (
            t._grouped(Refund.objects.filter(submitted_at__gte=since, submitted_at__lt=until), OLD_REFUND,
                       submitted=Count("id")),
            t._grouped(first, OLD_EVENT, decided=Count("id"), approved=Count("id", filter=Q(event__in=APPROVALS)),
                       automatic=Count("id", filter=Q(actor="system")),
                       within_deadline=Count("id", filter=~Q(Exists(escalated_before))),
                       median_hours=PercentileCont(hours, 0.5), p90_hours=PercentileCont(hours, 0.9)),
            t._grouped(Refund.objects.filter(appealed_at__gte=since, appealed_at__lt=until), OLD_REFUND,
                       appeals=Count("id")),
            t._grouped(appealed, OLD_REFUND, appeals_decided=Count("id"),
                       appeals_upheld=Count("id", filter=~Q(status="rejected_final"))),
        )
    return t._merge(parts)


def rounded(figures):
    return {key: {name: round(value, 6) if isinstance(value, float) else value for name, value in vars(f).items()}
            for key, f in figures.items()}


until = clock.now()
since = until - timedelta(days=t.WINDOW_DAYS)
old_s, new_s = [], []
for _ in range(payload["rounds"]):
    start = time.perf_counter()
    old = old_collect(since, until)
    old_s.append(time.perf_counter() - start)
    start = time.perf_counter()
    new = t._collect(since, until)
    new_s.append(time.perf_counter() - start)
result = {"old_s": old_s, "new_s": new_s, "same": rounded(old) == rounded(new),
          "groups": len(new), "overall_old": vars(old[("overall", None)]), "overall_new": vars(new[("overall", None)])}
"""

EXPLAIN = r"""
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from kameng.aftersales.transparency import POSTGRESQL_SETTINGS, transparency_report
with CaptureQueriesContext(connection) as queries:
    report = transparency_report(use_cache=False)
out = []
with transaction.atomic(), connection.cursor() as cur:
    for statement in POSTGRESQL_SETTINGS:  # as transparency_report() runs them
        cur.execute(statement)
    for q in queries.captured_queries:
        if "aftersales_" not in q["sql"]:
            continue
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + q["sql"])
        out.append({"sql": q["sql"], "plan": "\n".join(row[0] for row in cur.fetchall())})
result = {"plans": out, "overall": report.overall.as_dict()}
"""

INDEXES = ("refund_facts_submitted_idx", "refund_facts_decided_idx", "refund_appealed_idx",
           "refund_appeal_decided_idx", "aftersales_refund_facts_pkey")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--refunds", type=int, default=1_000_000, help="refunds (default %(default)s)")
    parser.add_argument("--suppliers", type=int, default=50, help="suppliers (default %(default)s)")
    parser.add_argument("--buyers", type=int, default=1000, help="buyers (default %(default)s)")
    parser.add_argument("--rounds", "-n", type=int, default=20, help="uncached requests (default %(default)s)")
    parser.add_argument("--interleaved", type=int, default=5,
                        help="rounds of old query / new query, alternately, in one process (default %(default)s)")
    parser.add_argument("--target-ms", type=float, default=1000, help="uncached p90 target (default %(default)s)")
    add_common_args(parser)
    args = parser.parse_args()
    info = machine_info(args.pg)
    info["load"] = " ".join(f"{x:.2f}" for x in os.getloadavg())

    with BenchEnv(args.pg, prefix="transp", keep=args.keep, sandbox=True) as env:
        t0 = time.monotonic()
        env.env["KAMENG_DB_STATEMENT_TIMEOUT"] = "3600"  # the bulk inserts, not the measured requests
        setup_bulk_users(env, prefix="bench_tbuyer", count=args.buyers, role="buyer", password=PASSWORD)
        setup = env.django(SETUP, {"refunds": args.refunds, "suppliers": args.suppliers, "password": PASSWORD})
        setup_s = time.monotonic() - t0
        log(f"setup {setup_s:.1f} s: {setup}")
        env.env["KAMENG_DB_STATEMENT_TIMEOUT"] = "120"
        # The old queries and the new, alternately in one process, and whether they give the same figures.
        interleaved = env.django(INTERLEAVED, {"rounds": args.interleaved})
        log(f"interleaved: old {latency_line(interleaved['old_s'])}; new {latency_line(interleaved['new_s'])}; "
            f"same figures: {interleaved['same']}")
        env.env["KAMENG_DB_STATEMENT_TIMEOUT"] = "30"
        results = {}
        for label, cache_seconds, rounds in (("uncached (every figure computed)", "0", args.rounds),
                                             ("cached (the public's answer)", "60", args.rounds * 5)):
            env.env["KAMENG_TRANSPARENCY_CACHE_SECONDS"] = cache_seconds
            proc, port = env.start_server(no_worker=True, workers=1)
            api = Http(port)
            page = PageSession(port)
            status, body = api.request("GET", "/api/v1/transparency")  # warm-up: imports, connection
            page.get("/transparency/")
            marks = env.log_marks()
            lat, page_lat, statuses = [], [], {}
            for _ in range(rounds):
                start = time.perf_counter()
                status, body = api.request("GET", "/api/v1/transparency")
                lat.append(time.perf_counter() - start)
                statuses[status] = statuses.get(status, 0) + 1
            for _ in range(max(3, rounds // 4)):
                start = time.perf_counter()
                answer = page.get("/transparency/")
                page_lat.append(time.perf_counter() - start)
                statuses[f"page {answer.status_code}"] = statuses.get(f"page {answer.status_code}", 0) + 1
            errors = env.server_errors(marks)
            api.close()
            page.close()
            env.stop_server(proc)
            env.servers.remove(proc)
            results[label] = (lat, page_lat, statuses, errors, body)
            log(f"{label}: API {latency_line(lat)}; page {latency_line(page_lat)}; {statuses}")
        env.env["KAMENG_DB_STATEMENT_TIMEOUT"] = "600"
        explained = env.django(EXPLAIN, {})

    uncached = results["uncached (every figure computed)"]
    overall = uncached[4]["overall"] if isinstance(uncached[4], dict) else {}
    lines = [
        f"{setup['refunds']:,} refunds ({setup['in_window']:,} submitted in the 30-day window), {setup['events']:,} "
        f"timeline events, {args.suppliers} suppliers, {args.buyers} buyers; refunds table {setup['sizes'][0]}, "
        f"events {setup['sizes'][1]}; setup {setup_s:.1f} s (inserts {setup['insert_s']} s, RefundFacts rebuilt from "
        f"the timelines in {setup['facts_s']} s), then VACUUM ANALYZE. "
        f"Load average at start: {info['load']}. `kameng serve --no-worker --workers 1`, one client, sequential, "
        f"keep-alive, loopback.",
        "",
        f"Overall figures at this size: {overall}",
        "",
        f"Old queries (c5eeed1: events/refunds joined to orders and products) against the new (RefundFacts), "
        f"alternately in one Django process, {args.interleaved} rounds each, all figures computed:",
        "",
        "| computation | rounds | p50 | max | each round |",
        "|---|---|---|---|---|",
        *(f"| {name} | {len(xs)} | {percentile(xs, 50) * 1000:.0f} ms | {max(xs) * 1000:.0f} ms | "
          f"{', '.join(f'{x * 1000:.0f}' for x in xs)} |"
          for name, xs in (("old (baseline)", interleaved["old_s"]), ("new", interleaved["new_s"]))),
        "",
        f"- [{'x' if interleaved['same'] else ' '}] old and new give the same figures in all {interleaved['groups']} "
        f"groupings (overall, per reason, per supplier)",
        "",
        "HTTP, `GET /api/v1/transparency` and the page:",
        "",
        "| run | requests | API p50 | API p90 | API max | page p50 | page max | statuses | server errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, (lat, page_lat, statuses, errors, _) in results.items():
        lines.append(f"| {label} | {len(lat)} | {percentile(lat, 50) * 1000:.0f} ms | {percentile(lat, 90) * 1000:.0f} ms "
                     f"| {max(lat) * 1000:.0f} ms | {percentile(page_lat, 50) * 1000:.0f} ms | "
                     f"{max(page_lat) * 1000:.0f} ms | {statuses} | {len(errors)} |")
    p90 = percentile(uncached[0], 90) * 1000
    good = p90 <= args.target_ms and set(uncached[2]) <= {200, "page 200"} and interleaved["same"]
    lines += ["", f"- [{'x' if good else ' '}] uncached p90 {p90:.0f} ms <= {args.target_ms:.0f} ms, all 200", "",
              "EXPLAIN (ANALYZE, BUFFERS) of each query `transparency_report()` runs (uncached):", ""]
    for plan in explained["plans"]:
        used = [name for name in INDEXES if name in plan["plan"]]
        total = [line for line in plan["plan"].splitlines() if "Execution Time" in line]
        lines.append(f"- {', '.join(used) or 'no window index'}; {total[0].strip() if total else ''}")
    lines.append("")
    for plan in explained["plans"]:
        lines += ["```", plan["sql"], "", plan["plan"], "```", ""]
    report("transparency", lines=lines, errors=[e for r in results.values() for e in r[3]], info=info,
           record_it=args.record)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
