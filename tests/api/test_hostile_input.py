"""Hostile and malformed input: always a clear 4xx with an error code, never a 500."""

import pytest

HUGE = "9" * 30


@pytest.mark.parametrize("method, path, body", [
    ("get", f"/products/{HUGE}", None),
    ("get", "/products/-1", None),
    ("get", f"/orders/{HUGE}", None),
    ("post", f"/orders/{'x' * 500}/reveal", None),
    ("post", "/orders", {"product_id": int(HUGE), "quantity": 1, "channel": "wallet", "accept_terms": True}),
    ("post", "/orders", {"product_id": 1, "quantity": int(HUGE), "channel": "wallet", "accept_terms": True}),
    ("post", "/orders", {"product_id": "1; drop table", "quantity": 1, "channel": "wallet", "accept_terms": True}),
    ("post", "/orders", ["not", "an", "object"]),
    ("post", "/orders", {"product_id": 1, "quantity": 1, "channel": "wallet", "accept_terms": "yes",
                         "recharge_account": "\x00" * 10}),
    ("post", f"/admin/products/{HUGE}/keys", {"keys": ["A"]}),
    ("get", f"/refunds/{HUGE}", None),
    ("get", "/refunds/abc", None),
    ("post", f"/refunds/{HUGE}/urge", None),
    ("post", "/refunds", {"order_no": "K" * 100, "reason": "invalid_key", "description": "x" * 50}),
    ("post", "/refunds", {"order_no": 5, "reason": None, "description": []}),
    ("get", f"/orders/{HUGE}/refund-options", None),
    ("get", "/staff/refunds?limit=99999999999999999999", None),
    ("post", f"/sandbox/payments/{HUGE}/pay", None),
    ("post", "/wallet/recharge", {"amount": "1e400", "channel": "alipay"}),
    ("post", "/wallet/recharge", {"amount": "NaN", "channel": "alipay"}),
    # Past Decimal's own exponent limit: its Overflow, not ours, unless the amount parser turns it away.
    ("post", "/wallet/recharge", {"amount": "1e999999", "channel": "alipay"}),
])
def test_no_input_produces_a_500(api_as, buyer, method, path, body):
    api = api_as(buyer)
    response = api.get(path) if method == "get" else api.post(path, body)
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert response.json()["error"]["code"]


def test_a_body_that_is_not_json_is_a_400(api_as, buyer):
    response = api_as(buyer).client.post("/api/v1/orders", "{not json", content_type="application/json",
                                         headers=api_as(buyer).headers)
    assert response.status_code == 400 and response.json()["error"]["code"]


def test_bad_tokens_are_401(api_as):
    api = api_as()
    assert api.get("/orders", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert api.get("/orders").json()["error"]["code"] == "UNAUTHENTICATED"
    assert api.post("/auth/token", {"username": "x", "password": "y"}).json()["error"]["code"] == "INVALID_CREDENTIALS"


def test_an_oversized_body_is_413(api_as, supplier, make_product, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    product = make_product()
    response = api_as(supplier).post(f"/admin/products/{product.id}/keys", {"keys": ["K" * 100] * 50})
    assert response.status_code == 413 and response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_error_messages_are_chinese_by_default_and_english_on_request(api_as, buyer):
    api = api_as(buyer)
    body = {"product_id": 999999, "quantity": 1, "channel": "wallet", "accept_terms": True}
    chinese = api.post("/orders", body).json()["error"]
    assert chinese["code"] == "PRODUCT_NOT_FOUND" and chinese["message"] == "商品不存在。"
    english = api.post("/orders", body, headers={"Accept-Language": "en"}).json()["error"]
    assert english["message"] == "No such product."
    specific = api.post("/orders", {**body, "quantity": 500}).json()["error"]
    assert specific["message"] == "数量无效。" and "at most" in specific["detail"]


def test_tokens_expire_and_can_be_revoked(api_as, buyer, settings):
    api = api_as(buyer)
    assert api.get("/wallet").status_code == 200
    settings.KAMENG_TOKEN_DAYS = 0
    assert api.get("/wallet").status_code == 401
    settings.KAMENG_TOKEN_DAYS = 30
    assert api.post("/auth/logout").json() == {"revoked": True}
    assert api.get("/wallet").status_code == 401


@pytest.mark.parametrize("amount", ["1e999999", "-9e999999", "9" * 30, "1e30"])
def test_an_absurd_withdrawal_amount_is_refused_and_changes_nothing(api_as, supplier, amount):
    from kameng.ledger.models import Journal

    api = api_as(supplier)
    journals = Journal.objects.count()
    response = api.post("/supplier/withdrawals", {"amount": amount})
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert response.json()["error"]["code"] == "INVALID_AMOUNT"
    assert api.get("/supplier/withdrawals").json() == [] and Journal.objects.count() == journals
