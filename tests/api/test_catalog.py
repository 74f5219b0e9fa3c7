import pytest


def test_supplier_creates_a_product_with_a_refund_policy_and_its_text(api_as, supplier):
    response = api_as(supplier).post("/admin/products", {
        "name": "腾讯 Q 币 10 元", "kind": "card", "price": "9.80", "face_value": "10.00",
        "delivery_promise_minutes": 5, "refund_policy": {"refund_window_hours": 48, "personal_reason_fee_rate": "0.08"},
    })
    assert response.status_code == 201, response.content
    product = response.json()
    assert product["price"] == "9.80" and product["stock"] == 0
    assert product["refund_policy"]["refund_window_hours"] == 48
    assert product["refund_policy"]["personal_reason_fee_rate"] == "0.08"
    assert product["refund_policy"]["review_sla_workdays"] == 3  # default
    assert "48 小时" in product["refund_policy"]["text"] and "8%" in product["refund_policy"]["text"]
    english = api_as().get(f"/products/{product['id']}", headers={"Accept-Language": "en"}).json()
    assert "48 hours" in english["refund_policy"]["text"]


@pytest.mark.parametrize("body, code", [
    ({"name": "x", "kind": "card", "price": 9.8, "face_value": "10.00"}, "VALIDATION_ERROR"),
    ({"name": "x", "kind": "card", "price": "-1.00", "face_value": "10.00"}, "INVALID_AMOUNT"),
    ({"name": "x", "kind": "card", "price": "1.001", "face_value": "10.00"}, "INVALID_AMOUNT"),
    ({"name": "x", "kind": "gift", "price": "1.00", "face_value": "1.00"}, "INVALID_KIND"),
    ({"name": "x", "kind": "card", "price": "1.00", "face_value": "1.00",
      "refund_policy": {"personal_reason_fee_rate": "0.20"}}, "INVALID_REFUND_POLICY"),
    ({"name": "x", "kind": "card", "price": "1.00", "face_value": "1.00",
      "refund_policy": {"surprise": 1}}, "INVALID_REFUND_POLICY"),
    # A finer rate than the two places it is stored with was silently stored as 0.06.
    ({"name": "x", "kind": "card", "price": "1.00", "refund_policy": {"personal_reason_fee_rate": "0.055"}},
     "INVALID_REFUND_POLICY"),
    ({"name": "x", "kind": "card", "price": "1.00", "refund_policy": {"personal_reason_fee_rate": 0.05}},
     "INVALID_REFUND_POLICY"),
    ({"name": "x", "kind": "card", "price": "1.00", "refund_policy": {"personal_reason_fee_rate": True}},
     "INVALID_REFUND_POLICY"),
    ({"name": "x", "kind": "card", "price": "1.00", "refund_policy": {"personal_reason_fee_rate": "NaN"}},
     "INVALID_REFUND_POLICY"),
    ({"name": "x", "kind": "card", "price": "1.00", "refund_policy": {"refund_window_hours": "72"}},
     "INVALID_REFUND_POLICY"),
    ({"name": "x", "kind": "card", "price": "1.00", "description": "长" * 5001}, "PRODUCT_DESCRIPTION_TOO_LONG"),
    ({"name": "名" * 201, "kind": "card", "price": "1.00"}, "INVALID_NAME"),
])
def test_bad_products_are_refused_with_a_code(api_as, supplier, body, code):
    response = api_as(supplier).post("/admin/products", body)
    assert response.status_code in (400, 422)
    assert response.json()["error"]["code"] == code
    assert api_as().get("/products").json() == []


def test_buyers_cannot_create_products_and_suppliers_cannot_stock_others(api_as, buyer, make_user, make_product):
    assert api_as(buyer).post("/admin/products", {"name": "x", "kind": "card", "price": "1.00"}).status_code == 403
    product = make_product()
    other = make_user("supplier")
    response = api_as(other).post(f"/admin/products/{product.id}/keys", {"keys": ["A-1"]})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "PRODUCT_NOT_FOUND"


def test_unknown_product_is_404(api_as):
    response = api_as().get("/products/999999")
    assert response.status_code == 404 and response.json()["error"]["code"] == "PRODUCT_NOT_FOUND"


def test_a_rate_with_two_places_or_trailing_zeros_is_kept_exactly(api_as, supplier):
    api = api_as(supplier)
    for sent, stored in (("0.05", "0.05"), ("0.050", "0.05"), ("0.1", "0.10"), ("0", "0.00")):
        body = {"name": "x", "kind": "card", "price": "1.00", "refund_policy": {"personal_reason_fee_rate": sent}}
        product = api.post("/admin/products", body).json()
        assert product["refund_policy"]["personal_reason_fee_rate"] == stored


def test_a_seven_million_character_description_is_refused_and_lists_serve_a_summary(api_as, supplier):
    api = api_as(supplier)
    huge = api.post("/admin/products", {"name": "大", "kind": "card", "price": "1.00", "description": "x" * 7_000_000})
    assert huge.status_code == 422 and huge.json()["error"]["code"] == "PRODUCT_DESCRIPTION_TOO_LONG"
    long_text = "详细说明。" * 800  # 4,000 characters: allowed, but not copied into every row of a list
    product = api.post("/admin/products", {"name": "长描述", "kind": "card", "price": "1.00",
                                           "description": long_text}).json()
    short = api.post("/admin/products", {"name": "短描述", "kind": "card", "price": "1.00",
                                         "description": "十元面值"}).json()
    listed = {p["id"]: p for p in api_as().get("/products").json()}
    assert len(listed[product["id"]]["description"]) <= 120 and listed[product["id"]]["description_truncated"]
    assert listed[short["id"]]["description"] == "十元面值" and not listed[short["id"]]["description_truncated"]
    assert len(api_as().get("/products").content) < 5000
    assert api_as().get(f"/products/{product['id']}").json()["description"] == long_text
    managed = {p["id"]: p for p in api.get("/admin/products").json()}
    assert len(managed[product["id"]]["description"]) <= 120
