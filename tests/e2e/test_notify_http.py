"""Hostile bytes to the public notify endpoint through the real HTTP stack (gunicorn, `kameng serve`)."""

import httpx

from .test_serve import login, pytestmark, server  # noqa: F401  (the module's own server)


def test_hostile_notifications_get_a_4xx_and_are_recorded(server):  # noqa: F811
    buyer = login(server["base"], "buyer")
    supplier = login(server["base"], "supplier")
    product = supplier.post("/admin/products", json={"name": "点卡", "kind": "card", "price": "3.00",
                                                     "face_value": "3.00", "delivery_promise_minutes": 5}).json()
    supplier.post(f"/admin/products/{product['id']}/keys", json={"keys": ["HTTP-KEY-1"]})
    order = buyer.post("/orders", json={"product_id": product["id"], "quantity": 1, "channel": "alipay",
                                        "accept_terms": True}).json()
    payment_no = order["payment"]["payment_no"]
    notify = f"{server['base']}/payments/notify/sandbox"

    nul = httpx.post(notify, content=f"payment_no={payment_no}&trade_no=T%00X&amount=3.00&status=SUCCESS&ts=1&sign=x",
                     headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30)
    body = (f'--zz\r\nContent-Disposition: form-data; name="payment_no"\r\n\r\n{payment_no}\\ud800\r\n--zz--\r\n')
    surrogate = httpx.post(notify, content=body.encode(),
                           headers={"Content-Type": "multipart/form-data; boundary=zz; charset=unicode_escape"}, timeout=30)
    broken = httpx.post(notify, content=b"--zz\r\n", headers={"Content-Type": "multipart/form-data"}, timeout=30)
    for response in (nul, surrogate, broken):
        assert 400 <= response.status_code < 500, (response.status_code, response.text[:200])
        assert response.json()["error"]["code"] in ("INVALID_TEXT", "UNREADABLE_NOTIFICATION")

    outcomes = server["run"]("manage", "shell", "-c", "from kameng.payments.models import PaymentNotification as N; "
                             "print(','.join(N.objects.order_by('id').values_list('outcome', flat=True)))")
    assert outcomes.splitlines()[-1] == "INVALID_TEXT,INVALID_TEXT,UNREADABLE_NOTIFICATION"
    assert buyer.get(f"/orders/{order['order_no']}").json()["status"] == "pending_payment"
