import pytest
from django.test import Client


@pytest.mark.django_db
def test_the_admin_lists_stock_and_orders_without_any_secret(make_user, make_product, fund_wallet, api_as):
    buyer = make_user("buyer")
    fund_wallet(buyer, 10_000)
    product = make_product(keys=2)
    api_as(buyer).post("/orders", {"product_id": product.id, "quantity": 1, "channel": "wallet", "accept_terms": True})
    admin = make_user("admin")
    client = Client()
    client.force_login(admin)
    for path in ("/admin/inventory/cardsecret/", "/admin/orders/order/", "/admin/inventory/keyissue/",
                 "/admin/catalog/product/", "/admin/payments/payment/", "/admin/ledger/journal/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert f"KEY-{product.id}-".encode() not in response.content
    secret_id = product.secrets.first().id
    detail = client.get(f"/admin/inventory/cardsecret/{secret_id}/change/")
    assert detail.status_code == 200 and b"ciphertext" not in detail.content.lower()
