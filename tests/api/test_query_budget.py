"""A wallet purchase's round trips to the database: a budget, so a slip on the hot path shows up here
before it shows up in bench/purchase_throughput.py. (Counts, not timings: these do not flake.)"""

from django.db import connection
from django.test.utils import CaptureQueriesContext

BUDGET = 30  # measured 27 on PostgreSQL on 2026-11-22 (was 56 before the clock pin and account cache)


def test_a_wallet_purchase_stays_within_its_query_budget(api_as, buyer, make_product, fund_wallet):
    fund_wallet(buyer, 100_000)
    product = make_product(keys=5)
    api = api_as(buyer)
    body = {"product_id": product.id, "quantity": 1, "channel": "wallet", "accept_terms": True}
    api.post("/orders", body)  # warm: the buyer's wallet and the product's accounts exist
    with CaptureQueriesContext(connection) as queries:
        response = api.post("/orders", body)
    assert response.status_code == 201 and response.json()["status"] == "delivered"
    testclock_reads = [q for q in queries.captured_queries if "core_testclock" in q["sql"]]
    assert len(testclock_reads) <= 1, "the test clock is read once per request"
    assert len(queries.captured_queries) <= BUDGET, "\n".join(q["sql"][:120] for q in queries.captured_queries)


def test_a_wallet_purchase_does_not_sum_the_buyers_history(api_as, buyer, make_product, fund_wallet):
    """The balance is read from the wallet's own row under its lock, not summed over every past posting:
    a buyer with 100,000 purchases would otherwise pay for all of them inside the lock."""
    for _ in range(20):  # a history: each grant is one more posting on the wallet
        fund_wallet(buyer, 1_000)
    product = make_product(keys=3, price="10.00")
    api = api_as(buyer)
    body = {"product_id": product.id, "quantity": 1, "channel": "wallet", "accept_terms": True}
    with CaptureQueriesContext(connection) as queries:
        response = api.post("/orders", body)
    assert response.status_code == 201 and response.json()["status"] == "delivered"
    sums_over_postings = [q["sql"] for q in queries.captured_queries
                          if "SUM(" in q["sql"].upper() and "ledger_posting" in q["sql"]]
    assert sums_over_postings == []
    assert api.get("/wallet").json()["balance"] == "190.00"  # 20 × 10.00 granted, one 10.00 key bought
