"""schemathesis against the real app: every operation of /api/v1/openapi.json, bounded, on both databases.

Each operation gets schemathesis' coverage cases (boundaries, wrong types, missing fields) plus
KAMENG_FUZZ_EXAMPLES (10) generated ones, sent through the whole WSGI stack (middleware included) as the
role the operation is for. A test fails on any 5xx and on any answer the OpenAPI document does not declare:
its status, content type or body schema. After each operation the ledger must still balance (conftest).
"""

import os

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import kameng.urls  # noqa: F401  (registers every router on the API)
from kameng.accounts.services import token_issue
from kameng.api.base import api

EXAMPLES = int(os.environ.get("KAMENG_FUZZ_EXAMPLES", "10"))  # per operation; raise it for a deeper run
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _load_schema():
    # The document the app serves at /api/v1/openapi.json, built without a request (collection has no database).
    document = api.get_openapi_schema(path_prefix="/api/v1")
    schema = schemathesis.openapi.from_dict(document)
    schema.app = WSGIHandler()
    return schema


schema = _load_schema()
if os.environ.get("KAMENG_FUZZ_PATH"):  # narrow a run while chasing one failure: a path regex
    schema = schema.include(path_regex=os.environ["KAMENG_FUZZ_PATH"])

# Objects that exist in this test's database: path parameters often use them, so the fuzzer reaches past
# "not found" into the services.
KNOWN: dict[str, object] = {}


@schema.hook("flatmap_path_parameters")
def _sometimes_real(context, path_parameters):
    if not path_parameters:
        return st.just(path_parameters)
    real = {name: KNOWN.get(name, value) for name, value in path_parameters.items()}
    return st.sampled_from([path_parameters, real, _poisoned(real, "\x00")])


# The characters that broke the platform (a NUL byte, a lone surrogate), put into every string of a body
# now and then: the generator alone rarely produces them where they hurt.
def _poisoned(value, bad):
    if isinstance(value, str):
        return value + bad
    if isinstance(value, dict):
        return {key: _poisoned(item, bad) for key, item in value.items()}
    if isinstance(value, list):
        return [_poisoned(item, bad) for item in value]
    return value


@schema.hook("flatmap_body")
def _sometimes_hostile(context, body):
    if not isinstance(body, dict):
        return st.just(body)
    if "application/json" not in context.operation.get_request_payload_content_types():
        return st.sampled_from([body, _poisoned(body, "\x00")])  # multipart cannot even encode a surrogate
    return st.sampled_from([body, body, _poisoned(body, "\x00"), _poisoned(body, "\ud800")])


def _role_for(path: str) -> str:
    """The role an operation is meant for (the authorization matrix is tested elsewhere)."""
    if path.startswith(("/api/v1/admin/", "/api/v1/sandbox/clock", "/api/v1/sandbox/topups")):
        return "admin"
    if path.startswith("/api/v1/staff/"):
        return "reviewer"
    if path.startswith("/api/v1/supplier/"):
        return "supplier"
    if path.startswith("/api/v1/finance/"):
        return "finance"
    return "buyer"


@pytest.fixture
def world(make_user, make_product, fund_wallet, api_as):
    """A small shop: one of each role, stocked products, a delivered order with a refund."""
    users = {role: make_user(role) for role in ("buyer", "supplier", "admin", "reviewer", "finance")}
    tokens = {role: token_issue(username=user.username, password="secret123")[0] for role, user in users.items()}
    product = make_product(keys=20, owner=users["supplier"])
    fund_wallet(users["buyer"], 1_000_00)
    buyer_api = api_as(users["buyer"])
    order = buyer_api.post("/orders", {"product_id": product.id, "quantity": 1, "channel": "wallet",
                                       "accept_terms": True}).json()
    pending = buyer_api.post("/orders", {"product_id": product.id, "quantity": 1, "channel": "alipay",
                                         "accept_terms": True}).json()
    refund = buyer_api.post("/refunds", {"order_no": order["order_no"], "reason": "invalid_key",
                                         "description": "兑换页面提示“该卡密已被使用”，时间 11 月 20 日 21:05。"}).json()
    # Like Django's test client: the test's transaction holds the connection; a request must not close it.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    KNOWN.clear()
    KNOWN.update(product_id=product.id, order_no=order["order_no"], refund_id=str(refund["id"]),
                 payment_no=pending["payment"]["payment_no"])
    yield tokens
    KNOWN.clear()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
# derandomize: the same cases every run, so CI is repeatable and a failure replays; no example database.
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_answers_only_what_it_declares(case, world):
    token = world[_role_for(case.operation.path)]
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
    case.call_and_validate(checks=CHECKS)

