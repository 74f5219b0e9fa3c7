"""Purchase throughput: wallet orders over HTTP against `kameng serve --no-worker`, beside a raw-SQL
baseline doing the same minimal purchase transaction with psycopg on the same schema.

Both phases run in one invocation, alternating (baseline, HTTP, baseline, HTTP, …), with the same
number of concurrent clients, so the machine's noise falls on both. Reported: purchases/s, p50/p99
latency per phase, and HTTP/baseline throughput ratio (target >= 0.3).

    .venv/bin/python bench/purchase_throughput.py                  # defaults: 16 buyers, 8 clients
    .venv/bin/python bench/purchase_throughput.py --requests 500 --rounds 3 --record
"""

import argparse
import datetime as dt
import json
import secrets
import sys
import threading
import time
from collections import Counter

from _common import (
    BenchEnv,
    Http,
    add_common_args,
    log,
    login,
    login_all,
    machine_info,
    ms,
    percentile,
    report,
    setup_users,
    stock_keys,
)

PASSWORD = "bench-pass-123"
PRICE_FEN = 100
COMMISSION_RATE_PERMILLE = 50  # 0.05, as settings.KAMENG_COMMISSION_RATE by default


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--buyers", type=int, default=16, help="buyers with funded wallets (default %(default)s)")
    parser.add_argument("--concurrency", "-c", type=int, default=8, help="concurrent clients (default %(default)s)")
    parser.add_argument("--requests", "-n", type=int, default=600,
                        help="purchases per phase per round (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=2, help="baseline+HTTP rounds (default %(default)s)")
    parser.add_argument("--stock", type=int, default=20000,
                        help="keys stocked per product, at least what the run buys (default %(default)s)")
    parser.add_argument("--workers", type=int, default=None, help="kameng serve --workers (default: its own)")
    parser.add_argument("--time-limit", type=float, default=120, help="stop a phase after this many seconds")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="serve with KAMENG_SANDBOX=0 (the brief's run uses 1; with 1 every clock.now() reads "
                             "the test clock from the database)")
    add_common_args(parser)
    return parser.parse_args(argv)


# ---- load generation -------------------------------------------------------------------------


def run_phase(name: str, concurrency: int, total: int, make_worker, time_limit: float) -> dict:
    """`make_worker(i)` returns a callable(k) -> status string, doing purchase k of client i."""
    latencies: list[float] = []
    statuses: Counter = Counter()
    lock = threading.Lock()
    counter = iter(range(total))
    deadline = time.monotonic() + time_limit
    start_barrier = threading.Barrier(concurrency + 1)

    def client(i):
        do, close = make_worker(i)
        start_barrier.wait()
        mine_lat, mine_status = [], Counter()
        try:
            while time.monotonic() < deadline:
                with lock:
                    k = next(counter, None)
                if k is None:
                    break
                t0 = time.perf_counter()
                try:
                    status = do(k)
                except Exception as exc:  # noqa: BLE001 — a benchmark counts failures, it does not stop
                    status = f"exception:{type(exc).__name__}"
                mine_lat.append(time.perf_counter() - t0)
                mine_status[status] += 1
        finally:
            close()
            with lock:
                latencies.extend(mine_lat)
                statuses.update(mine_status)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    start_barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    ok = statuses.get("ok", 0)
    out = {"phase": name, "ok": ok, "attempts": sum(statuses.values()), "elapsed": elapsed, "rate": ok / elapsed,
           "p50": percentile(latencies, 50), "p99": percentile(latencies, 99), "statuses": dict(statuses)}
    log(f"{name:8s} {ok} ok in {elapsed:.2f} s = {out['rate']:.1f}/s  p50 {ms(out['p50'])}  p99 {ms(out['p99'])}  "
        f"{dict(statuses)}")
    return out


def http_worker_factory(port, tokens, product_id, concurrency):
    def make(i):
        clients = [Http(port, tokens[b]) for b in range(i, len(tokens), concurrency)]
        body = {"product_id": product_id, "quantity": 1, "channel": "wallet", "accept_terms": True}

        turn = iter(range(10**9))  # this client's own count: its buyers take turns evenly

        def do(k):
            status, answer = clients[next(turn) % len(clients)].request("POST", "/api/v1/orders", body)
            if status == 201:
                return "ok"
            code = (answer or {}).get("error", {}).get("code", "") if isinstance(answer, dict) else ""
            return f"{status} {code}".strip()

        def close():
            for c in clients:
                c.close()

        return do, close

    return make


SNAPSHOT = {
    "name": "bench card", "description": "", "kind": "card", "is_manual": False, "price": "1.00",
    "face_value": "1.00", "delivery_promise_minutes": 5,
    "refund_policy": {"refund_window_hours": 72, "personal_reason_fee_rate": "0.05", "review_sla_workdays": 3,
                      "appeal_window_days": 7, "info_reply_hours": 24},
    "refund_policy_text": {"zh-hans": "退款规则" * 40, "en": "refund rules " * 40},
}
TERMS = "[2026-11] " + "本商品为数字商品，一经发货即完成交付。" * 4 + "\n" + "This is a digital good. " * 12


def sql_worker_factory(env, buyers, wallet_accounts, accounts, product_id, supplier_id, concurrency):
    """The minimal purchase, statement by statement, as the service layer's transaction would do it."""
    commission = PRICE_FEN * COMMISSION_RATE_PERMILLE // 1000

    def make(i):
        conn = env.connect()
        mine = [b for b in range(i, len(buyers), concurrency)]

        turn = iter(range(10**9))

        def do(k):
            b = mine[next(turn) % len(mine)]
            buyer_id = buyers[b]["id"]
            wallet = wallet_accounts[buyer_id]
            now = dt.datetime.now(dt.UTC)
            order_no = "B" + now.strftime("%Y%m%d%H%M") + secrets.token_hex(5).upper()
            payment_no = "Q" + now.strftime("%Y%m%d") + secrets.token_hex(6).upper()
            with conn.transaction():
                cur = conn.cursor()
                cur.execute("SELECT id FROM ledger_ledgeraccount WHERE id = %s FOR UPDATE", (wallet,))
                total = cur.execute("SELECT COALESCE(SUM(amount_fen), 0) FROM ledger_posting WHERE account_id = %s",
                                    (wallet,)).fetchone()[0]
                if -total < PRICE_FEN:
                    raise RuntimeError("insufficient balance")
                snap = dict(SNAPSHOT, product_id=product_id, supplier_id=supplier_id, captured_at=now.isoformat())
                order_id = cur.execute(
                    "INSERT INTO orders_order (order_no, quantity, unit_price_fen, amount_fen, refunded_fen, channel, "
                    "recharge_account, status, snapshot, terms_text, terms_accepted_at, created_at, expires_at, "
                    "buyer_id, product_id) VALUES (%s, 1, %s, %s, 0, 'wallet', '', 'pending_payment', %s, %s, %s, %s, "
                    "%s, %s, %s) RETURNING id",
                    (order_no, PRICE_FEN, PRICE_FEN, json.dumps(snap), TERMS, now, now, now + dt.timedelta(minutes=15),
                     buyer_id, product_id)).fetchone()[0]
                item_id = cur.execute(
                    "INSERT INTO orders_orderitem (position, status, order_id) VALUES (1, 'pending', %s) RETURNING id",
                    (order_id,)).fetchone()[0]
                row = cur.execute(
                    "SELECT id FROM inventory_cardsecret WHERE product_id = %s AND status = 'available' "
                    "ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED", (product_id,)).fetchone()
                if row is None:
                    raise RuntimeError("out of stock")
                secret_id = row[0]
                payment_id = cur.execute(
                    "INSERT INTO payments_payment (payment_no, purpose, channel, amount_fen, status, trade_no, "
                    "created_at, paid_at, order_id, payer_id, gateway, pay_url, code_url) "
                    "VALUES (%s, 'order', 'wallet', %s, 'succeeded', %s, %s, %s, %s, %s, '', '', '') RETURNING id",
                    (payment_no, PRICE_FEN, f"WALLET-{payment_no}", now, now, order_id, buyer_id)).fetchone()[0]
                journal = cur.execute(
                    "INSERT INTO ledger_journal (reference, kind, at, memo, order_id, payment_id) "
                    "VALUES (%s, 'payment_captured', %s, '', NULL, %s) RETURNING id",
                    (f"capture:{payment_no}", now, payment_id)).fetchone()[0]
                cur.execute("INSERT INTO ledger_posting (amount_fen, account_id, journal_id) VALUES (%s, %s, %s), "
                            "(%s, %s, %s)", (PRICE_FEN, wallet, journal, -PRICE_FEN, accounts["escrow"], journal))
                cur.execute("INSERT INTO inventory_keyissue (issued_at, order_item_id, secret_id) VALUES (%s, %s, %s)",
                            (now, item_id, secret_id))
                cur.execute("UPDATE inventory_cardsecret SET status = 'issued', reserved_order_id = NULL WHERE id = %s",
                            (secret_id,))
                cur.execute("UPDATE orders_orderitem SET status = 'delivered', delivered_at = %s WHERE id = %s",
                            (now, item_id))
                cur.execute("UPDATE orders_order SET status = 'delivered', paid_at = %s, delivered_at = %s "
                            "WHERE id = %s", (now, now, order_id))
                journal = cur.execute(
                    "INSERT INTO ledger_journal (reference, kind, at, memo, order_id, payment_id) "
                    "VALUES (%s, 'order_settled', %s, '', %s, NULL) RETURNING id",
                    (f"settle:{order_no}", now, order_id)).fetchone()[0]
                cur.execute(
                    "INSERT INTO ledger_posting (amount_fen, account_id, journal_id) VALUES (%s, %s, %s), "
                    "(%s, %s, %s), (%s, %s, %s)",
                    (PRICE_FEN, accounts["escrow"], journal, -(PRICE_FEN - commission), accounts["payable"], journal,
                     -commission, accounts["commission"], journal))
            return "ok"

        return do, conn.close

    return make


def summarize(phases: list[dict], key: str) -> dict:
    chosen = [p for p in phases if p["phase"] == key]
    ok = sum(p["ok"] for p in chosen)
    elapsed = sum(p["elapsed"] for p in chosen)
    statuses = Counter()
    for p in chosen:
        statuses.update(p["statuses"])
    return {"ok": ok, "elapsed": elapsed, "rate": ok / elapsed if elapsed else 0.0,
            "p50s": [p["p50"] for p in chosen], "p99s": [p["p99"] for p in chosen], "statuses": dict(statuses),
            "rates": [p["rate"] for p in chosen]}


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.buyers < args.concurrency:
        sys.exit("--buyers must be at least --concurrency (each client has its own buyers)")
    needed = args.requests * args.rounds
    stock = max(args.stock, needed + 100)
    info = machine_info(args.pg)
    # both phases and the warm-up draw on the same wallets; fund them well beyond what the run spends
    per_buyer = 4 * (needed + 100) // args.buyers + 10
    with BenchEnv(args.pg, prefix="purchase", keep=args.keep, sandbox=not args.no_sandbox) as env:
        t = time.perf_counter()
        setup = setup_users(env, buyers=args.buyers, products=2, price="1.00",
                            fund_fen=per_buyer * PRICE_FEN, password=PASSWORD)
        log(f"users and wallets in {time.perf_counter() - t:.1f} s")
        server, port = env.start_server(no_worker=True, workers=args.workers)
        supplier_token = login(port, setup["supplier"]["username"], PASSWORD)
        http_product, sql_product = setup["products"]
        t = time.perf_counter()
        for product_id, tag in ((http_product, "H"), (sql_product, "S")):
            stock_keys(port, supplier_token, product_id, stock, tag)
        log(f"stocked {stock} keys on each of 2 products in {time.perf_counter() - t:.1f} s")
        tokens = login_all(port, [b["username"] for b in setup["buyers"]], PASSWORD)
        with env.connect() as conn:
            rows = conn.execute("SELECT code, id FROM ledger_ledgeraccount").fetchall()
            conn.execute("ANALYZE")
            conn.commit()
        codes = dict(rows)
        wallet_accounts = {b["id"]: codes[f"wallet:{b['id']}"] for b in setup["buyers"]}
        accounts = {"escrow": codes["escrow"], "commission": codes["commission"],
                    "payable": codes[f"payable:{setup['supplier']['id']}"]}

        # warm-up: every server process and thread imports its code and opens its connections
        run_phase("warmup", args.concurrency, min(100, args.requests),
                  http_worker_factory(port, tokens, http_product, args.concurrency), args.time_limit)

        marks = env.log_marks()  # server errors are counted from here on
        phases = []
        for r in range(args.rounds):
            log(f"round {r + 1}/{args.rounds}")
            phases.append(run_phase("baseline", args.concurrency, args.requests,
                                    sql_worker_factory(env, setup["buyers"], wallet_accounts, accounts, sql_product,
                                                       setup["supplier"]["id"], args.concurrency), args.time_limit))
            phases.append(run_phase("http", args.concurrency, args.requests,
                                    http_worker_factory(port, tokens, http_product, args.concurrency),
                                    args.time_limit))

        with env.connect() as conn:
            delivered = dict(conn.execute(
                "SELECT product_id, count(*) FROM orders_order WHERE status = 'delivered' GROUP BY product_id"
            ).fetchall())
            double = conn.execute("SELECT count(*) FROM (SELECT secret_id FROM inventory_keyissue "
                                  "WHERE returned_at IS NULL GROUP BY secret_id HAVING count(*) > 1) d").fetchone()[0]
        errors = env.server_errors(since=marks)

    base, http = summarize(phases, "baseline"), summarize(phases, "http")
    ratio = http["rate"] / base["rate"] if base["rate"] else 0.0
    lines = [
        f"buyers {args.buyers}, concurrency {args.concurrency}, {args.requests} purchases per phase x {args.rounds} "
        f"rounds (alternating baseline/HTTP), stock {stock} keys per product, server workers "
        f"{args.workers or 'default'}, KAMENG_SANDBOX={0 if args.no_sandbox else 1}",
        "",
        "| phase | purchases | purchases/s (per round) | p50 (per round) | p99 (per round) | statuses |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in (("raw SQL baseline (psycopg)", base), ("HTTP `POST /api/v1/orders`", http)):
        lines.append(
            f"| {name} | {s['ok']} | **{s['rate']:.1f}** ({', '.join(f'{x:.1f}' for x in s['rates'])}) | "
            f"{', '.join(ms(x) for x in s['p50s'])} | {', '.join(ms(x) for x in s['p99s'])} | {s['statuses']} |")
    lines += [
        "",
        f"HTTP / baseline throughput ratio: **{ratio:.2f}** (target >= 0.30: {'met' if ratio >= 0.3 else 'MISSED'})",
        f"delivered orders per product {delivered}; keys issued twice: {double}; server error lines during the run: {len(errors)}",
    ]
    report("purchase_throughput", lines=lines, errors=errors, info=info, record_it=args.record)
    return 0 if ratio >= 0.3 and not double else 1


if __name__ == "__main__":
    sys.exit(main())
