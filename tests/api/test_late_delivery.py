"""Late-delivery compensation (refund policy `late_delivery_compensation_rate`): an item delivered after its
promise earns the buyer rate × its price in the wallet at once, by any delivery path, paid by the supplier,
once — however often the delivery is reported."""

from datetime import timedelta

import pytest
from django.test import Client

from kameng.cli import main as kameng
from kameng.core import clock
from kameng.core.times import for_person
from kameng.core.worker import run_queued_tasks
from kameng.ledger.models import Journal
from kameng.ledger.services import Accounts, balance
from kameng.notifications.models import InboxMessage
from kameng.orders.models import Order

from .test_payments import notify, place, signed

LATE_10 = {"late_delivery_compensation_rate": "0.10"}


def _wallet_order(api_as, buyer, fund_wallet, product, quantity=1, **extra):
    fund_wallet(buyer, 10_000)
    api = api_as(buyer)
    order = api.post("/orders", {"product_id": product.id, "quantity": quantity, "channel": "wallet",
                                 "accept_terms": True, **extra}).json()
    assert order["status"] == "paid", order
    return api, order


def _compensations(order_no):
    return Journal.objects.filter(order__order_no=order_no, kind="late_delivery_compensation")


def _deliver(api_as, supplier, order, contents):
    return api_as(supplier).post(f"/supplier/orders/{order['order_no']}/deliver", {"contents": contents})


def test_a_manual_delivery_after_the_promise_pays_the_buyer_at_once_from_the_supplier_once(
        api_as, buyer, supplier, make_product, fund_wallet, capsys):
    product = make_product(is_manual=True, price="10.00", delivery_promise_minutes=30, refund_policy=LATE_10)
    api, order = _wallet_order(api_as, buyer, fund_wallet, product, quantity=2)
    assert api.get("/wallet").json()["balance"] == "80.00"
    clock.advance(seconds=2 * 3600)  # the supplier delivers an hour and a half late

    assert _deliver(api_as, supplier, order, ["CODE-A", "CODE-B"]).status_code == 200
    assert api.get("/wallet").json()["balance"] == "82.00"  # 10 % of 10.00, for each of the two items
    # The supplier was settled 19.00 (20.00 less 5 % commission) and bears the 2.00.
    assert balance(Accounts.payable(supplier.id)).fen == 1900 - 200
    assert balance(Accounts.COMMISSION).fen == 100

    # Reported again: refused, and nothing is paid twice.
    again = _deliver(api_as, supplier, order, ["CODE-A", "CODE-B"])
    assert again.status_code == 409
    assert api.get("/wallet").json()["balance"] == "82.00" and _compensations(order["order_no"]).count() == 2

    message = InboxMessage.objects.get(user=buyer, title__contains="迟发补偿")
    paid = Order.objects.get(order_no=order["order_no"])
    assert "¥2.00" in message.title and "¥2.00" in message.body and "10%" in message.body
    # Beijing times, as every page shows them: the promise and the actual delivery.
    assert for_person(paid.paid_at + timedelta(minutes=30)) in message.body
    assert for_person(paid.delivered_at) in message.body

    page = Client()
    page.force_login(buyer)
    html = page.get(f"/orders/{order['order_no']}/").content.decode()
    assert "迟发补偿 ¥2.00 已到钱包" in html

    assert kameng(["check-ledger"]) == 0 and "the book balances" in capsys.readouterr().out


def test_delivery_on_time_a_zero_rate_or_an_order_from_before_the_rule_earns_nothing(
        api_as, buyer, supplier, make_product, fund_wallet):
    on_time = make_product(is_manual=True, price="10.00", delivery_promise_minutes=30, refund_policy=LATE_10)
    api, first = _wallet_order(api_as, buyer, fund_wallet, on_time)
    clock.advance(seconds=29 * 60)
    assert _deliver(api_as, supplier, first, ["X-1"]).status_code == 200

    no_rate = make_product(is_manual=True, price="10.00", delivery_promise_minutes=30)  # the default: "0.00"
    assert no_rate.refund_policy["late_delivery_compensation_rate"] == "0.00"
    _, second = _wallet_order(api_as, buyer, fund_wallet, no_rate)

    # Bought before the field existed: its snapshot has no rate, and it was promised none.
    old = make_product(is_manual=True, price="10.00", delivery_promise_minutes=30, refund_policy=LATE_10)
    _, third = _wallet_order(api_as, buyer, fund_wallet, old)
    stored = Order.objects.get(order_no=third["order_no"])
    snapshot = stored.snapshot
    del snapshot["refund_policy"]["late_delivery_compensation_rate"]
    stored.snapshot = snapshot  # a version of its own: what the product said then
    stored.save(update_fields=["snapshot_version"])

    clock.advance(seconds=3 * 3600)
    assert _deliver(api_as, supplier, second, ["X-2"]).status_code == 200
    assert _deliver(api_as, supplier, third, ["X-3"]).status_code == 200
    assert api.get("/wallet").json()["balance"] == str(300 - 30) + ".00"
    assert not Journal.objects.filter(kind="late_delivery_compensation").exists()
    assert not InboxMessage.objects.filter(title__contains="迟发补偿").exists()


def test_a_backorder_filled_late_after_a_restock_is_compensated(api_as, buyer, make_user, admin, supplier,
                                                                 make_product, fund_wallet):
    product = make_product(keys=1, price="10.00", delivery_promise_minutes=5,
                           refund_policy={"late_delivery_compensation_rate": "0.50"})
    api = api_as(buyer)
    late = place(api, product)
    api_as(admin).post("/sandbox/clock/advance", {"hours": 1})  # expired: its key goes back to stock
    rival = make_user("buyer")  # a rival buys the last key
    fund_wallet(rival, 1000)
    assert place(api_as(rival), product, channel="wallet")["status"] == "delivered"
    assert notify(api, signed(late)).status_code == 200  # paid at the last second: nothing left to deliver
    assert api.get(f"/orders/{late['order_no']}").json()["status"] == "paid"
    run_queued_tasks()  # the jobs of the payment run at once: within its promise, nothing is refunded yet

    clock.advance(seconds=3600)  # restocked an hour later: well past the five-minute promise
    api_as(supplier).post(f"/admin/products/{product.id}/keys", {"keys": ["RESTOCK-1"]})
    run_queued_tasks()
    assert api.get(f"/orders/{late['order_no']}").json()["status"] == "delivered"
    assert api.get("/wallet").json()["balance"] == "5.00"  # half of 10.00, in a wallet the buyer never funded
    assert _compensations(late["order_no"]).count() == 1


def test_a_top_up_that_succeeds_late_is_compensated_once_however_often_success_is_reported(
        api_as, buyer, supplier, make_product, fund_wallet):
    product = make_product(kind="topup", price="10.00", delivery_promise_minutes=10,
                           refund_policy={"late_delivery_compensation_rate": "0.20"})
    api, order = _wallet_order(api_as, buyer, fund_wallet, product, recharge_account="13800138000")
    run_queued_tasks()
    assert api.get(f"/orders/{order['order_no']}").json()["topup"]["status"] == "dispatched"
    clock.advance(seconds=3600)
    report = api_as(supplier).post(f"/sandbox/topups/{order['order_no']}/result", {"status": "success"})
    assert report.status_code == 200 and report.json()["order_status"] == "delivered"
    assert api.get("/wallet").json()["balance"] == "92.00"
    again = api_as(supplier).post(f"/sandbox/topups/{order['order_no']}/result", {"status": "success"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "TOPUP_FINISHED"
    assert api.get("/wallet").json()["balance"] == "92.00" and _compensations(order["order_no"]).count() == 1


def test_a_top_up_delivered_in_time_earns_nothing(api_as, buyer, supplier, make_product, fund_wallet):
    product = make_product(kind="topup", price="10.00", delivery_promise_minutes=10,
                           refund_policy={"late_delivery_compensation_rate": "0.20"})
    api, order = _wallet_order(api_as, buyer, fund_wallet, product, recharge_account="13800138000")
    run_queued_tasks()
    clock.advance(seconds=9 * 60)
    api_as(supplier).post(f"/sandbox/topups/{order['order_no']}/result", {"status": "success"})
    assert api.get("/wallet").json()["balance"] == "90.00" and not _compensations(order["order_no"]).exists()


@pytest.mark.parametrize("rate", ["0.51", "-0.01", "0.055", "1", "abc", 0.1, True, None])
def test_a_bad_compensation_rate_is_a_422_and_nothing_is_stored(api_as, supplier, rate):
    response = api_as(supplier).post("/admin/products", {
        "name": "迟发补偿", "kind": "card", "price": "1.00", "refund_policy": {"late_delivery_compensation_rate": rate}})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "INVALID_REFUND_POLICY"
    assert api_as().get("/products").json() == []


def test_the_rate_is_shown_in_the_product_and_its_text_only_when_above_zero(api_as, supplier):
    api = api_as(supplier)
    plain = api.post("/admin/products", {"name": "无补偿", "kind": "card", "price": "1.00"}).json()
    assert plain["refund_policy"]["late_delivery_compensation_rate"] == "0.00"
    assert "补偿" not in plain["refund_policy"]["text"]
    paying = api.post("/admin/products", {"name": "有补偿", "kind": "card", "price": "1.00",
                                          "refund_policy": {"late_delivery_compensation_rate": "0.1"}}).json()
    assert paying["refund_policy"]["late_delivery_compensation_rate"] == "0.10"
    assert "10% 补偿到钱包" in paying["refund_policy"]["text"]
    english = api_as().get(f"/products/{paying['id']}", headers={"Accept-Language": "en"}).json()
    assert "10% of the item's price is credited to your wallet" in english["refund_policy"]["text"]
    assert "credited" not in api_as().get(f"/products/{plain['id']}",
                                          headers={"Accept-Language": "en"}).json()["refund_policy"]["text"]


def test_the_suppliers_page_and_the_admin_set_the_rate_with_the_same_rules(api_as, supplier):
    from kameng.catalog.admin import ProductAdminForm
    from kameng.catalog.models import Product

    page = Client()
    page.force_login(supplier)
    form = page.get("/supplier/products/new/").content.decode()
    assert "迟发补偿比例" in form
    data = {"name": "迟发有补偿", "kind": "card", "price": "9.90", "face_value": "10.00", "delivery_promise_minutes": 5,
            "refund_window_hours": 24, "personal_reason_fee_rate": "0.03", "review_sla_workdays": 3,
            "appeal_window_days": 7, "info_reply_hours": 24, "description": "", "late_delivery_compensation_rate": "0.1"}
    assert page.post("/supplier/products/new/", data).status_code == 302
    assert Product.objects.get(name="迟发有补偿").refund_policy["late_delivery_compensation_rate"] == "0.10"
    too_much = page.post("/supplier/products/new/", {**data, "name": "太多", "late_delivery_compensation_rate": "0.9"})
    assert too_much.status_code == 422 and not Product.objects.filter(name="太多").exists()

    product = Product.objects.get(name="迟发有补偿")
    fields = {"supplier": supplier.id, "name": product.name, "description": "", "kind": "card", "price": "9.90",
              "face_value": "10.00", "delivery_promise_minutes": 5, "is_active": True, "source_sku": "",
              "created_at": "2026-11-23 10:00:00", "updated_at": "2026-11-23 10:00:00"}
    bad = ProductAdminForm(data={**fields, "refund_policy": '{"late_delivery_compensation_rate": "0.9"}'},
                           instance=product)
    assert not bad.is_valid() and "late_delivery_compensation_rate" in str(bad.errors["refund_policy"])
    good = ProductAdminForm(data={**fields, "refund_policy": '{"late_delivery_compensation_rate": "0.2"}'},
                            instance=product)
    assert good.is_valid(), good.errors
    assert good.cleaned_data["refund_policy"]["late_delivery_compensation_rate"] == "0.20"
    assert good.cleaned_data["refund_policy"]["refund_window_hours"] == 72  # the rest: defaults, stored whole


def test_returning_a_late_key_for_a_personal_reason_gives_back_its_compensation(
        api_as, buyer, make_user, admin, supplier, make_product, fund_wallet):
    """Compensation is for waiting, not a discount: a buyer who returns the item undoes the sale, so the
    refund keeps back what its lateness earned (else 50 % compensation and a 5 % fee would be a profit)."""
    product = make_product(keys=1, price="10.00", delivery_promise_minutes=5,
                           refund_policy={"late_delivery_compensation_rate": "0.50"})
    api = api_as(buyer)
    late = place(api, product)
    api_as(admin).post("/sandbox/clock/advance", {"hours": 1})
    rival = make_user("buyer")
    fund_wallet(rival, 1000)
    assert place(api_as(rival), product, channel="wallet")["status"] == "delivered"
    assert notify(api, signed(late)).status_code == 200
    run_queued_tasks()
    clock.advance(seconds=3600)
    api_as(supplier).post(f"/admin/products/{product.id}/keys", {"keys": ["RESTOCK-2"]})
    run_queued_tasks()
    assert api.get("/wallet").json()["balance"] == "5.00"
    supplier_before = balance(Accounts.payable(supplier.id)).fen

    refund = api.post("/refunds", {"order_no": late["order_no"], "reason": "changed_mind", "destination": "wallet",
                                   "description": "买错了，不需要了，卡密还没有查看过。"})
    assert refund.status_code == 201, refund.content
    body = refund.json()
    assert body["status"] == "refunded"
    # 10.00 less the 5 % fee (0.50) less the 5.00 already credited for the late delivery.
    assert body["refund_amount"] == "4.50"
    assert api.get("/wallet").json()["balance"] == "9.50"  # never more than the 10.00 paid, less the fee
    # The supplier ends as if the sale never happened: it had 9.50 of the sale and paid 5.00 compensation,
    # so the return charges it the 4.50 left (and the platform gives back its 0.50 commission).
    assert balance(Accounts.payable(supplier.id)).fen - supplier_before == -450
