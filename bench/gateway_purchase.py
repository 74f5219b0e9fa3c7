"""Purchase through the Alipay path (fake Alipay over HTTP, real RSA2 signing) beside the sandbox path,
in the same run, against `kameng serve --no-worker`: the cost of RSA signing and verification on the
hot path.

One purchase = create the order, then pay it:
- sandbox: `POST /api/v1/orders` (channel `wechat`, served by the sandbox gateway: no gateway call) and
  `POST /api/v1/sandbox/payments/{no}/pay` (HMAC-signed notification handled in-process);
- alipay:  `POST /api/v1/orders?device=qr` (the server signs `alipay.trade.precreate` with RSA2, calls the
  fake Alipay over HTTP, verifies its RSA2-signed answer) and `POST /api/v1/payments/notify/alipay`
  with the fake's RSA2-signed notification (verified by the server, then the payment is taken).

The fake Alipay runs in this process (tests/payments/fakes), so its own signing competes for the same
two cores as the server: on a real deployment that work is Alipay's. Phases alternate
(sandbox, alipay, sandbox, alipay, ...), the same number of concurrent clients, each purchase timed from
order to paid; the order must be `delivered` afterwards.

    .venv/bin/python bench/gateway_purchase.py                # 8 buyers, 4 clients, 2 rounds x 200 per phase
    .venv/bin/python bench/gateway_purchase.py --record
"""

import argparse
import http.client
import sys

from _common import (
    ROOT,
    BenchEnv,
    Http,
    add_common_args,
    log,
    login,
    login_all,
    machine_info,
    ms,
    report,
    setup_users,
    stock_keys,
)
from purchase_throughput import run_phase, summarize

sys.path.insert(0, str(ROOT))
from tests.payments.fakes.alipay_server import APP_ID, FakeAlipay  # noqa: E402
from tests.payments.fakes.common import KeyPair  # noqa: E402

PASSWORD = "bench-pass-123"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--buyers", type=int, default=8)
    parser.add_argument("--concurrency", "-c", type=int, default=4)
    parser.add_argument("--requests", "-n", type=int, default=200, help="purchases per phase per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=None, help="kameng serve --workers (default: its own)")
    parser.add_argument("--time-limit", type=float, default=120)
    add_common_args(parser)
    return parser.parse_args(argv)


class Notifier:
    """Posts the fake's notifications to the server, as Alipay does (one keep-alive connection per client)."""

    def __init__(self, port: int):
        self.port = port
        self.conn = None

    def post(self, body: bytes) -> tuple[int, bytes]:
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request("POST", "/api/v1/payments/notify/alipay", body=body, headers=FORM)
                answer = self.conn.getresponse()
                return answer.status, answer.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self):
        if self.conn is not None:
            self.conn.close()


def worker_factory(port, tokens, product_id, concurrency, path: str, fake: FakeAlipay | None):
    def make(i):
        clients = [Http(port, tokens[b]) for b in range(i, len(tokens), concurrency)]
        notifier = Notifier(port)
        channel = "alipay" if path == "alipay" else "wechat"
        body = {"product_id": product_id, "quantity": 1, "channel": channel, "accept_terms": True}
        turn = iter(range(10**9))

        def do(k):
            client = clients[next(turn) % len(clients)]
            status, order = client.request("POST", "/api/v1/orders" + ("?device=qr" if path == "alipay" else ""), body)
            if status != 201:
                return f"order {status} {(order or {}).get('error', {}).get('code', '')}"
            no = order["payment"]["payment_no"]
            if path == "alipay":
                if not order["payment"].get("code_url"):
                    return "no code_url"
                notification = fake.pay(no, deliver=False)  # already the form body Alipay posts
                status, answer = notifier.post(notification)
                return "ok" if (status, answer) == (200, b"success") else f"notify {status} {answer[:20]!r}"
            status, answer = client.request("POST", f"/api/v1/sandbox/payments/{no}/pay")
            return "ok" if status == 200 and answer.get("order_status") == "delivered" else f"pay {status}"

        def close():
            for c in clients:
                c.close()
            notifier.close()

        return do, close

    return make


def main(argv=None) -> int:
    args = parse_args(argv)
    info = machine_info(args.pg)
    app_key, alipay_key = KeyPair.generate(), KeyPair.generate()
    fake = FakeAlipay(app_key, alipay_key)
    total = args.requests * args.rounds * 2 + 100
    with BenchEnv(args.pg, prefix="gateway", keep=args.keep, sandbox=True) as env:
        env.env.update(KAMENG_ALIPAY_APP_ID=APP_ID, KAMENG_ALIPAY_APP_PRIVATE_KEY=app_key.private_pem,
                       KAMENG_ALIPAY_PUBLIC_KEY=alipay_key.public_pem, KAMENG_ALIPAY_GATEWAY=fake.gateway,
                       KAMENG_PUBLIC_URL="http://127.0.0.1:1")  # the bench posts the notifications itself
        setup = setup_users(env, buyers=args.buyers, products=2, price="1.00", fund_fen=0, password=PASSWORD)
        server, port = env.start_server(no_worker=True, workers=args.workers)
        supplier_token = login(port, setup["supplier"]["username"], PASSWORD)
        sandbox_product, alipay_product = setup["products"]
        for product_id, tag in ((sandbox_product, "S"), (alipay_product, "A")):
            stock_keys(port, supplier_token, product_id, total, tag)
        tokens = login_all(port, [b["username"] for b in setup["buyers"]], PASSWORD)
        factories = {
            "sandbox": worker_factory(port, tokens, sandbox_product, args.concurrency, "sandbox", None),
            "alipay": worker_factory(port, tokens, alipay_product, args.concurrency, "alipay", fake),
        }
        for name in ("sandbox", "alipay"):  # warm-up: imports, connections, key parsing
            run_phase(f"warm-{name}", args.concurrency, 40, factories[name], args.time_limit)
        marks = env.log_marks()
        phases = []
        for r in range(args.rounds):
            log(f"round {r + 1}/{args.rounds}")
            for name in ("sandbox", "alipay"):
                phases.append(run_phase(name, args.concurrency, args.requests, factories[name], args.time_limit))
        with env.connect() as conn:
            rows = dict(conn.execute(
                "SELECT channel, count(*) FROM orders_order WHERE status = 'delivered' GROUP BY channel").fetchall())
            captured = conn.execute("SELECT count(*) FROM ledger_journal WHERE kind = 'payment_captured'").fetchone()[0]
        errors = env.server_errors(since=marks)
    fake.close()

    sandbox, alipay = summarize(phases, "sandbox"), summarize(phases, "alipay")
    per = (1 / alipay["rate"] - 1 / sandbox["rate"]) * 1000 if alipay["rate"] and sandbox["rate"] else float("nan")
    lines = [
        f"buyers {args.buyers}, concurrency {args.concurrency}, {args.requests} purchases per phase x {args.rounds} "
        f"rounds (alternating sandbox/alipay), server workers {args.workers or 'default'}, KAMENG_SANDBOX=1 "
        "(wechat served by the sandbox, alipay by the fake Alipay)",
        "",
        "| path | purchases | purchases/s (per round) | p50 order→paid (per round) | p99 (per round) | statuses |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in (("sandbox (HMAC)", sandbox), ("alipay (RSA2, fake Alipay over HTTP)", alipay)):
        lines.append(
            f"| {name} | {s['ok']} | **{s['rate']:.1f}** ({', '.join(f'{x:.1f}' for x in s['rates'])}) | "
            f"{', '.join(ms(x) for x in s['p50s'])} | {', '.join(ms(x) for x in s['p99s'])} | {s['statuses']} |")
    lines += [
        "",
        f"alipay / sandbox throughput: **{alipay['rate'] / sandbox['rate']:.2f}**; extra wall time per purchase at "
        f"this concurrency ≈ {per:.1f} ms (RSA2: our precreate signature, verifying the fake's answer and its "
        f"notification; plus the fake's own signing on the same CPUs)",
        f"delivered orders by channel {rows}; payment_captured journals {captured}; server error lines {len(errors)}",
    ]
    report("gateway_purchase", lines=lines, errors=errors, info=info, record_it=args.record)
    ok = not errors and sandbox["statuses"].keys() <= {"ok"} and alipay["statuses"].keys() <= {"ok"}
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
