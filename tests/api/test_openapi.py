"""The OpenAPI document describes the real answers: created is 201, errors carry the error body schema."""

import pytest


@pytest.fixture
def document(api_as):
    return api_as().get("/openapi.json").json()


def _schema(document, operation, status):
    content = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    ref = content.get("$ref", "")
    return document["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else content


@pytest.mark.parametrize("method, path", [("post", "/api/v1/orders"), ("post", "/api/v1/refunds"),
                                          ("post", "/api/v1/admin/products"), ("post", "/api/v1/wallet/recharge")])
def test_creating_operations_declare_201_not_200(document, method, path):
    responses = document["paths"][path][method]["responses"]
    assert "201" in responses and "200" not in responses


def test_every_operation_declares_its_errors_with_the_error_body(document):
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            errors = [status for status in operation["responses"] if status.startswith("4")]
            assert "400" in errors, (method, path)
            for status in errors:
                error = _schema(document, operation, status)
                assert error["required"] == ["error"], (method, path, status)
            if operation.get("security"):
                assert "401" in errors, (method, path)


def test_answers_have_schemas(document):
    order = _schema(document, document["paths"]["/api/v1/orders"]["post"], 201)
    assert {"order_no", "status", "amount", "items", "payment"} <= set(order["required"])
    keys = _schema(document, document["paths"]["/api/v1/admin/products/{product_id}/keys"]["post"], 200)
    assert {"imported", "duplicates", "rejected"} <= set(keys["required"])
    dossier = document["paths"]["/api/v1/refunds/{refund_id}/dossier"]["get"]["responses"]["200"]
    assert "application/zip" in dossier["content"]
