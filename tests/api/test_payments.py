import pytest

from kameng.core.worker import run_queued_tasks
from kameng.inventory.models import CardSecret
from kameng.ledger.selectors import book_check
from kameng.orders.models import Order
from kameng.payments.gateways import sandbox
from kameng.payments.models import Payment, PaymentNotification


def place(api, product, **extra):
    body = {"product_id": product.id, "quantity": 1, "channel": "alipay", "accept_terms": True, **extra}
    response = api.post("/orders", body)
    assert response.status_code == 201, response.content
    return response.json()


def notify(api, fields):
    return api.client.post("/api/v1/payments/notify/sandbox", fields)


def signed(order, **change):
    fields = sandbox.notification_for(payment_no=order["payment"]["payment_no"], amount=order["amount"])
    fields.update(change)
    if "sign" not in change:
        fields["sign"] = sandbox.sign(fields)
    return fields


def _journal_lines(order_no):
    from kameng.ledger.models import Journal

    return [(j.kind, sorted((p.account.code.split(":")[0], p.amount_fen) for p in j.postings.all()))
            for j in Journal.objects.filter(order__order_no=order_no).order_by("id")]


def test_a_gateway_purchase_delivered_at_once_is_one_journal_from_the_channel(api_as, buyer, make_product):
    """Paid and delivered in one transaction, the sale settles straight from the channel's clearing account
    to the supplier and the platform: one journal, nothing resting in escrow (as a wallet purchase)."""
    api = api_as(buyer)
    order = place(api, make_product(price="10.00", keys=1))
    assert notify(api, signed(order)).status_code == 200
    assert _journal_lines(order["order_no"]) == [
        ("order_settled", [("clearing", 1000), ("commission", -50), ("payable", -950)])]
    assert book_check().ok


def test_a_paid_order_that_cannot_be_delivered_keeps_its_money_in_escrow(api_as, buyer, make_product):
    api = api_as(buyer)
    product = make_product(price="10.00", keys=1)
    order = place(api, product)
    CardSecret.objects.filter(product=product).update(status="available", reserved_order=None)
    place(api, product)  # the one key is held by a second order; the first order's hold was lost
    assert notify(api, signed(order)).status_code == 200
    assert api.get(f"/orders/{order['order_no']}").json()["status"] == "paid"
    assert _journal_lines(order["order_no"]) == [("payment_captured", [("clearing", 1000), ("escrow", -1000)])]
    assert book_check().ok


def test_a_signed_notification_pays_and_delivers_once(api_as, buyer, make_product):
    api = api_as(buyer)
    order = place(api, make_product(keys=1))
    fields = signed(order)
    assert notify(api, fields).status_code == 200
    assert api.get(f"/orders/{order['order_no']}").json()["status"] == "delivered"
    again = notify(api, fields)
    assert again.status_code == 409 and again.json()["error"]["code"] == "ALREADY_PROCESSED"
    assert Payment.objects.get().status == "succeeded"
    assert book_check().ok


@pytest.mark.parametrize("change, code", [
    ({"sign": "0" * 64}, "BAD_SIGNATURE"),
    ({"amount": "0.01"}, "AMOUNT_MISMATCH"),  # re-signed with the right secret but a tampered amount
    ({"status": "CLOSED"}, "UNSUPPORTED_STATUS"),
    ({"payment_no": "P-NOT-OURS"}, "PAYMENT_NOT_FOUND"),
    ({"ts": "1000000000"}, "STALE_NOTIFICATION"),
])
def test_a_bad_notification_changes_nothing(api_as, buyer, make_product, change, code):
    api = api_as(buyer)
    order = place(api, make_product(keys=1))
    response = notify(api, signed(order, **change))
    assert 400 <= response.status_code < 500 and response.json()["error"]["code"] == code
    assert api.get(f"/orders/{order['order_no']}").json()["status"] == "pending_payment"
    assert Payment.objects.get().status == "pending"
    audit = PaymentNotification.objects.get()
    assert audit.outcome == code and audit.kind == "payment" and "sign" not in audit.fields


def form_body(fields):
    """A form body built by hand, so that any bytes at all can be sent."""
    from urllib.parse import quote

    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in fields.items())


def multipart_escaped(fields):
    """A multipart body declaring a charset that decodes `\\ud800` escapes: how a lone surrogate gets in."""
    parts = [f'--zz\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    return ("".join(parts) + "--zz--\r\n").encode("ascii"), "multipart/form-data; boundary=zz; charset=unicode_escape"


@pytest.mark.parametrize("how", ["nul_in_value", "nul_in_name", "lone_surrogate", "surrogate_in_name"])
def test_hostile_bytes_in_a_notification_are_refused_recorded_and_change_nothing(api_as, buyer, make_product, how):
    """NUL bytes and lone surrogates answered 500 (PostgreSQL cannot store NUL; nothing can encode a lone
    surrogate, not even the signature check) and the refusal was not recorded."""
    api = api_as(buyer)
    order = place(api, make_product(keys=1))
    fields = signed(order)
    if how == "nul_in_value":
        body, content_type = form_body(signed(order, trade_no="SBX\x00DROP")), "application/x-www-form-urlencoded"
    elif how == "nul_in_name":
        body, content_type = form_body({**fields, "x\x00y": "1"}), "application/x-www-form-urlencoded"
    elif how == "lone_surrogate":
        body, content_type = multipart_escaped({**fields, "trade_no": "SBX\\ud800"})
    else:
        body, content_type = multipart_escaped({**fields, "\\udc80": "1"})
    # CONTENT_TYPE given raw: the test client would otherwise re-encode the body in the declared charset.
    response = api.client.post("/api/v1/payments/notify/sandbox", body, content_type="text/plain", CONTENT_TYPE=content_type)
    assert response.status_code == 400 and response.json()["error"]["code"] == "INVALID_TEXT"
    assert Payment.objects.get().status == "pending"
    audit = PaymentNotification.objects.get()
    assert audit.outcome == "INVALID_TEXT" and audit.payment_no == order["payment"]["payment_no"]
    assert audit.fields["trade_no"].startswith("SBX") and "\x00" not in audit.fields["trade_no"]
    assert notify(api, signed(order)).status_code == 200  # the real one still goes through


def test_a_trade_number_that_paid_another_payment_is_refused_and_recorded(api_as, buyer, make_product):
    """Reusing another payment's `trade_no` answered 500 (the unique index) and went unrecorded."""
    api = api_as(buyer)
    product = make_product(keys=2)
    first, second = place(api, product), place(api, product)
    paid = signed(first)
    assert notify(api, paid).status_code == 200
    response = notify(api, signed(second, trade_no=paid["trade_no"]))
    assert response.status_code == 409 and response.json()["error"]["code"] == "TRADE_NO_REUSED"
    assert api.get(f"/orders/{second['order_no']}").json()["status"] == "pending_payment"
    outcomes = list(PaymentNotification.objects.order_by("id").values_list("payment_no", "outcome"))
    assert outcomes == [(first["payment"]["payment_no"], "ACCEPTED"), (second["payment"]["payment_no"], "TRADE_NO_REUSED")]
    assert notify(api, signed(second)).status_code == 200  # with its own trade number it pays


def test_a_body_that_is_not_a_form_is_refused_and_recorded(api_as, buyer):
    api = api_as(buyer)
    for body, content_type in ((b"--zz\r\nx", "multipart/form-data"),  # no boundary
                               (b"payment_no=P1", "application/x-www-form-urlencoded; charset=utf-16")):
        broken = api.client.post("/api/v1/payments/notify/sandbox", body, content_type=content_type)
        assert broken.status_code == 400 and broken.json()["error"]["code"] == "UNREADABLE_NOTIFICATION"
    json_body = api.client.post("/api/v1/payments/notify/sandbox", {"payment_no": "\x00"}, content_type="application/json")
    assert json_body.status_code == 400
    assert list(PaymentNotification.objects.order_by("id").values_list("outcome", flat=True)) == [
        "UNREADABLE_NOTIFICATION", "UNREADABLE_NOTIFICATION", "INVALID_NOTIFICATION"]


def test_the_audit_list_never_shows_a_signature_or_unbounded_junk(api_as, buyer, make_product):
    api = api_as(buyer)
    order = place(api, make_product(keys=1))
    notify(api, {**signed(order), "trade_no": "\u202e" + "T" * 5000, "junk" * 50: "x"})
    audit = PaymentNotification.objects.get()
    assert audit.outcome == "BAD_SIGNATURE" and "sign" not in audit.fields
    assert len(audit.fields["trade_no"]) <= 128 and "\u202e" not in audit.fields["trade_no"]
    assert audit.fields["_unexpected_fields"] == 1 and len(audit.trade_no) <= 64


def test_a_forged_amount_with_the_old_signature_is_refused(api_as, buyer, make_product):
    api = api_as(buyer)
    order = place(api, make_product(keys=1))
    fields = signed(order)
    fields["amount"] = "0.01"  # signature no longer matches
    assert notify(api, fields).json()["error"]["code"] == "BAD_SIGNATURE"
    assert notify(api, {"payment_no": order["payment"]["payment_no"]}).json()["error"]["code"] == "INVALID_NOTIFICATION"


def test_the_sandbox_pay_endpoint_is_the_buyers_only(api_as, buyer, make_user, make_product):
    order = place(api_as(buyer), make_product(keys=1))
    stranger = api_as(make_user("buyer"))
    assert stranger.post(f"/sandbox/payments/{order['payment']['payment_no']}/pay").status_code == 404
    paid = api_as(buyer).post(f"/sandbox/payments/{order['payment']['payment_no']}/pay")
    assert paid.json()["order_status"] == "delivered"


def test_sandbox_paths_are_404_when_the_sandbox_is_off(api_as, buyer, admin, make_product, settings):
    order = place(api_as(buyer), make_product(keys=1))
    settings.KAMENG_SANDBOX = False
    assert api_as(buyer).post(f"/sandbox/payments/{order['payment']['payment_no']}/pay").status_code == 404
    assert api_as(admin).post("/sandbox/clock/advance", {"hours": 1}).status_code == 404
    assert api_as().post("/sandbox/clock/advance", {"hours": 1}).status_code == 404


def test_unpaid_orders_expire_and_release_their_keys(api_as, buyer, admin, make_product):
    product = make_product(keys=1)
    api = api_as(buyer)
    order = place(api, product)
    assert api.get(f"/products/{product.id}").json()["stock"] == 0
    assert api_as(admin).post("/sandbox/clock/advance", {"hours": 0.3}).status_code == 200
    assert api.get(f"/orders/{order['order_no']}").json()["status"] == "expired"
    assert api.get(f"/products/{product.id}").json()["stock"] == 1


def test_only_admins_move_the_clock(api_as, buyer):
    assert api_as(buyer).post("/sandbox/clock/advance", {"hours": 1}).status_code == 403
    assert api_as(buyer).post("/sandbox/clock/advance", {"hours": -1}).status_code == 422


def test_a_late_payment_is_taken_and_delivered_when_stock_remains(api_as, buyer, admin, make_product):
    api = api_as(buyer)
    order = place(api, make_product(keys=1))
    api_as(admin).post("/sandbox/clock/advance", {"hours": 1})
    assert notify(api, signed(order)).status_code == 200
    detail = api.get(f"/orders/{order['order_no']}").json()
    assert detail["status"] == "delivered" and detail["paid_at"]


def test_a_late_payment_after_stock_ran_out_stays_paid_undelivered_then_fills_from_new_stock(
    api_as, buyer, make_user, admin, supplier, make_product, fund_wallet
):
    product = make_product(keys=1)
    api = api_as(buyer)
    late = place(api, product)
    api_as(admin).post("/sandbox/clock/advance", {"hours": 1})
    rival = make_user("buyer")
    fund_wallet(rival, 10_000)
    assert place(api_as(rival), product, channel="wallet")["status"] == "delivered"

    assert notify(api, signed(late)).status_code == 200
    detail = api.get(f"/orders/{late['order_no']}").json()
    assert detail["status"] == "paid" and detail["items"][0]["status"] == "pending"
    assert book_check().ok

    api_as(supplier).post(f"/admin/products/{product.id}/keys", {"keys": ["RESTOCK-1"]})
    run_queued_tasks()
    assert api.get(f"/orders/{late['order_no']}").json()["status"] == "delivered"


def test_top_up_is_dispatched_then_completed_by_the_supplier(api_as, buyer, supplier, make_product, fund_wallet):
    fund_wallet(buyer, 10_000)
    api = api_as(buyer)
    order = place(api, make_product(kind="topup", price="49.50"), channel="wallet", recharge_account="13800138000")
    assert order["status"] == "paid" and order["topup"]["status"] == "queued"
    run_queued_tasks()
    detail = api.get(f"/orders/{order['order_no']}").json()
    assert detail["topup"]["status"] == "dispatched" and detail["topup"]["upstream_ref"].startswith("UP")
    result = api_as(supplier).post(f"/sandbox/topups/{order['order_no']}/result", {"status": "success"})
    assert result.status_code == 200 and result.json()["order_status"] == "delivered"
    again = api_as(supplier).post(f"/sandbox/topups/{order['order_no']}/result", {"status": "failed"})
    assert again.status_code == 409
    assert book_check().ok


def test_a_failed_top_up_leaves_the_order_paid_for_after_sales(api_as, buyer, supplier, make_product, fund_wallet):
    fund_wallet(buyer, 10_000)
    api = api_as(buyer)
    order = place(api, make_product(kind="topup"), channel="wallet", recharge_account="player-001")
    run_queued_tasks()
    api_as(supplier).post(f"/sandbox/topups/{order['order_no']}/result", {"status": "failed"})
    detail = api.get(f"/orders/{order['order_no']}").json()
    assert detail["status"] == "paid" and detail["topup"]["status"] == "failed"
    assert api.post(f"/orders/{order['order_no']}/reveal").status_code == 409


def test_manual_products_are_delivered_by_their_supplier(api_as, buyer, supplier, make_user, make_product, fund_wallet):
    fund_wallet(buyer, 100_000)
    product = make_product(is_manual=True, price="98.00")
    api = api_as(buyer)
    order = place(api, product, channel="wallet", quantity=2)
    assert order["status"] == "paid"
    listed = api_as(supplier).get("/supplier/manual-orders").json()
    assert [o["order_no"] for o in listed] == [order["order_no"]]
    other = api_as(make_user("supplier"))
    assert other.post(f"/supplier/orders/{order['order_no']}/deliver", {"contents": ["a", "b"]}).status_code == 404
    wrong = api_as(supplier).post(f"/supplier/orders/{order['order_no']}/deliver", {"contents": ["only-one"]})
    assert wrong.status_code == 422
    done = api_as(supplier).post(f"/supplier/orders/{order['order_no']}/deliver", {"contents": ["GIFT-A", "GIFT-B"]})
    assert done.json()["status"] == "delivered"
    secrets = sorted(i["secret"] for i in api.post(f"/orders/{order['order_no']}/reveal").json()["items"])
    assert secrets == ["GIFT-A", "GIFT-B"]
    assert book_check().ok


def test_wallet_recharge_through_the_sandbox(api_as, buyer):
    api = api_as(buyer)
    payment = api.post("/wallet/recharge", {"amount": "100.00", "channel": "wechat"}).json()
    api.post(f"/sandbox/payments/{payment['payment_no']}/pay")
    assert api.get("/wallet").json()["balance"] == "100.00"
    assert api.post("/wallet/recharge", {"amount": "0.00", "channel": "wechat"}).status_code == 422


def test_the_ledger_holds_commission_and_supplier_payable(api_as, buyer, supplier, make_product, fund_wallet):
    from kameng.ledger.services import Accounts, balance

    fund_wallet(buyer, 10_000)
    place(api_as(buyer), make_product(keys=1, price="20.00"), channel="wallet")
    assert str(balance(Accounts.payable(supplier.id))) == "19.00"
    assert str(balance(Accounts.COMMISSION)) == "1.00"
    assert str(balance(Accounts.ESCROW)) == "0.00"
    assert book_check().ok


def test_stock_count_excludes_held_keys(api_as, buyer, make_product):
    product = make_product(keys=3)
    place(api_as(buyer), product, quantity=2)
    assert CardSecret.objects.filter(status="reserved").count() == 2
    assert api_as().get(f"/products/{product.id}").json()["stock"] == 1
    assert Order.objects.get().status == "pending_payment"


def test_finance_reads_a_balanced_book(api_as, buyer, make_user, make_product, fund_wallet):
    fund_wallet(buyer, 10_000)
    place(api_as(buyer), make_product(keys=1, price="20.00"), channel="wallet")
    book = api_as(make_user("finance")).get("/finance/ledger").json()
    assert book["balanced"] and book["unbalanced"] == []
    balances = {a["code"]: a["balance"] for a in book["accounts"]}
    assert balances["commission"] == "1.00" and balances[f"wallet:{buyer.id}"] == "80.00"
    assert api_as(buyer).get("/finance/ledger").status_code == 403


def test_a_cancelled_order_frees_its_keys_and_a_late_payment_is_still_taken(api_as, buyer, make_product):
    product = make_product(keys=1)
    api = api_as(buyer)
    order = place(api, product)
    cancelled = api.post(f"/orders/{order['order_no']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "closed"
    assert api.get(f"/products/{product.id}").json()["stock"] == 1
    assert api.post(f"/orders/{order['order_no']}/cancel").json()["error"]["code"] == "CANCEL_NOT_ALLOWED"
    assert notify(api, signed(order)).status_code == 200  # the buyer paid anyway: never lost
    assert api.get(f"/orders/{order['order_no']}").json()["status"] == "delivered"


def test_a_notification_too_large_to_read_is_a_413_and_recorded(api_as, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 200
    response = api_as().client.post("/api/v1/payments/notify/sandbox", {"payment_no": "P" * 500})
    assert response.status_code == 413 and response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert PaymentNotification.objects.get().outcome == "PAYLOAD_TOO_LARGE"
