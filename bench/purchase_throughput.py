"""Purchase throughput against `kameng serve --no-worker`, beside a raw-SQL baseline doing the same
minimal purchase with psycopg on the same schema, in the same run.

Two paths, each with its own baseline:
- wallet:  `POST /api/v1/orders` paid from the wallet (created, paid and delivered in one request);
- gateway: `POST /api/v1/orders` with channel alipay (served by the sandbox gateway), then the gateway's
  signed notification `POST /api/v1/payments/notify/sandbox` (HMAC-SHA256, as the contract says) —
  a purchase is both requests; its baseline is the same two transactions in SQL.

At 1 and at 16 concurrent clients, on 16 products (client i buys product i mod 16 first, then the
next), in interleaved rounds (each round runs every phase: baseline, HTTP, baseline, HTTP, …), so the
machine's noise falls on both sides. Reported per phase and round: purchases/s, p50/p99, and CPU
milliseconds per purchase — of the `kameng serve` processes (HTTP phases) and of the PostgreSQL
backends serving the run's database (both sides).

Then, with `--history N` (default 100,000), one buyer is given N past purchases (orders, items,
payments, journals, postings and events, inserted in SQL) and the 1-client phases run again for that
buyer beside a fresh buyer: a purchase must not cost more for a buyer with a long history.

    .venv/bin/python bench/purchase_throughput.py --record
    .venv/bin/python bench/purchase_throughput.py --rounds 1 --requests 100 --history 0   # a quick look

With Redis answering on `--cache-url` (default redis://127.0.0.1:6379/14) the server gets it as
KAMENG_CACHE_URL (token → user and the test clock from the shared cache); `--cache-url ''` runs without.
"""

import argparse
import datetime as dt
import hashlib
import hmac
import http.client
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path

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
GOAL = 0.6  # of the raw-SQL baseline at 16 clients (issue 11)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="1,16", help="concurrent clients per phase (default %(default)s)")
    parser.add_argument("--products", type=int, default=16, help="products bought (default %(default)s)")
    parser.add_argument("--buyers", type=int, default=32, help="buyers with funded wallets (default %(default)s)")
    parser.add_argument("--requests", "-n", type=int, default=400,
                        help="purchases per phase per round at the highest client count (default %(default)s)")
    parser.add_argument("--requests-single", type=int, default=120,
                        help="purchases per phase per round with 1 client (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default %(default)s)")
    parser.add_argument("--paths", default="wallet,gateway", help="paths to run (default %(default)s)")
    parser.add_argument("--history", type=int, default=100_000,
                        help="past purchases given to one buyer before the history phases; 0 skips them")
    parser.add_argument("--workers", type=int, default=None, help="kameng serve --workers (default: its own)")
    parser.add_argument("--time-limit", type=float, default=120, help="stop a phase after this many seconds")
    parser.add_argument("--cache-url", default=os.environ.get("BENCH_CACHE_URL", "redis://127.0.0.1:6379/14"),
                        help="KAMENG_CACHE_URL for the server ('' for none; default %(default)s)")
    parser.add_argument("--note", default="", help="a line recorded with the results (what else ran, say)")
    add_common_args(parser)
    return parser.parse_args(argv)


# ---- CPU accounting ----------------------------------------------------------------------------


def _cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, IndexError, ValueError):
        return 0


def _session_pids(sid: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[3]) == sid:  # session id
                    pids.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return pids


class CpuMeter:
    """CPU seconds used by the server's processes and by the PostgreSQL backends of the run's database."""

    def __init__(self, env: BenchEnv, server_pid: int):
        self.env = env
        self.server_pid = server_pid
        self.conn = env.connect(autocommit=True)

    def _backend_pids(self) -> list[int]:
        rows = self.conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND pid <> pg_backend_pid()").fetchall()
        return [row[0] for row in rows]

    def snapshot(self) -> dict:
        return {"server": {pid: _cpu_ticks(pid) for pid in _session_pids(self.server_pid)},
                "pg": {pid: _cpu_ticks(pid) for pid in self._backend_pids()}}

    @staticmethod
    def used(before: dict, after: dict, key: str) -> float:
        """Seconds; a process that appeared during the phase counts from zero, one that ended is lost."""
        return sum(ticks - before[key].get(pid, 0) for pid, ticks in after[key].items()) / CLK_TCK

    def close(self):
        self.conn.close()


# ---- load generation -------------------------------------------------------------------------


def run_phase(name: str, concurrency: int, total: int, make_worker, time_limit: float, meter: CpuMeter) -> dict:
    """`make_worker(i)` returns (do, close); do(k) makes purchase k of client i and returns a status string."""
    latencies: list[float] = []
    statuses: Counter = Counter()
    lock = threading.Lock()
    counter = iter(range(total))
    deadline = time.monotonic() + time_limit
    # Clients connect before the start and disconnect after the end, so the CPU of the connections'
    # backends is measured between two snapshots that both see them.
    ready = threading.Barrier(concurrency + 1)
    start = threading.Event()
    finished = threading.Barrier(concurrency + 1)
    measured = threading.Event()

    def client(i):
        do, close = make_worker(i)
        mine_lat, mine_status = [], Counter()
        try:
            ready.wait()
            start.wait()
            while time.monotonic() < deadline:
                with lock:
                    k = next(counter, None)
                if k is None:
                    break
                t0 = time.perf_counter()
                try:
                    status = do(k)
                except Exception as exc:  # noqa: BLE001 — a benchmark counts failures, it does not stop
                    status = f"exception:{type(exc).__name__}:{str(exc)[:60]}"
                mine_lat.append(time.perf_counter() - t0)
                mine_status[status] += 1
        finally:
            with lock:
                latencies.extend(mine_lat)
                statuses.update(mine_status)
            finished.wait()
            measured.wait()
            close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    ready.wait()
    before = meter.snapshot()
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    start.set()
    finished.wait()
    elapsed = time.perf_counter() - t0
    after = meter.snapshot()
    measured.set()
    for t in threads:
        t.join()
    ok = statuses.get("ok", 0)
    out = {"phase": name, "clients": concurrency, "ok": ok, "attempts": sum(statuses.values()), "elapsed": elapsed,
           "rate": ok / elapsed, "p50": percentile(latencies, 50), "p99": percentile(latencies, 99),
           "statuses": dict(statuses), "load": (load_before + os.getloadavg()[0]) / 2,
           "server_cpu_ms": 1000 * CpuMeter.used(before, after, "server") / ok if ok else float("nan"),
           "pg_cpu_ms": 1000 * CpuMeter.used(before, after, "pg") / ok if ok else float("nan")}
    cpu = f"server {out['server_cpu_ms']:.2f} ms, pg {out['pg_cpu_ms']:.2f} ms CPU/purchase"
    log(f"{name:18s} c={concurrency:<2d} {ok} ok in {elapsed:.2f} s = {out['rate']:.1f}/s  p50 {ms(out['p50'])}  "
        f"p99 {ms(out['p99'])}  {cpu}  {dict(statuses) if len(statuses) > 1 or 'ok' not in statuses else ''}")
    return out


def _status(status: int, answer, expected: int) -> str:
    if status == expected:
        return "ok"
    code = (answer or {}).get("error", {}).get("code", "") if isinstance(answer, dict) else ""
    return f"{status} {code}".strip()


class FormPoster:
    """A keep-alive client for the gateway's form-encoded notification (no auth, as a gateway sends it)."""

    def __init__(self, port: int):
        self.port = port
        self.conn = None

    def post(self, path: str, fields: dict) -> tuple[int, dict | None]:
        for attempt in (1, 2):  # a keep-alive connection the server closed meanwhile: reconnect once
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request("POST", path, body=urllib.parse.urlencode(fields),
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
                response = self.conn.getresponse()
                raw = response.read()
                break
            except (http.client.RemoteDisconnected, http.client.CannotSendRequest, ConnectionResetError,
                    BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        try:
            return response.status, json.loads(raw) if raw else None
        except ValueError:
            return response.status, None

    def close(self):
        if self.conn is not None:
            self.conn.close()


def sandbox_notification(secret: str, payment_no: str, amount: str) -> dict:
    fields = {"payment_no": payment_no, "trade_no": "SBX" + secrets.token_hex(10).upper(), "amount": amount,
              "status": "SUCCESS", "ts": str(int(time.time()))}
    canonical = "&".join(f"{k}={fields[k]}" for k in sorted(fields)).encode()
    fields["sign"] = hmac.new(secret.encode(), canonical, hashlib.sha256).hexdigest()
    return fields


def http_worker_factory(port, tokens, products, concurrency, path: str, secret: str):
    def make(i):
        mine = [tokens[b] for b in range(i, len(tokens), concurrency)]
        clients = [Http(port, token) for token in mine]
        notifier = FormPoster(port)
        turn = iter(range(10**9))  # this client's own count: its buyers and products take turns evenly

        def do(k):
            n = next(turn)
            client = clients[n % len(clients)]
            product_id = products[(i + n) % len(products)]
            if path == "wallet":
                body = {"product_id": product_id, "quantity": 1, "channel": "wallet", "accept_terms": True}
                status, answer = client.request("POST", "/api/v1/orders", body)
                return _status(status, answer, 201)
            body = {"product_id": product_id, "quantity": 1, "channel": "alipay", "accept_terms": True}
            status, answer = client.request("POST", "/api/v1/orders", body)
            if status != 201:
                return _status(status, answer, 201)
            fields = sandbox_notification(secret, answer["payment"]["payment_no"], answer["amount"])
            status, answer = notifier.post("/api/v1/payments/notify/sandbox", fields)
            return _status(status, answer, 200)

        def close():
            for c in clients:
                c.close()
            notifier.close()

        return do, close

    return make


SNAPSHOT = {
    "name": "bench card", "description": "", "kind": "card", "is_manual": False, "on_demand": False,
    "price": "1.00", "face_value": "1.00", "delivery_promise_minutes": 5,
    "refund_policy": {"refund_window_hours": 72, "personal_reason_fee_rate": "0.05", "review_sla_workdays": 3,
                      "appeal_window_days": 7, "info_reply_hours": 24},
    "refund_policy_text": {"zh-hans": "退款规则" * 40, "en": "refund rules " * 40},
}
TERMS = "[2026-11] " + "本商品为数字商品，一经发货即完成交付。" * 4 + "\n" + "This is a digital good. " * 12


def snapshot_versions(env, product_ids, supplier_id) -> dict | None:
    """One stored snapshot version per product, as the platform keeps them (orders.ProductSnapshot); None
    on a schema that still copies the snapshot onto every order (the code before issue 11)."""
    with env.connect() as conn:
        if not conn.execute("SELECT 1 FROM information_schema.columns WHERE table_name = 'orders_order' "
                            "AND column_name = 'snapshot_version_id'").fetchone():
            return None
        versions = {}
        for product_id in product_ids:
            data = json.dumps(dict(SNAPSHOT, product_id=product_id, supplier_id=supplier_id))
            versions[product_id] = conn.execute(
                "INSERT INTO orders_productsnapshot (digest, data, created_at, product_id) VALUES (%s, %s, now(), %s) "
                "RETURNING id", (secrets.token_hex(32), data, product_id)).fetchone()[0]
        conn.commit()
    return versions


class SqlPurchase:
    """The minimal correct purchase, statement by statement, on one psycopg connection."""

    def __init__(self, env, accounts, supplier_id, versions):
        self.conn = env.connect()
        self.accounts = accounts
        self.supplier_id = supplier_id
        self.versions = versions
        self.commission = PRICE_FEN * COMMISSION_RATE_PERMILLE // 1000

    def _order(self, cur, *, buyer_id, product_id, channel, status, now):
        order_no = "B" + now.strftime("%Y%m%d%H%M") + secrets.token_hex(5).upper()
        paid = now if status == "delivered" else None
        if self.versions is None:  # one snapshot copied per order
            column = "snapshot"
            snapshot = json.dumps(dict(SNAPSHOT, product_id=product_id, supplier_id=self.supplier_id,
                                       captured_at=now.isoformat()))
        else:  # the product's stored version, known (as the platform's processes know it)
            column, snapshot = "snapshot_version_id", self.versions[product_id]
        order_id = cur.execute(
            "INSERT INTO orders_order (order_no, quantity, unit_price_fen, amount_fen, refunded_fen, channel, "
            f"recharge_account, status, {column}, terms_text, terms_accepted_at, created_at, expires_at, paid_at, "
            "delivered_at, buyer_id, product_id) VALUES (%s, 1, %s, %s, 0, %s, '', %s, %s, %s, %s, %s, %s, %s, %s, "
            "%s, %s) RETURNING id",
            (order_no, PRICE_FEN, PRICE_FEN, channel, status, snapshot, TERMS, now, now,
             now + dt.timedelta(minutes=15), paid, paid, buyer_id, product_id)).fetchone()[0]
        return order_no, order_id

    def _settle(self, cur, *, order_no, order_id, payment_id, source, now):
        journal = cur.execute(
            "INSERT INTO ledger_journal (reference, kind, at, memo, order_id, payment_id) "
            "VALUES (%s, 'order_settled', %s, '', %s, %s) RETURNING id",
            (f"settle:{order_no}", now, order_id, payment_id)).fetchone()[0]
        cur.execute(
            "INSERT INTO ledger_posting (amount_fen, account_id, journal_id) VALUES (%s, %s, %s), (%s, %s, %s), "
            "(%s, %s, %s)",
            (PRICE_FEN, source, journal, -(PRICE_FEN - self.commission), self.accounts["payable"], journal,
             -self.commission, self.accounts["commission"], journal))

    def wallet(self, *, buyer_id, wallet, product_id):
        now = dt.datetime.now(dt.UTC)
        payment_no = "Q" + now.strftime("%Y%m%d") + secrets.token_hex(6).upper()
        with self.conn.transaction():
            cur = self.conn.cursor()
            if cur.execute("UPDATE ledger_ledgeraccount SET running_fen = running_fen + %s WHERE id = %s "
                           "AND running_fen + %s <= 0", (PRICE_FEN, wallet, PRICE_FEN)).rowcount != 1:
                raise RuntimeError("insufficient balance")
            row = cur.execute(
                "UPDATE inventory_cardsecret SET status = 'issued' WHERE id = (SELECT id FROM inventory_cardsecret "
                "WHERE product_id = %s AND status = 'available' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) "
                "RETURNING id", (product_id,)).fetchone()
            if row is None:
                raise RuntimeError("out of stock")
            order_no, order_id = self._order(cur, buyer_id=buyer_id, product_id=product_id, channel="wallet",
                                             status="delivered", now=now)
            item_id = cur.execute("INSERT INTO orders_orderitem (position, status, delivered_at, order_id) "
                                  "VALUES (1, 'delivered', %s, %s) RETURNING id", (now, order_id)).fetchone()[0]
            cur.execute("INSERT INTO inventory_keyissue (issued_at, order_item_id, secret_id) VALUES (%s, %s, %s)",
                        (now, item_id, row[0]))
            payment_id = cur.execute(
                "INSERT INTO payments_payment (payment_no, purpose, channel, amount_fen, status, trade_no, "
                "created_at, paid_at, order_id, payer_id, gateway, pay_url, code_url) "
                "VALUES (%s, 'order', 'wallet', %s, 'succeeded', %s, %s, %s, %s, %s, '', '', '') RETURNING id",
                (payment_no, PRICE_FEN, f"WALLET-{payment_no}", now, now, order_id, buyer_id)).fetchone()[0]
            self._settle(cur, order_no=order_no, order_id=order_id, payment_id=payment_id, source=wallet, now=now)
            cur.execute("INSERT INTO orders_orderevent (order_id, at, actor, event, note) VALUES "
                        "(%s, %s, %s, 'created', ''), (%s, %s, 'gateway:wallet', 'paid', %s), "
                        "(%s, %s, 'system', 'delivered', '1 item(s)')",
                        (order_id, now, f"buyer:{buyer_id}", order_id, now, payment_no, order_id, now))

    def gateway(self, *, buyer_id, wallet, product_id):
        now = dt.datetime.now(dt.UTC)
        payment_no = "Q" + now.strftime("%Y%m%d") + secrets.token_hex(6).upper()
        with self.conn.transaction():  # the order, its held key and a pending payment
            cur = self.conn.cursor()
            cur.execute("SELECT id FROM accounts_user WHERE id = %s FOR UPDATE", (buyer_id,))
            cur.execute("SELECT count(*) FROM orders_order WHERE buyer_id = %s AND status = 'pending_payment' "
                        "AND expires_at > %s", (buyer_id, now))
            order_no, order_id = self._order(cur, buyer_id=buyer_id, product_id=product_id, channel="alipay",
                                             status="pending_payment", now=now)
            if cur.execute(
                    "UPDATE inventory_cardsecret SET status = 'reserved', reserved_order_id = %s WHERE id = "
                    "(SELECT id FROM inventory_cardsecret WHERE product_id = %s AND status = 'available' ORDER BY id "
                    "LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id", (order_id, product_id)).fetchone() is None:
                raise RuntimeError("out of stock")
            item_id = cur.execute("INSERT INTO orders_orderitem (position, status, order_id) VALUES (1, 'pending', %s) "
                                  "RETURNING id", (order_id,)).fetchone()[0]
            cur.execute("INSERT INTO orders_orderevent (order_id, at, actor, event, note) VALUES "
                        "(%s, %s, %s, 'created', '')", (order_id, now, f"buyer:{buyer_id}"))
            payment_id = cur.execute(
                "INSERT INTO payments_payment (payment_no, purpose, channel, amount_fen, status, trade_no, "
                "created_at, expires_at, order_id, payer_id, gateway, pay_url, code_url) "
                "VALUES (%s, 'order', 'alipay', %s, 'pending', NULL, %s, %s, %s, %s, 'sandbox', '', '') RETURNING id",
                (payment_no, PRICE_FEN, now, now + dt.timedelta(minutes=15), order_id, buyer_id)).fetchone()[0]
        trade_no = "SBX" + secrets.token_hex(10).upper()
        with self.conn.transaction():  # the notification: taken once, booked, delivered, settled
            cur = self.conn.cursor()
            cur.execute("SELECT status FROM payments_payment WHERE id = %s FOR UPDATE", (payment_id,))
            cur.execute("SELECT 1 FROM payments_payment WHERE trade_no = %s AND id <> %s", (trade_no, payment_id))
            cur.execute("UPDATE payments_payment SET status = 'succeeded', trade_no = %s, paid_at = %s WHERE id = %s",
                        (trade_no, now, payment_id))
            journal = cur.execute(
                "INSERT INTO ledger_journal (reference, kind, at, memo, order_id, payment_id) "
                "VALUES (%s, 'payment_captured', %s, '', %s, %s) RETURNING id",
                (f"capture:{payment_no}", now, order_id, payment_id)).fetchone()[0]
            cur.execute("INSERT INTO ledger_posting (amount_fen, account_id, journal_id) VALUES (%s, %s, %s), "
                        "(%s, %s, %s)", (PRICE_FEN, self.accounts["clearing"], journal, -PRICE_FEN,
                                         self.accounts["escrow"], journal))
            cur.execute("SELECT id FROM orders_order WHERE id = %s FOR UPDATE", (order_id,))
            secret_id = cur.execute("UPDATE inventory_cardsecret SET status = 'issued', reserved_order_id = NULL "
                                    "WHERE reserved_order_id = %s AND status = 'reserved' RETURNING id",
                                    (order_id,)).fetchone()[0]
            cur.execute("INSERT INTO inventory_keyissue (issued_at, order_item_id, secret_id) VALUES (%s, %s, %s)",
                        (now, item_id, secret_id))
            cur.execute("UPDATE orders_orderitem SET status = 'delivered', delivered_at = %s WHERE id = %s",
                        (now, item_id))
            cur.execute("UPDATE orders_order SET status = 'delivered', paid_at = %s, delivered_at = %s WHERE id = %s",
                        (now, now, order_id))
            cur.execute("INSERT INTO orders_orderevent (order_id, at, actor, event, note) VALUES "
                        "(%s, %s, 'gateway:alipay', 'paid', %s), (%s, %s, 'system', 'delivered', '1 item(s)')",
                        (order_id, now, payment_no, order_id, now))
            self._settle(cur, order_no=order_no, order_id=order_id, payment_id=None, source=self.accounts["escrow"],
                         now=now)

    def close(self):
        self.conn.close()


def sql_worker_factory(env, buyers, wallet_accounts, accounts, products, supplier_id, concurrency, path, versions):
    def make(i):
        purchase = SqlPurchase(env, accounts, supplier_id, versions)
        mine = [b for b in range(i, len(buyers), concurrency)]
        turn = iter(range(10**9))

        def do(k):
            n = next(turn)
            buyer_id = buyers[mine[n % len(mine)]]["id"]
            getattr(purchase, path)(buyer_id=buyer_id, wallet=wallet_accounts[buyer_id],
                                    product_id=products[(i + n) % len(products)])
            return "ok"

        return do, purchase.close

    return make


# ---- a buyer with a long history --------------------------------------------------------------

HISTORY_SQL = """
WITH o AS (
  INSERT INTO orders_order (order_no, quantity, unit_price_fen, amount_fen, refunded_fen, channel, recharge_account,
                            status, {snapshot_column}, terms_text, terms_accepted_at, created_at, expires_at, paid_at,
                            delivered_at, buyer_id, product_id)
  SELECT 'H' || %(buyer)s || 'X' || g, 1, %(price)s, %(price)s, 0, 'wallet', '', 'delivered', {snapshot_value}, %(terms)s,
         t, t, t + interval '15 minutes', t, t, %(buyer)s, %(product)s
  FROM generate_series(1, %(n)s) g, LATERAL (SELECT now() - interval '400 days' + g * interval '5 minutes' AS t) x
  RETURNING id, order_no, created_at
), i AS (
  INSERT INTO orders_orderitem (position, status, delivered_at, order_id) SELECT 1, 'delivered', created_at, id FROM o
), e AS (
  INSERT INTO orders_orderevent (order_id, at, actor, event, note)
  SELECT id, created_at, 'system', ev, '' FROM o, unnest(ARRAY['created', 'paid', 'delivered']) ev
), p AS (
  INSERT INTO payments_payment (payment_no, purpose, channel, amount_fen, status, trade_no, created_at, paid_at,
                                order_id, payer_id, gateway, pay_url, code_url)
  SELECT 'HP' || order_no, 'order', 'wallet', %(price)s, 'succeeded', 'WALLET-HP' || order_no, created_at, created_at,
         id, %(buyer)s, '', '', '' FROM o
  RETURNING id, order_id, created_at
), j AS (
  INSERT INTO ledger_journal (reference, kind, at, memo, order_id, payment_id)
  SELECT 'settle:' || o.order_no, 'order_settled', o.created_at, '', o.id, p.id FROM o JOIN p ON p.order_id = o.id
  RETURNING id
)
INSERT INTO ledger_posting (amount_fen, account_id, journal_id)
SELECT v.fen, v.account, j.id FROM j, LATERAL (VALUES (%(price)s, %(wallet)s),
    (-(%(price)s - %(commission)s), %(payable)s), (-%(commission)s, %(commission_account)s)) v(fen, account)
"""


def give_history(env, *, buyer_id, wallet, product_id, supplier_id, accounts, n: int, version: int | None) -> None:
    """n past wallet purchases for one buyer, funded first so the book still balances and the wallet's
    running balance equals its postings."""
    commission = PRICE_FEN * COMMISSION_RATE_PERMILLE // 1000
    snap = json.dumps(dict(SNAPSHOT, product_id=product_id, supplier_id=supplier_id, captured_at="2025-10-01"))
    with env.connect() as conn:
        promotions = conn.execute("SELECT id FROM ledger_ledgeraccount WHERE code = 'promotions'").fetchone()[0]
        journal = conn.execute("INSERT INTO ledger_journal (reference, kind, at, memo) VALUES (%s, 'promotion', now(), "
                               "'') RETURNING id", (f"bench-history-grant:{buyer_id}",)).fetchone()[0]
        conn.execute("INSERT INTO ledger_posting (amount_fen, account_id, journal_id) VALUES (%s, %s, %s), (%s, %s, %s)",
                     (n * PRICE_FEN, promotions, journal, -n * PRICE_FEN, wallet, journal))
        sql = HISTORY_SQL.replace("{snapshot_column}", "snapshot" if version is None else "snapshot_version_id").replace(
            "{snapshot_value}", "%(snap)s::jsonb" if version is None else "%(version)s")
        conn.execute(sql, {"version": version, "buyer": buyer_id, "price": PRICE_FEN, "snap": snap, "terms": TERMS,
                                   "product": product_id, "n": n, "wallet": wallet, "commission": commission,
                                   "payable": accounts["payable"], "commission_account": accounts["commission"]})
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE")
        count = conn.execute("SELECT count(*) FROM ledger_posting WHERE account_id = %s", (wallet,)).fetchone()[0]
    log(f"buyer {buyer_id} now has {n} past purchases ({count} postings on the wallet)")


# ---- the run ---------------------------------------------------------------------------------------


def summarize(phases: list[dict], name: str, clients: int) -> dict:
    chosen = [p for p in phases if p["phase"] == name and p["clients"] == clients]
    ok = sum(p["ok"] for p in chosen)
    elapsed = sum(p["elapsed"] for p in chosen)
    statuses = Counter()
    for p in chosen:
        statuses.update(p["statuses"])
    return {"ok": ok, "rate": ok / elapsed if elapsed else 0.0, "rates": [p["rate"] for p in chosen],
            "p50s": [p["p50"] for p in chosen], "p99s": [p["p99"] for p in chosen], "statuses": dict(statuses),
            "server_cpu": [p["server_cpu_ms"] for p in chosen], "pg_cpu": [p["pg_cpu_ms"] for p in chosen],
            "loads": [p["load"] for p in chosen]}


def _redis_up(url: str) -> bool:
    if not url:
        return False
    try:
        import redis

        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except Exception:  # noqa: BLE001 — no package or no server: run without a shared cache
        return False


def main(argv=None) -> int:
    args = parse_args(argv)
    client_counts = [int(c) for c in args.clients.split(",")]
    paths = [p for p in args.paths.split(",") if p]
    top = max(client_counts)
    if args.buyers < top:
        sys.exit("--buyers must be at least the highest client count (each client has its own buyers)")
    per_round = sum(args.requests if c == top else args.requests_single for c in client_counts) * len(paths)
    needed = per_round * args.rounds + (2 * args.requests_single * len(paths) if args.history else 0)
    stock = needed // args.products + 200
    info = machine_info(args.pg)
    cache_url = args.cache_url if _redis_up(args.cache_url) else ""
    if args.cache_url and not cache_url:
        log(f"no Redis at {args.cache_url}: the server runs without a shared cache")
    per_buyer = 2 * needed + 100  # both sides draw on the same wallets; fund far beyond the run
    secret = secrets.token_hex(32)  # the sandbox gateway's signing secret, given to the server
    with BenchEnv(args.pg, prefix="purchase", keep=args.keep, sandbox=True) as env:
        env.env["KAMENG_SANDBOX_SECRET"] = secret
        if cache_url:
            env.env["KAMENG_CACHE_URL"] = cache_url
            env.env["KAMENG_CACHE_PREFIX"] = f"bench-{secrets.token_hex(4)}"
        t = time.perf_counter()
        setup = setup_users(env, buyers=args.buyers + 1, products=2 * args.products, price="1.00",
                            fund_fen=per_buyer * PRICE_FEN, password=PASSWORD)
        log(f"users and wallets in {time.perf_counter() - t:.1f} s")
        server, port = env.start_server(no_worker=True, workers=args.workers)
        supplier_token = login(port, setup["supplier"]["username"], PASSWORD)
        http_products = setup["products"][: args.products]
        sql_products = setup["products"][args.products:]
        t = time.perf_counter()
        for product_id in setup["products"]:
            stock_keys(port, supplier_token, product_id, stock, "H" if product_id in http_products else "S")
        log(f"stocked {stock} keys on each of {len(setup['products'])} products in {time.perf_counter() - t:.1f} s")
        history_buyer, buyers = setup["buyers"][-1], setup["buyers"][:-1]
        tokens = login_all(port, [b["username"] for b in buyers], PASSWORD)
        with env.connect() as conn:
            conn.execute("INSERT INTO ledger_ledgeraccount (code, kind) VALUES ('clearing:alipay', 'asset') "
                         "ON CONFLICT DO NOTHING")
            rows = conn.execute("SELECT code, id FROM ledger_ledgeraccount").fetchall()
            conn.commit()
            conn.autocommit = True
            conn.execute("ANALYZE")
        codes = dict(rows)
        wallet_accounts = {b["id"]: codes[f"wallet:{b['id']}"] for b in setup["buyers"]}
        accounts = {"escrow": codes["escrow"], "commission": codes["commission"], "clearing": codes["clearing:alipay"],
                    "payable": codes[f"payable:{setup['supplier']['id']}"]}
        versions = snapshot_versions(env, sql_products + http_products[:1], setup["supplier"]["id"])
        meter = CpuMeter(env, server.pid)

        def http_phase(path, clients, n, who=tokens):
            return run_phase(f"http-{path}", clients, n,
                             http_worker_factory(port, who, http_products, clients, path, secret),
                             args.time_limit, meter)

        def sql_phase(path, clients, n, who=buyers):
            return run_phase(f"sql-{path}", clients, n,
                             sql_worker_factory(env, who, wallet_accounts, accounts, sql_products,
                                                setup["supplier"]["id"], clients, path, versions),
                             args.time_limit, meter)

        # warm-up: every server process and thread imports its code, opens its connections, caches tokens
        for path in paths:
            run_phase("warmup", top, min(100, args.requests),
                      http_worker_factory(port, tokens, http_products, top, path, secret), args.time_limit, meter)

        marks = env.log_marks()  # server errors are counted from here on
        phases = []
        for r in range(args.rounds):
            log(f"round {r + 1}/{args.rounds}, load average {os.getloadavg()}")
            for clients in client_counts:
                n = args.requests if clients == top else args.requests_single
                for path in paths:
                    phases.append(sql_phase(path, clients, n))
                    phases.append(http_phase(path, clients, n))

        history_phases = []
        if args.history:
            give_history(env, buyer_id=history_buyer["id"], wallet=wallet_accounts[history_buyer["id"]],
                         product_id=http_products[0], supplier_id=setup["supplier"]["id"], accounts=accounts,
                         n=args.history, version=versions[http_products[0]] if versions else None)
            heavy = login_all(port, [history_buyer["username"]], PASSWORD)
            for path in paths:  # the same buyer-count (one) and client count (one), fresh and with history
                for _ in range(2):
                    history_phases.append(dict(http_phase(path, 1, args.requests_single, who=tokens[:1]),
                                               phase=f"fresh-{path}"))
                    history_phases.append(dict(http_phase(path, 1, args.requests_single, who=heavy),
                                               phase=f"history-{path}"))

        meter.close()
        with env.connect() as conn:
            double = conn.execute("SELECT count(*) FROM (SELECT secret_id FROM inventory_keyissue "
                                  "WHERE returned_at IS NULL GROUP BY secret_id HAVING count(*) > 1) d").fetchone()[0]
            unbalanced = conn.execute("SELECT count(*) FROM (SELECT journal_id FROM ledger_posting GROUP BY journal_id "
                                      "HAVING sum(amount_fen) <> 0) u").fetchone()[0]
            drift = conn.execute("SELECT count(*) FROM ledger_ledgeraccount a WHERE running_fen IS NOT NULL AND "
                                 "running_fen <> (SELECT coalesce(sum(amount_fen), 0) FROM ledger_posting p "
                                 "WHERE p.account_id = a.id)").fetchone()[0]
            undelivered = conn.execute("SELECT count(*) FROM orders_order WHERE status NOT IN ('delivered', "
                                       "'pending_payment')").fetchone()[0]
        errors = env.server_errors(since=marks)

    lines = [
        f"{args.products} products, {args.buyers} buyers, clients {client_counts}, {args.requests} purchases per phase "
        f"per round at {top} clients and {args.requests_single} at 1, {args.rounds} interleaved rounds, "
        f"server workers {args.workers or 'default'}, KAMENG_SANDBOX=1, shared cache "
        f"{'Redis' if cache_url else 'none'}; load average during the phases "
        f"{min(p['load'] for p in phases):.1f}–{max(p['load'] for p in phases):.1f}",
    ]
    if args.note:
        lines.append(f"note: {args.note}")
    lines += [
        "",
        "| path | clients | side | purchases/s (per round) | p50 (per round) | p99 (per round) | server CPU ms/purchase | "
        "PostgreSQL CPU ms/purchase | statuses |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    verdicts = []
    for path in paths:
        for clients in client_counts:
            base, http = summarize(phases, f"sql-{path}", clients), summarize(phases, f"http-{path}", clients)
            for side, s in (("raw SQL", base), ("HTTP", http)):
                cpu = ", ".join(f"{x:.1f}" for x in s["server_cpu"]) if side == "HTTP" else "—"
                lines.append(
                    f"| {path} | {clients} | {side} | **{s['rate']:.1f}** ({', '.join(f'{x:.1f}' for x in s['rates'])}) | "
                    f"{', '.join(ms(x) for x in s['p50s'])} | {', '.join(ms(x) for x in s['p99s'])} | {cpu} | "
                    f"{', '.join(f'{x:.1f}' for x in s['pg_cpu'])} | {s['statuses']} |")
            ratios = [h / b for h, b in zip(http["rates"], base["rates"], strict=True) if b]
            ratio = http["rate"] / base["rate"] if base["rate"] else 0.0
            verdicts.append((path, clients, ratio, ratios, max(http["p99s"]) if http["p99s"] else float("nan")))
    lines.append("")
    for path, clients, ratio, ratios, p99 in verdicts:
        goal = f" (goal >= {GOAL}: {'met' if ratio >= GOAL else 'MISSED'})" if clients == top else ""
        lines.append(f"- {path}, {clients} client(s): HTTP / raw SQL **{ratio:.2f}** "
                     f"(per round {', '.join(f'{x:.2f}' for x in ratios)}){goal}; worst-round p99 {ms(p99)}")
    if history_phases:
        lines += ["", f"After one buyer has {args.history:,} past purchases (1 client, that buyer alone, beside a fresh "
                      "buyer, two alternations):", "",
                  "| path | buyer | purchases/s (per run) | p50 | p99 | server CPU ms/purchase |", "|---|---|---|---|---|---|"]
        for path in paths:
            for who in ("fresh", "history"):
                chosen = [p for p in history_phases if p["phase"] == f"{who}-{path}"]
                rates = ", ".join(f"{p['rate']:.1f}" for p in chosen)
                lines.append(f"| {path} | {who} | {rates} | {', '.join(ms(p['p50']) for p in chosen)} | "
                             f"{', '.join(ms(p['p99']) for p in chosen)} | "
                             f"{', '.join(f'{p['server_cpu_ms']:.1f}' for p in chosen)} |")
    lines += ["", f"keys issued twice: {double}; unbalanced journals: {unbalanced}; wallets whose running balance "
                  f"drifted: {drift}; orders neither delivered nor awaiting payment: {undelivered}; "
                  f"server error lines during the run: {len(errors)}"]
    report("purchase_throughput", lines=lines, errors=errors, info=info, record_it=args.record)
    met = all(ratio >= GOAL for _, clients, ratio, _, _ in verdicts if clients == top)
    return 0 if met and not double and not unbalanced and not drift else 1


if __name__ == "__main__":
    sys.exit(main())
