import pytest
from django.test import Client


@pytest.fixture
def client_as(db):
    """A page client logged in as `user` (session auth, CSRF checks on like a browser)."""

    def make(user=None):
        client = Client(enforce_csrf_checks=False)
        if user is not None:
            client.force_login(user)
        return client

    return make


@pytest.fixture
def buy(client_as):
    """Place an order through the checkout page; returns (client, response)."""

    def place(user, product, **fields):
        client = client_as(user)
        data = {"quantity": 1, "channel": "alipay", "accept_terms": "on", **fields}
        data = {k: v for k, v in data.items() if v is not None}
        return client, client.post(f"/products/{product.id}/buy/", data)

    return place
