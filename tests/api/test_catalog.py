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
