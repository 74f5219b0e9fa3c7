"""Token → user from a shared cache: no query on the hot path, and every ending of a token (logout, new
password, a password set in the admin, deactivation) refused at the very next request.

The Redis tests use two separate cache clients (two connection pools: what two `kameng serve` processes
have), one revoking and the other checking; they run when Redis answers on KAMENG_TEST_REDIS_URL
(default redis://127.0.0.1:6379/15), and are skipped where there is none.
"""

import json
import os
import secrets
from datetime import timedelta

import pytest
from django.core.cache import caches
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from kameng.accounts.services import token_issue, token_revoke, token_user

REDIS_URL = os.environ.get("KAMENG_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_up() -> bool:
    try:
        import redis

        return redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping()
    except Exception:  # no package, no server: the Redis tests are skipped
        return False


def _cache_settings(backend: str, location: str) -> dict:
    return {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            "shared": {"BACKEND": backend, "LOCATION": location, "KEY_PREFIX": f"test-{secrets.token_hex(4)}"}}


@pytest.fixture(params=["locmem", "redis"])
def shared_cache(request, settings):
    if request.param == "redis":
        if not _redis_up():
            pytest.skip("no Redis at KAMENG_TEST_REDIS_URL")
        settings.CACHES = _cache_settings("django.core.cache.backends.redis.RedisCache", REDIS_URL)
    else:
        settings.CACHES = _cache_settings("django.core.cache.backends.locmem.LocMemCache", secrets.token_hex(4))
    return request.param


def _me(token):
    return Client().get("/api/v1/wallet", headers={"Authorization": f"Bearer {token}"})


@pytest.mark.django_db
def test_a_cached_token_is_answered_without_a_query(buyer, shared_cache):
    token, _ = token_issue(username=buyer.username, password="secret123")
    assert token_user(token).id == buyer.id  # a miss: read and cached
    with CaptureQueriesContext(connection) as queries:
        assert token_user(token).id == buyer.id
    assert queries.captured_queries == []


@pytest.mark.django_db
def test_logout_is_refused_at_once(buyer, shared_cache):
    token, _ = token_issue(username=buyer.username, password="secret123")
    other, _ = token_issue(username=buyer.username, password="secret123")
    assert _me(token).status_code == 200 and _me(other).status_code == 200  # both cached now
    logout = Client().post("/api/v1/auth/logout", headers={"Authorization": f"Bearer {token}"})
    assert logout.status_code in (200, 204)
    assert _me(token).status_code == 401
    assert _me(other).status_code == 200  # only that token ended


@pytest.mark.django_db
def test_a_password_set_anywhere_ends_every_cached_token(buyer, shared_cache):
    token, _ = token_issue(username=buyer.username, password="secret123")
    assert _me(token).status_code == 200
    buyer.set_password("a-new-secret-456")  # as the admin or `changepassword` does: a plain save
    buyer.save()
    assert _me(token).status_code == 401


@pytest.mark.django_db
def test_a_deactivated_user_is_refused_at_once(buyer, shared_cache):
    token, _ = token_issue(username=buyer.username, password="secret123")
    assert _me(token).status_code == 200
    buyer.is_active = False
    buyer.save(update_fields=["is_active"])
    assert _me(token).status_code == 401


@pytest.mark.django_db
def test_a_token_revoked_through_another_cache_connection_is_refused_at_once(buyer, settings):
    """Two processes = two cache clients with their own connections; nothing of the token lives in either."""
    if not _redis_up():
        pytest.skip("no Redis at KAMENG_TEST_REDIS_URL")
    settings.CACHES = _cache_settings("django.core.cache.backends.redis.RedisCache", REDIS_URL)
    token, _ = token_issue(username=buyer.username, password="secret123")
    serving = caches["shared"]
    assert token_user(token).id == buyer.id and token_user(token).id == buyer.id  # cached in Redis
    # "Another process": a fresh handler, so a new client and connection pool, revokes the token.
    from django.core.cache import CacheHandler

    other_process = CacheHandler(settings.CACHES)["shared"]
    assert other_process is not serving
    caches._connections.shared = other_process  # what `caches["shared"]` answers in that process
    try:
        token_revoke(token=token)
    finally:
        caches._connections.shared = serving
    assert token_user(token) is None


@pytest.mark.django_db
def test_without_a_shared_cache_every_request_asks_the_database(buyer, settings):
    settings.CACHES = _cache_settings("django.core.cache.backends.dummy.DummyCache", "")
    token, _ = token_issue(username=buyer.username, password="secret123")
    assert token_user(token).id == buyer.id
    with CaptureQueriesContext(connection) as queries:
        assert token_user(token).id == buyer.id
    assert len(queries.captured_queries) == 1
    token_revoke(token=token)
    assert token_user(token) is None


@pytest.mark.django_db
def test_password_change_through_the_api_ends_cached_tokens(buyer, shared_cache):
    token, _ = token_issue(username=buyer.username, password="secret123")
    other, _ = token_issue(username=buyer.username, password="secret123")
    assert _me(other).status_code == 200
    answer = Client().post("/api/v1/auth/password", data=json.dumps(
        {"old_password": "secret123", "new_password": "Another-secret-789"}), content_type="application/json",
        headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.content
    assert _me(other).status_code == 401 and _me(token).status_code == 401
    assert _me(answer.json()["token"]).status_code == 200


@pytest.mark.django_db
def test_a_setting_changed_through_the_api_is_seen_by_the_next_request(buyer, shared_cache):
    token, _ = token_issue(username=buyer.username, password="secret123")
    headers = {"Authorization": f"Bearer {token}"}
    assert _me(token).status_code == 200  # cached now
    changed = Client().patch("/api/v1/me", data=json.dumps({"refund_destination": "wallet", "language": "en"}),
                             content_type="application/json", headers=headers)
    assert changed.status_code == 200, changed.content
    from kameng.accounts.services import token_user as user_of

    user = user_of(token)
    assert (user.refund_destination, user.language) == ("wallet", "en")


@pytest.mark.django_db
def test_the_test_clock_comes_with_the_token_in_one_cache_round_trip(api_as, buyer, make_product, fund_wallet,
                                                                     shared_cache):
    from kameng.core import clock

    fund_wallet(buyer, 10_000)
    product = make_product(keys=3)
    clock.advance(seconds=3600)
    api = api_as(buyer)
    body = {"product_id": product.id, "quantity": 1, "channel": "wallet", "accept_terms": True}
    api.post("/orders", body)
    with CaptureQueriesContext(connection) as queries:
        answer = api.post("/orders", body)
    assert answer.status_code == 201
    assert not [q for q in queries.captured_queries if "accounts_apitoken" in q["sql"]]
    # Inside the test's own transaction the clock is not shared (only a committed value is), so it is read
    # here once; what matters is that the platform's time is the advanced one.
    from kameng.orders.models import Order

    order = Order.objects.get(order_no=answer.json()["order_no"])
    assert order.created_at - clock.real_now() > timedelta(minutes=50)


@pytest.mark.django_db
def test_a_clock_primed_from_the_cache_is_not_read_again(shared_cache):
    from kameng.core import clock

    with clock.pinned():
        keys = clock.shared_keys()
        assert keys, "the request's clock is still to be read"
        clock.prime({keys[0]: 7200})
        with CaptureQueriesContext(connection) as queries:
            assert clock.offset() == timedelta(hours=2)
        assert queries.captured_queries == [] and clock.shared_keys() == []
