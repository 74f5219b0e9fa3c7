#!/usr/bin/env python
"""A buyer's export (`GET /api/v1/me/export`) with 10,000 orders: time, size and the server's peak memory.

Setup (one Django process, set-based SQL): a supplier with one card product, one buyer, N delivered orders of one
item each with a real encrypted key (the platform's keyring, so the export decrypts N keys), a key issue, two order
events each and a wallet purchase journal each (wallet → escrow, plus one grant), R refunds (every 20th order) with
two timeline events and a message each, and one 站内信 per refund. Then `ANALYZE`.

Measured: `kameng serve --no-worker --workers 1`; one client downloads the whole export (streamed to a file), timed
from the request to the last byte. Memory: the worker process's resident set before the request and its high-water
mark (VmHWM, /proc) after it, so the peak is the kernel's own figure, not a sample. The archive is then checked with
`dossier_verify` and its files counted.
"""

import argparse
import http.client
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import BenchEnv, Http, add_common_args, log, machine_info, report  # noqa: E402

PASSWORD = "bench-password-1"

SETUP = r"""
import time
from django.db import connection, transaction
from kameng.accounts.models import User
from kameng.accounts.services import user_create
from kameng.aftersales.models import Refund, RefundEvent, RefundMessage
from kameng.catalog.services import product_create
from kameng.core import clock, crypto
from kameng.inventory.models import CardSecret, KeyIssue
from kameng.ledger.models import Journal, Posting
from kameng.ledger.services import Accounts, Line, account, journal_post
from kameng.notifications.models import InboxMessage
from kameng.orders.models import Order, OrderEvent, OrderItem
from kameng.orders.services import product_snapshot
from kameng.orders.policies import terms_text
import json

n = payload["orders"]
supplier = User.objects.create(username="bench_esupplier", password="!", role="supplier")
buyer = user_create(username="bench_ebuyer", password=payload["password"], role="buyer", phone="13800000000")
product = product_create(actor=supplier, name="bench 点卡 10 元", kind="card", price="10.00", face_value="10.00")
from kameng.orders.snapshots import version_for
snapshot = version_for(product_snapshot(product), product_id=product.id)  # one stored version for every order
now = clock.now()
t0 = time.monotonic()
secrets = [CardSecret(product=product, ciphertext=crypto.encrypt(f"BENCH-{k:06d}-ABCD-EFGH-IJKL"),
                      fingerprint=crypto.fingerprint_of(f"BENCH-{k:06d}-ABCD-EFGH-IJKL"), status="issued", created_at=now)
           for k in range(1, n + 1)]
encrypt_s = time.monotonic() - t0
T = {m.__name__: m._meta.db_table for m in (Order, OrderItem, OrderEvent, CardSecret, KeyIssue, Refund, RefundEvent,
                                            RefundMessage, InboxMessage, Journal, Posting)}
with transaction.atomic():
    CardSecret.objects.bulk_create(secrets, batch_size=2000)
    journal_post(reference="bench-grant", kind="promotion",
                 lines=[Line(Accounts.PROMOTIONS, n * 1000), Line(Accounts.wallet(buyer.id), -n * 1000)])
    wallet, escrow = account(Accounts.wallet(buyer.id)).id, account(Accounts.ESCROW).id
    with connection.cursor() as cur:
        p = {"buyer": buyer.id, "product": product.id, "snapshot": snapshot, "terms": terms_text(), "now": now, "n": n,
             "wallet": wallet, "escrow": escrow, "supplier": supplier.id}
        cur.execute(f'''
            INSERT INTO {T["Order"]} (order_no, buyer_id, product_id, quantity, unit_price_fen, amount_fen, refunded_fen,
                channel, recharge_account, status, snapshot_version_id, terms_text, terms_accepted_at, created_at, expires_at,
                paid_at, delivered_at)
            SELECT 'E' || lpad(k::text, 12, '0'), %(buyer)s, %(product)s, 1, 1000, 1000, 0, 'wallet', '', 'delivered',
                   %(snapshot)s, %(terms)s, t, t, t + interval '15 minutes', t, t + interval '2 seconds'
            FROM (SELECT k, %(now)s::timestamptz - k * interval '37 minutes' AS t FROM generate_series(1, %(n)s) k) s
        ''', p)
        cur.execute(f'''INSERT INTO {T["OrderItem"]} (order_id, position, status, delivered_at, first_revealed_at)
                        SELECT id, 1, 'delivered', delivered_at, NULL FROM {T["Order"]} WHERE buyer_id = %(buyer)s''', p)
        cur.execute(f'''
            INSERT INTO {T["KeyIssue"]} (secret_id, order_item_id, issued_at, returned_at)
            SELECT s.id, i.id, i.delivered_at, NULL
            FROM (SELECT id, row_number() OVER (ORDER BY id) r FROM {T["CardSecret"]} WHERE product_id = %(product)s) s
            JOIN (SELECT i.id, i.delivered_at, row_number() OVER (ORDER BY i.id) r FROM {T["OrderItem"]} i
                  JOIN {T["Order"]} o ON o.id = i.order_id WHERE o.buyer_id = %(buyer)s) i ON i.r = s.r
        ''', p)
        cur.execute(f'''
            INSERT INTO {T["OrderEvent"]} (order_id, at, actor, event, note)
            SELECT id, paid_at, 'buyer:bench_ebuyer', 'paid', 'wallet' FROM {T["Order"]} WHERE buyer_id = %(buyer)s
            UNION ALL
            SELECT id, delivered_at, 'system', 'delivered', '1 item' FROM {T["Order"]} WHERE buyer_id = %(buyer)s
        ''', p)
        cur.execute(f'''
            INSERT INTO {T["Journal"]} (reference, kind, at, order_id, payment_id, memo)
            SELECT 'bench-capture:' || order_no, 'payment_captured', paid_at, id, NULL, ''
            FROM {T["Order"]} WHERE buyer_id = %(buyer)s
        ''', p)
        cur.execute(f'''
            INSERT INTO {T["Posting"]} (journal_id, account_id, amount_fen)
            SELECT id, %(wallet)s, 1000 FROM {T["Journal"]} WHERE reference LIKE 'bench-capture:%%'
            UNION ALL
            SELECT id, %(escrow)s, -1000 FROM {T["Journal"]} WHERE reference LIKE 'bench-capture:%%'
        ''', p)
        cur.execute(f'''
            INSERT INTO {T["Refund"]} (refund_no, order_id, buyer_id, reason, description, destination, status,
                amount_fen, fee_fen, refund_amount_fen, fee_rate, needs_evidence, liable, submitted_at, sla_due_at,
                escalated, reject_reason_code, decision_note, appeal_description, closed_reason, supplier_answer,
                supplier_note, decided_at)
            SELECT 'RE' || substr(order_no, 2), id, buyer_id, 'invalid_key',
                   '兑换页面提示卡密无效，附截图。', 'original', 'rejected', 1000, 0, 1000, '0', false, 'supplier',
                   delivered_at + interval '1 hour', delivered_at + interval '3 days', false, 'insufficient_evidence',
                   '截图无法说明问题', '', '', '', '', delivered_at + interval '5 hours'
            FROM {T["Order"]} WHERE buyer_id = %(buyer)s AND substr(order_no, 2)::int %% 20 = 0
        ''', p)
        cur.execute(f'''
            INSERT INTO {T["RefundEvent"]} (refund_id, at, actor, event, note)
            SELECT id, submitted_at, 'buyer:bench_ebuyer', 'submitted', description FROM {T["Refund"]}
            UNION ALL
            SELECT id, decided_at, 'reviewer:bench', 'rejected', decision_note FROM {T["Refund"]}
        ''')
        cur.execute(f'''
            INSERT INTO {T["RefundMessage"]} (refund_id, author_id, author_role, kind, body, at)
            SELECT id, buyer_id, 'buyer', 'message', '换了设备也不行。', submitted_at + interval '1 minute' FROM {T["Refund"]}
        ''')
        cur.execute(f'''
            INSERT INTO {T["InboxMessage"]} (user_id, title, body, code, params, refund_id, created_at, read_at)
            SELECT buyer_id, '退款申请被驳回（' || refund_no || '）', '理由：截图无法说明问题。', '', '{{}}'::jsonb, id,
                   decided_at, NULL
            FROM {T["Refund"]}
        ''')
insert_s = time.monotonic() - t0
with connection.cursor() as cur:
    cur.execute("ANALYZE")
    cur.execute(f"SELECT count(*) FROM {T['Order']} WHERE buyer_id = %s", [buyer.id])
    orders = cur.fetchone()[0]
    cur.execute(f"SELECT count(*) FROM {T['Refund']}")
    refunds = cur.fetchone()[0]
result = {"encrypt_s": round(encrypt_s, 1), "insert_s": round(insert_s, 1), "orders": orders, "refunds": refunds}
"""

VERIFY = r"""
import json, zipfile
from kameng.aftersales.dossier import dossier_verify
from kameng.records.models import BuyerExport
data = open(payload["path"], "rb").read()
archive = zipfile.ZipFile(payload["path"])
manifest = json.loads(archive.read("manifest.json"))
row = BuyerExport.objects.get()
result = {"verified": dossier_verify(data), "files": len(archive.namelist()), "counts": manifest["counts"],
          "recorded_size": row.size, "status": row.status, "manifest_sha256": row.manifest_sha256}
"""


def _kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _workers(master: int) -> list[int]:
    children = []
    for task in Path(f"/proc/{master}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    return children


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=10_000, help="the buyer's orders (default %(default)s)")
    parser.add_argument("--target-mib", type=float, default=150, help="peak RSS target for the worker (MiB)")
    add_common_args(parser)
    args = parser.parse_args()
    info = machine_info(args.pg)
    info["load"] = " ".join(f"{x:.2f}" for x in os.getloadavg())

    with BenchEnv(args.pg, prefix="export", keep=args.keep, sandbox=True) as env:
        env.env["KAMENG_DB_STATEMENT_TIMEOUT"] = "3600"
        t0 = time.monotonic()
        setup = env.django(SETUP, {"orders": args.orders, "password": PASSWORD})
        setup_s = time.monotonic() - t0
        log(f"setup {setup_s:.1f} s: {setup}")
        env.env["KAMENG_DB_STATEMENT_TIMEOUT"] = "30"
        proc, port = env.start_server(no_worker=True, workers=1)
        token = Http(port).request("POST", "/api/v1/auth/token", {"username": "bench_ebuyer", "password": PASSWORD})[1]["token"]
        Http(port, token).request("GET", "/api/v1/wallet/history?limit=5")  # warm-up: imports, connection
        (worker,) = _workers(proc.pid)
        rss_before, hwm_before = _kib(worker, "VmRSS"), _kib(worker, "VmHWM")
        marks = env.log_marks()
        target = env.tmp / "export.zip"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        start = time.perf_counter()
        conn.request("GET", "/api/v1/me/export", headers={"Authorization": f"Bearer {token}"})
        answer = conn.getresponse()
        first_byte = None
        size = 0
        with open(target, "wb") as out:
            while block := answer.read1(64 * 1024):
                if first_byte is None:
                    first_byte = time.perf_counter() - start
                out.write(block)
                size += len(block)
        elapsed = time.perf_counter() - start
        status = answer.status
        conn.close()
        hwm_after = _kib(worker, "VmHWM")
        marks_errors = env.server_errors(marks)
        env.stop_server(proc)
        env.servers.remove(proc)
        checked = env.django(VERIFY, {"path": str(target)})
    log(f"export: {status} {size:,} bytes in {elapsed:.1f} s; RSS {rss_before / 1024:.0f} MiB before, "
        f"peak {hwm_after / 1024:.0f} MiB; {checked}")
    good = (status == 200 and checked["verified"] and checked["recorded_size"] == size
            and checked["counts"]["orders"] == setup["orders"] and hwm_after / 1024 <= args.target_mib)
    lines = [
        f"One buyer with {setup['orders']:,} delivered orders (one encrypted key each), {setup['refunds']:,} refunds "
        f"with timelines and messages, as many 站内信, {setup['orders'] + 1:,} wallet lines; setup {setup_s:.1f} s. "
        f"Load average at start: {info['load']}. `kameng serve --no-worker --workers 1`, one client, loopback.",
        "",
        "| orders | status | archive | first byte | whole download | worker RSS before | worker peak RSS (VmHWM) | "
        "peak before the request | files | verified |",
        "|---|---|---|---|---|---|---|---|---|---|",
        f"| {setup['orders']:,} | {status} | {size / 1e6:.1f} MB | {(first_byte or 0) * 1000:.0f} ms | {elapsed:.1f} s | "
        f"{rss_before / 1024:.0f} MiB | **{hwm_after / 1024:.0f} MiB** | {hwm_before / 1024:.0f} MiB | "
        f"{checked['files']} | {checked['verified']} |",
        "",
        f"Counts in the signed manifest: {checked['counts']}; recorded export: status {checked['status']}, size "
        f"{checked['recorded_size']:,}, manifest SHA-256 {checked['manifest_sha256'][:16]}…",
        "",
        f"- [{'x' if good else ' '}] 200, signature and every file verify, recorded size = bytes sent, all orders in, "
        f"worker peak <= {args.target_mib:.0f} MiB",
    ]
    report("export", lines=lines, errors=marks_errors, info=info, record_it=args.record)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
