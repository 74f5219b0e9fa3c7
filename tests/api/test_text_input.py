"""Text that cannot be stored is refused with INVALID_TEXT, and changes nothing; invisible characters are stripped.

A NUL byte answered 500 on PostgreSQL (the driver refuses it) and a lone surrogate answered 500 on both
databases (it cannot be encoded) on about twenty endpoints. These run on SQLite and PostgreSQL.
"""

import json
from urllib.parse import urlencode

import pytest

from kameng.aftersales.models import Refund, RefundMessage
from kameng.catalog.models import Product
from kameng.orders.models import Order

GOOD = "在王者荣耀兑换页面输入卡密后提示“该卡密已被使用”，时间 11 月 20 日 21:05。"
HOSTILE = pytest.mark.parametrize("bad", ["a\x00b", "a\ud800b"], ids=["nul", "lone-surrogate"])


@pytest.fixture
def shop(api_as, buyer, reviewer, supplier, make_product, fund_wallet):
    """A delivered wallet order with an open refund; API clients that show a 500 as a 500."""
    product = make_product(keys=5)
    fund_wallet(buyer, 100_00)
    clients = {role: api_as(user) for role, user in
               (("buyer", buyer), ("reviewer", reviewer), ("supplier", supplier), ("anonymous", None))}
    for client in clients.values():
        client.client.raise_request_exception = False
    order = clients["buyer"].post("/orders", {"product_id": product.id, "quantity": 1, "channel": "wallet",
                                              "accept_terms": True}).json()
    refund = clients["buyer"].post("/refunds", {"order_no": order["order_no"], "reason": "invalid_key",
                                                "description": GOOD}).json()
    return {"clients": clients, "product": product, "order_no": order["order_no"], "refund_id": refund["id"]}


def _post(client, path, body):
    # json.dumps writes a lone surrogate as the escape "\ud800", exactly what a hostile client sends.
    return client.client.post(f"/api/v1{path}", json.dumps(body), content_type="application/json",
                              headers=client.headers)


BODIES = [
    ("anonymous", "/auth/token", lambda s, bad: {"username": bad, "password": "secret123"}),
    ("anonymous", "/auth/token", lambda s, bad: {"username": "nobody", "password": bad}),
    ("supplier", "/admin/products", lambda s, bad: {"name": bad, "kind": "card", "price": "1.00"}),
    ("supplier", "/admin/products", lambda s, bad: {"name": "ok", "kind": "card", "price": "1.00", "description": bad}),
    ("supplier", "/admin/products", lambda s, bad: {"name": "ok", "kind": bad, "price": "1.00"}),
    ("buyer", "/orders", lambda s, bad: {"product_id": s["product"].id, "quantity": 1, "channel": bad,
                                         "accept_terms": True}),
    ("buyer", "/refunds", lambda s, bad: {"order_no": bad, "reason": "invalid_key", "description": GOOD}),
    ("buyer", "/refunds", lambda s, bad: {"order_no": s["order_no"], "reason": "invalid_key",
                                          "description": GOOD + bad}),
    ("buyer", "/refunds/{refund_id}/messages", lambda s, bad: {"body": GOOD + bad}),
    ("buyer", "/wallet/recharge", lambda s, bad: {"amount": bad, "channel": "alipay"}),
    ("reviewer", "/staff/refunds/{refund_id}/request-info", lambda s, bad: {"message": bad}),
    ("reviewer", "/staff/refunds/{refund_id}/approve", lambda s, bad: {"note": bad}),
    ("reviewer", "/staff/refunds/{refund_id}/reject", lambda s, bad: {"reason_code": "other", "note": bad}),
]


@HOSTILE
@pytest.mark.parametrize("role, path, body", BODIES, ids=[f"{p}-{i}" for i, (_, p, _) in enumerate(BODIES)])
def test_unstorable_text_in_a_json_body_is_422_invalid_text_and_changes_nothing(shop, role, path, body, bad):
    counts = (Product.objects.count(), Order.objects.count(), Refund.objects.count(), RefundMessage.objects.count())
    refund = Refund.objects.get(id=shop["refund_id"])
    response = _post(shop["clients"][role], path.format(refund_id=shop["refund_id"]), body(shop, bad))
    assert response.status_code == 422, (response.status_code, response.content[:300])
    assert response.json()["error"]["code"] == "INVALID_TEXT"
    assert counts == (Product.objects.count(), Order.objects.count(), Refund.objects.count(),
                      RefundMessage.objects.count())
    assert Refund.objects.get(id=refund.id).status == refund.status


@pytest.mark.parametrize("role, path", [
    ("buyer", "/orders/K%00"),
    ("buyer", "/orders/K%00/refund-options"),
    ("buyer", "/refunds/1%00"),
    ("anonymous", "/products/1%00"),
    ("buyer", "/orders?before_id=1&x=%00"),
    ("reviewer", "/staff/refunds?status=submitted%00"),
])
def test_a_nul_in_the_path_or_query_is_400_invalid_text(shop, role, path):
    client = shop["clients"][role]
    response = client.client.get(f"/api/v1{path}", headers=client.headers)
    assert response.status_code == 400, (response.status_code, response.content[:300])
    assert response.json()["error"]["code"] == "INVALID_TEXT"


def test_a_nul_in_a_post_path_changes_nothing(shop):
    buyer = shop["clients"]["buyer"]
    response = buyer.client.post(f"/api/v1/orders/{shop['order_no']}%00/reveal", headers=buyer.headers)
    assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_TEXT"


def test_the_refusal_speaks_english_on_request(shop):
    buyer = shop["clients"]["buyer"]
    response = buyer.client.get("/api/v1/orders/K%00", headers={**buyer.headers, "Accept-Language": "en"})
    assert response.json()["error"]["message"].startswith("The text contains")


def test_pages_refuse_a_nul_in_a_form_with_400_not_500(client, buyer):
    client.raise_request_exception = False
    form = "application/x-www-form-urlencoded"
    response = client.post("/login/", urlencode({"username": "a\x00b", "password": "x"}), content_type=form)
    assert response.status_code == 400
    # A multipart form's text fields meet the same gate (tests/web/test_multipart_text.py).
    assert client.post("/login/", {"username": "a\x00b", "password": "x"}).status_code == 400
    client.force_login(buyer)
    assert client.get("/orders/K%00/").status_code == 400


# ---- invisible characters ---------------------------------------------------------------------


def test_bidi_overrides_and_zero_width_characters_are_stripped_from_product_names(api_as, supplier):
    api = api_as(supplier)
    created = api.post("/admin/products", {"name": "\u202e10元Q币\u200b\u2066", "kind": "card", "price": "1.00",
                                           "description": "\ufeff说明\u200d"}).json()
    assert created["name"] == "10元Q币" and created["description"] == "说明"
    assert Product.objects.get(id=created["id"]).name == "10元Q币"


def test_a_name_of_only_invisible_characters_is_refused(api_as, supplier):
    response = api_as(supplier).post("/admin/products", {"name": "\u200b\u202e\u2060", "kind": "card",
                                                         "price": "1.00"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "INVALID_NAME"
    assert Product.objects.count() == 0


def test_zero_width_padding_does_not_count_as_a_description(shop):
    padded = "不能用" + "\u200b" * 30
    buyer = shop["clients"]["buyer"]
    order = _post(buyer, "/orders", {"product_id": shop["product"].id, "quantity": 1, "channel": "wallet",
                                     "accept_terms": True}).json()
    response = _post(buyer, "/refunds", {"order_no": order["order_no"], "reason": "invalid_key",
                                         "description": padded})
    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "DESCRIPTION_TOO_VAGUE"


def test_a_refund_description_is_stored_without_invisible_characters(shop):
    refund = Refund.objects.get(id=shop["refund_id"])
    buyer = shop["clients"]["buyer"]
    _post(buyer, f"/refunds/{refund.id}/messages", {"body": "\u202e补充：截图见附件\u200b"})
    assert RefundMessage.objects.filter(refund=refund).last().body == "补充：截图见附件"


def test_a_session_cookie_holding_a_nul_is_ignored_not_a_500(client, buyer):
    client.raise_request_exception = False
    client.cookies["sessionid"] = "abcdefgh\x00ijkl"
    response = client.get("/orders/")
    assert response.status_code == 302  # not logged in: to the login page


def test_page_forms_use_the_same_cleaner(client, supplier):
    client.force_login(supplier)
    data = {"name": "\u202e测试点卡\u200b", "kind": "card", "price": "9.90", "face_value": "10.00",
            "delivery_promise_minutes": 5, "refund_window_hours": 24, "personal_reason_fee_rate": "0.03",
            "review_sla_workdays": 3, "appeal_window_days": 7, "info_reply_hours": 24, "description": "\ufeff说明"}
    assert client.post("/supplier/products/new/", data).status_code == 302
    product = Product.objects.get()
    assert product.name == "测试点卡" and product.description == "说明"
    invisible_only = client.post("/supplier/products/new/", {**data, "name": "\u200b\u2060"})
    assert invisible_only.status_code == 422 and Product.objects.count() == 1
    too_fine = client.post("/supplier/products/new/", {**data, "personal_reason_fee_rate": "0.055"})
    assert too_fine.status_code == 422 and Product.objects.count() == 1
