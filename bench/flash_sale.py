"""Flash sale: many concurrent wallet purchases racing for few keys, against `kameng serve` on PostgreSQL.

Default: 2,000 attempts on 500 keys from 64 concurrent clients (64 buyers, one each). Afterwards it
checks through SQL that exactly the stock was sold, no key went out twice and nothing beyond the
stock was issued, and that every other attempt got a clean 409 OUT_OF_STOCK (no 5xx, no timeouts).

    .venv/bin/python bench/flash_sale.py
    .venv/bin/python bench/flash_sale.py --attempts 2000 --keys 500 --clients 64 --record
"""

import argparse
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


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attempts", type=int, default=2000, help="purchase attempts (default %(default)s)")
    parser.add_argument("--keys", type=int, default=500, help="keys in stock (default %(default)s)")
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients, one buyer each (default %(default)s)")
    parser.add_argument("--workers", type=int, default=None, help="kameng serve --workers (default: its own)")
    parser.add_argument("--timeout", type=float, default=60, help="per-request client timeout in seconds")
    parser.add_argument("--time-limit", type=float, default=300, help="stop sending after this many seconds")
    add_common_args(parser)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    info = machine_info(args.pg)
    with BenchEnv(args.pg, prefix="flash", keep=args.keep) as env:
        t = time.perf_counter()
        # each buyer can afford every attempt it might make: money is never the reason for a refusal
        setup = setup_users(env, buyers=args.clients, products=1, price="1.00",
                            fund_fen=(args.attempts // args.clients + 10) * 100 * 2, password=PASSWORD)
        log(f"{args.clients} buyers with wallets in {time.perf_counter() - t:.1f} s")
        server, port = env.start_server(no_worker=False, workers=args.workers)
        product_id = setup["products"][0]
        stock_keys(port, login(port, setup["supplier"]["username"], PASSWORD), product_id, args.keys, "F")
        t = time.perf_counter()
        tokens = login_all(port, [b["username"] for b in setup["buyers"]], PASSWORD)
        log(f"{len(tokens)} tokens in {time.perf_counter() - t:.1f} s")
        # warm the server (imports, connections) without buying: every client asks for its wallet once
        for token in tokens:
            Http(port, token).request("GET", "/api/v1/wallet")

        latencies: list[float] = []
        statuses: Counter = Counter()
        lock = threading.Lock()
        remaining = iter(range(args.attempts))
        barrier = threading.Barrier(args.clients + 1)
        stop_at = [0.0]
        body = {"product_id": product_id, "quantity": 1, "channel": "wallet", "accept_terms": True}

        def client(i):
            http = Http(port, tokens[i], timeout=args.timeout)
            lat, st = [], Counter()
            barrier.wait()
            try:
                while time.monotonic() < stop_at[0]:
                    with lock:
                        k = next(remaining, None)
                    if k is None:
                        break
                    t0 = time.perf_counter()
                    try:
                        status, answer = http.request("POST", "/api/v1/orders", body)
                        code = answer.get("error", {}).get("code", "") if isinstance(answer, dict) else ""
                        label = f"{status} {code}".strip()
                    except Exception as exc:  # noqa: BLE001 — timeouts and resets are results here
                        label = f"exception {type(exc).__name__}"
                        http.close()
                        http = Http(port, tokens[i], timeout=args.timeout)
                    lat.append(time.perf_counter() - t0)
                    st[label] += 1
            finally:
                http.close()
                with lock:
                    latencies.extend(lat)
                    statuses.update(st)

        marks = env.log_marks()  # server errors are counted from here on
        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
        for th in threads:
            th.start()
        stop_at[0] = time.monotonic() + args.time_limit
        barrier.wait()
        t0 = time.perf_counter()
        for th in threads:
            th.join()
        elapsed = time.perf_counter() - t0
        log(f"{sum(statuses.values())} attempts in {elapsed:.2f} s: {dict(statuses)}")

        with env.connect() as conn:
            q = lambda sql: conn.execute(sql, {"p": product_id}).fetchone()[0]  # noqa: E731
            delivered = q("SELECT count(*) FROM orders_order WHERE product_id = %(p)s AND status = 'delivered'")
            other_orders = q("SELECT count(*) FROM orders_order WHERE product_id = %(p)s AND status <> 'delivered'")
            issued_rows = q("SELECT count(*) FROM inventory_keyissue k JOIN inventory_cardsecret s ON s.id = k.secret_id "
                            "WHERE s.product_id = %(p)s AND k.returned_at IS NULL")
            twice = q("SELECT count(*) FROM (SELECT secret_id FROM inventory_keyissue WHERE returned_at IS NULL "
                      "GROUP BY secret_id HAVING count(*) > 1) d")
            secrets_issued = q("SELECT count(*) FROM inventory_cardsecret WHERE product_id = %(p)s AND status = 'issued'")
            secrets_total = q("SELECT count(*) FROM inventory_cardsecret WHERE product_id = %(p)s")
            items_without_key = q(
                "SELECT count(*) FROM orders_orderitem i JOIN orders_order o ON o.id = i.order_id "
                "WHERE o.product_id = %(p)s AND i.status = 'delivered' AND NOT EXISTS "
                "(SELECT 1 FROM inventory_keyissue k WHERE k.order_item_id = i.id AND k.returned_at IS NULL)")
            unbalanced = q("SELECT count(*) FROM (SELECT journal_id FROM ledger_posting GROUP BY journal_id "
                           "HAVING sum(amount_fen) <> 0) u")
        errors = env.server_errors(since=marks)

    created = statuses.get("201", 0)
    out_of_stock = statuses.get("409 OUT_OF_STOCK", 0)
    five_xx = sum(n for s, n in statuses.items() if s.startswith("5"))
    others = {s: n for s, n in statuses.items() if s not in ("201", "409 OUT_OF_STOCK")}
    checks = {
        f"exactly {args.keys} orders delivered": delivered == args.keys and created == args.keys,
        "no key issued twice": twice == 0,
        "no key issued beyond the stock": issued_rows == secrets_issued == args.keys and secrets_total == args.keys,
        "every delivered item holds a key": items_without_key == 0,
        "every other attempt a clean 409 OUT_OF_STOCK": out_of_stock == args.attempts - args.keys and not others,
        "no 5xx": five_xx == 0,
        "every journal balances": unbalanced == 0,
    }
    lines = [
        f"{args.attempts} attempts, {args.keys} keys, {args.clients} concurrent clients (one buyer each), "
        f"server workers {args.workers or 'default'}, in-process worker on",
        "",
        f"- elapsed {elapsed:.2f} s ({sum(statuses.values()) / elapsed:.1f} attempts/s); latency p50 "
        f"{ms(percentile(latencies, 50))}, p99 {ms(percentile(latencies, 99))}, max {ms(max(latencies))}",
        f"- status codes: {dict(sorted(statuses.items()))}",
        f"- SQL: delivered orders {delivered}, other orders of the product {other_orders}, live key issues "
        f"{issued_rows}, secrets issued {secrets_issued}/{secrets_total}, keys issued twice {twice}, delivered items "
        f"without a key {items_without_key}, unbalanced journals {unbalanced}; server error lines during the run {len(errors)}",
        "",
        *[f"- [{'x' if ok else ' '}] {name}" for name, ok in checks.items()],
    ]
    report("flash_sale", lines=lines, errors=errors, info=info, record_it=args.record)
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
