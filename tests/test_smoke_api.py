def test_buyer_buys_a_key_with_the_wallet_and_reveals_it(api_as, buyer, make_product, fund_wallet):
    product = make_product(keys=3, price="5.00")
    fund_wallet(buyer, 10_000)
    api = api_as(buyer)

    created = api.post("/orders", {"product_id": product.id, "quantity": 2, "channel": "wallet", "accept_terms": True})
    assert created.status_code == 201, created.content
    order = created.json()
    assert order["status"] == "delivered"
    assert order["amount"] == "10.00"

    revealed = api.post(f"/orders/{order['order_no']}/reveal")
    assert revealed.status_code == 200
    secrets = [item["secret"] for item in revealed.json()["items"]]
    assert len(set(secrets)) == 2 and all(s.startswith(f"KEY-{product.id}-") for s in secrets)
    assert api.get("/wallet").json()["balance"] == "90.00"
    assert api.get(f"/products/{product.id}").json()["stock"] == 1
