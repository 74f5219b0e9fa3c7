import itertools
import json
import os

import pytest
from django.db import connection
from django.test import Client

from kameng.accounts.services import token_issue, user_create
from kameng.catalog.services import product_create
from kameng.ledger.services import Accounts, Line, journal_post

_names = itertools.count(1)


def pytest_collection_modifyitems(config, items):
    """`postgres` tests need real concurrent connections: on SQLite they are skipped, on PostgreSQL they run."""
    on_postgres = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(pytest.mark.skip(reason="runs in the PostgreSQL pass of ./dev test"))


@pytest.fixture(autouse=True)
def _fresh_account_cache():
    """Transactional tests empty the tables between tests; the ledger's id cache must forget them,
    and a test's holiday entries (rolled back) must not stay in the calendar's memory."""
    from kameng.core.workdays import forget as forget_calendar
    from kameng.ledger.services import forget_cached_accounts
    from kameng.orders.snapshots import forget_cached_snapshots

    forget_cached_accounts()
    forget_cached_snapshots()
    forget_calendar()
    yield
    forget_cached_accounts()
    forget_cached_snapshots()
    forget_calendar()


@pytest.fixture(autouse=True)
def _sandbox(settings):
    settings.KAMENG_SANDBOX = True
    settings.KAMENG_STRICT_LOCK_ORDER = True  # a lock taken out of the one order fails the test (kameng.core.locks)
    settings.KAMENG_RECONCILE_DAILY = False  # the daily statement job runs only in its own tests
    settings.KAMENG_PDF_FONT_CACHE = False  # no background font build per session; tests/aftersales/test_pdf_font.py
    # Password hashing is deliberately slow; the tests log in hundreds of times.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _book_balances_after_each_test(request):
    """Whatever a test did, the ledger must still balance at its end."""
    marker = request.node.get_closest_marker("django_db")
    names = set(request.fixturenames)
    if "unbalanced_ledger" in request.keywords or (marker is None and not {"db", "transactional_db", "live_server"} & names):
        yield
        return
    # Depend on the database fixture so this check runs before it is torn down.
    transactional = "transactional_db" in names or "live_server" in names or (marker and marker.kwargs.get("transaction"))
    request.getfixturevalue("transactional_db" if transactional else "db")
    yield
    from kameng.ledger.selectors import book_check

    report = book_check()
    assert report.ok, f"the book does not balance: {report.unbalanced} {report.empty} total={report.total_fen} stranded={report.stranded} drifted={report.drifted}"


@pytest.fixture
def make_user(db):
    def make(role="buyer", phone=None, password="secret123"):
        name = f"{role}{next(_names)}"
        if phone is None and role == "buyer":
            phone = "13800000000"
        return user_create(username=name, password=password, role=role, phone=phone or "")

    return make


class Api:
    """A JSON client for /api/v1 acting as one user."""

    def __init__(self, user=None):
        self.client = Client()
        self.user = user
        self.headers = {}
        if user is not None:
            token, _ = token_issue(username=user.username, password="secret123")
            self.headers["Authorization"] = f"Bearer {token}"

    def _call(self, method, path, body=None, headers=None, **kwargs):
        all_headers = {**self.headers, **(headers or {})}
        fn = getattr(self.client, method)
        if body is not None:
            kwargs.setdefault("data", json.dumps(body))
            kwargs.setdefault("content_type", "application/json")
        return fn(f"/api/v1{path}", headers=all_headers, **kwargs)

    def get(self, path, **kw):
        return self._call("get", path, **kw)

    def post(self, path, body=None, **kw):
        return self._call("post", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self._call("patch", path, body, **kw)


@pytest.fixture
def api_as(db):
    return Api


@pytest.fixture
def buyer(make_user):
    return make_user("buyer")


@pytest.fixture
def supplier(make_user):
    return make_user("supplier")


@pytest.fixture
def admin(make_user):
    return make_user("admin")


@pytest.fixture
def reviewer(make_user):
    return make_user("reviewer")


@pytest.fixture
def senior(make_user):
    return make_user("senior_reviewer")


@pytest.fixture
def make_product(supplier):
    def make(kind="card", price="10.00", face_value="10.00", keys=0, owner=None, **extra):
        product = product_create(
            actor=owner or supplier, name=f"商品{next(_names)}", kind=kind, price=price, face_value=face_value, **extra
        )
        if keys:
            from kameng.inventory.services import keys_import_list

            keys_import_list(actor=owner or supplier, product_id=product.id,
                             keys=[f"KEY-{product.id}-{i:06d}" for i in range(keys)])
        return product

    return make


@pytest.fixture
def fund_wallet(db):
    def fund(user, fen):
        journal_post(reference=f"test-grant:{user.id}:{next(_names)}", kind="promotion",
                     lines=[Line(Accounts.PROMOTIONS, fen), Line(Accounts.wallet(user.id), -fen)])

    return fund


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"
