"""Where a wallet purchase spends its time: cProfile of `POST /api/v1/orders` in one process (Django test
client, full middleware + API + services) on a fresh PostgreSQL database, plus the SQL it sends.

Not a throughput figure — a diagnosis to read beside bench/purchase_throughput.py.

    .venv/bin/python bench/profile_order.py --orders 300 --stock 20000
"""

import argparse
import sys

from _common import BenchEnv, add_common_args, log, setup_users

PROFILE = r"""
import cProfile, io, json, pstats, time
from django.db import connection, reset_queries
from django.test import Client
from django.test.utils import CaptureQueriesContext
from kameng.accounts.services import token_issue
from kameng.inventory.services import keys_import_list
from kameng.accounts.models import User

supplier = User.objects.get(id=payload["supplier"])
product = payload["product"]
for start in range(0, payload["stock"], 10000):
    keys_import_list(actor=supplier, product_id=product,
                     keys=[f"PROF-{product}-{i:08d}" for i in range(start, min(payload["stock"], start + 10000))])
token, _ = token_issue(username=payload["buyer"], password=payload["password"])
client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
body = json.dumps({"product_id": product, "quantity": 1, "channel": "wallet", "accept_terms": True})
def buy():
    r = client.post("/api/v1/orders", body, content_type="application/json")
    assert r.status_code == 201, r.content
for _ in range(20):
    buy()
with CaptureQueriesContext(connection) as ctx:
    buy()
queries = [(q["time"], q["sql"][:160]) for q in ctx.captured_queries]
n = payload["orders"]
profiler = cProfile.Profile()
t = time.perf_counter()
profiler.enable()
for _ in range(n):
    buy()
profiler.disable()
elapsed = time.perf_counter() - t
out = io.StringIO()
stats = pstats.Stats(profiler, stream=out)
stats.sort_stats("cumulative").print_stats(45)
stats.sort_stats("tottime").print_stats(25)
result = {"per_order_ms": elapsed / n * 1000, "queries": queries, "profile": out.getvalue()}
"""


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--stock", type=int, default=20000, help="keys in stock while buying (default %(default)s)")
    add_common_args(parser)
    args = parser.parse_args(argv)
    with BenchEnv(args.pg, prefix="profile", keep=args.keep) as env:
        setup = setup_users(env, buyers=1, products=1, price="1.00", fund_fen=(args.orders + 50) * 100,
                            password="bench-pass-123")
        log("profiling")
        result = env.django(PROFILE, {"supplier": setup["supplier"]["id"], "product": setup["products"][0],
                                      "buyer": setup["buyers"][0]["username"], "password": "bench-pass-123",
                                      "orders": args.orders, "stock": args.stock})
    print(f"one process, sequential: {result['per_order_ms']:.1f} ms per order (with cProfile overhead)")
    print(f"\n{len(result['queries'])} SQL statements for one order:")
    for seconds, sql in result["queries"]:
        print(f"  {float(seconds) * 1000:6.2f} ms  {sql}")
    print(result["profile"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
