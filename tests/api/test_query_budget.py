"""A wallet purchase's round trips to the database: a budget, so a slip on the hot path shows up here
before it shows up in bench/purchase_throughput.py. (Counts, not timings: these do not flake.)"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

# Measured 13 on PostgreSQL and SQLite on 2026-11-24 with a shared cache (27 on 2026-11-22, 56 before
# the clock pin and account cache): test clock, product, the transaction's two ends, wallet debit,
# keys taken, order, items, key issues, payment, journal, postings, events. Without a shared cache the
# token lookup adds one. (Here the test's own transaction holds the clock read; a server with Redis
# reads it from the cache.)
BUDGET = 13
LOCAL_SHARED_CACHE = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "shared": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "budget"},
}


@pytest.mark.parametrize("shared_cache", [True, False], ids=["shared-cache", "no-cache"])
def test_a_wallet_purchase_stays_within_its_query_budget(api_as, buyer, make_product, fund_wallet, settings,
                                                         shared_cache, django_capture_on_commit_callbacks):
    if shared_cache:
        settings.CACHES = LOCAL_SHARED_CACHE
    fund_wallet(buyer, 100_000)
    product = make_product(keys=5)
    api = api_as(buyer)
    body = {"product_id": product.id, "quantity": 1, "channel": "wallet", "accept_terms": True}
    # Warm, as a running server is: the buyer's wallet and the product's accounts exist, the token is
    # cached, and what is remembered once committed (account ids, the product's snapshot version) is.
    with django_capture_on_commit_callbacks(execute=True):
        api.post("/orders", body)
    with CaptureQueriesContext(connection) as queries:
        response = api.post("/orders", body)
    assert response.status_code == 201 and response.json()["status"] == "delivered"
    sql = [q["sql"] for q in queries.captured_queries]
    assert len([q for q in sql if "core_testclock" in q]) <= 1, "the test clock is read once per request"
    token_reads = [q for q in sql if "accounts_apitoken" in q]
    assert len(token_reads) == (0 if shared_cache else 1), "a cached token costs no query"
    assert len(sql) <= BUDGET + (0 if shared_cache else 1), "\n".join(q[:120] for q in sql)


def test_the_test_clock_is_not_read_with_the_sandbox_off(api_as, buyer, make_product, fund_wallet, settings):
    fund_wallet(buyer, 100_000)
    product = make_product(keys=2)
    settings.KAMENG_SANDBOX = False
    api = api_as(buyer)
    with CaptureQueriesContext(connection) as queries:
        response = api.post("/orders", {"product_id": product.id, "quantity": 1, "channel": "wallet",
                                        "accept_terms": True})
    assert response.status_code == 201
    assert not [q for q in queries.captured_queries if "core_testclock" in q["sql"]]


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


# The gateway path, measured 12 and 17 on 2026-11-24 on both databases with a shared cache (the
# notification was 19 while it booked a capture journal before the settlement): the order (test clock,
# product, the transaction's two ends, buyer's lock, unpaid count, order, keys held, items, event,
# payment, its checkout) and the signed notification (the transaction's two ends, payment locked, trade
# number unused, test clock, payment taken, order locked, product, pending items, keys issued, key
# issues, items delivered, ONE journal and its postings, order saved, events, the audit line).
GATEWAY_ORDER_BUDGET = 12
GATEWAY_NOTIFICATION_BUDGET = 17


def test_a_gateway_purchase_stays_within_its_query_budget(api_as, buyer, make_product, settings,
                                                          django_capture_on_commit_callbacks):
    from kameng.payments.gateways import sandbox

    settings.CACHES = LOCAL_SHARED_CACHE
    product = make_product(keys=5)
    api = api_as(buyer)
    body = {"product_id": product.id, "quantity": 1, "channel": "alipay", "accept_terms": True}

    def buy():
        # Each request's statements are read before the next request: a request clears the log.
        with CaptureQueriesContext(connection) as order_queries, django_capture_on_commit_callbacks(execute=True):
            order = api.post("/orders", body).json()
        order_sql = [q["sql"] for q in order_queries.captured_queries]
        fields = sandbox.notification_for(payment_no=order["payment"]["payment_no"], amount=order["amount"])
        with CaptureQueriesContext(connection) as notify_queries, django_capture_on_commit_callbacks(execute=True):
            answer = api.client.post("/api/v1/payments/notify/sandbox", fields)
        notify_sql = [q["sql"] for q in notify_queries.captured_queries]
        assert answer.status_code == 200
        assert api.get(f"/orders/{order['order_no']}").json()["status"] == "delivered"
        return order_sql, notify_sql

    buy()  # warm, as a running server is
    order_sql, notify_sql = buy()
    assert len(order_sql) <= GATEWAY_ORDER_BUDGET, "\n".join(q[:120] for q in order_sql)
    assert len(notify_sql) <= GATEWAY_NOTIFICATION_BUDGET, "\n".join(q[:120] for q in notify_sql)
