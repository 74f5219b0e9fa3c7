"""A top-up is paid for once: never refunded while the supplier may still deliver it, never sent once refunded,
and a success the supplier reports too late is recorded and booked, never a 500."""

from kameng.core import clock
from kameng.core.worker import run_queued_tasks
from kameng.ledger.services import Accounts, balance
from kameng.orders.models import OrderEvent, TopupDispatch

from .conftest import ask

LATE = "付款一小时了还没有到账，订单一直显示处理中。"


def _topup_order(api_as, buyer, make_product, fund_wallet, *, promise=10):
    product = make_product(kind="topup", delivery_promise_minutes=promise, price="10.00", face_value="10.00")
    fund_wallet(buyer, 10_000)
    api = api_as(buyer)
    order = api.post("/orders", {"product_id": product.id, "quantity": 1, "channel": "wallet", "accept_terms": True,
                                 "recharge_account": "13800138000"}).json()
    return api, order


def _report(api_as, supplier, order, status):
    return api_as(supplier).post(f"/sandbox/topups/{order['order_no']}/result", {"status": status})


def test_a_top_up_at_the_supplier_is_not_refunded_as_not_delivered_before_its_result(
        api_as, buyer, supplier, make_product, fund_wallet, advance):
    api, order = _topup_order(api_as, buyer, make_product, fund_wallet)
    advance(1)  # the worker sent it; the supplier has not answered, the promise is past
    assert api.get(f"/orders/{order['order_no']}").json()["topup"]["status"] == "dispatched"
    options = {o["code"]: o for o in api.get(f"/orders/{order['order_no']}/refund-options").json()["reasons"]}
    assert not options["not_delivered"]["eligible"]
    assert "结果" in options["not_delivered"]["why"]
    refused = ask(api, order, "not_delivered", LATE)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "REASON_NOT_ELIGIBLE"
    assert not options["changed_mind"]["eligible"]  # it cannot be called back from the supplier either

    answer = _report(api_as, supplier, order, "success")
    assert answer.status_code == 200 and answer.json()["order_status"] == "delivered"
    assert api.get("/wallet").json()["balance"] == "90.00"  # paid once, delivered once


def test_a_failed_result_refunds_the_buyer_without_being_asked(api_as, buyer, supplier, make_product, fund_wallet,
                                                                advance):
    api, order = _topup_order(api_as, buyer, make_product, fund_wallet)
    advance(1)
    assert _report(api_as, supplier, order, "failed").status_code == 200
    run_queued_tasks()
    assert api.get(f"/orders/{order['order_no']}").json()["status"] == "refunded"
    assert api.get("/wallet").json()["balance"] == "100.00"
    refunds = api.get("/refunds").json()
    assert [r["status"] for r in refunds] == ["refunded"]


def test_a_queued_top_up_refunded_is_never_sent(api_as, buyer, supplier, make_product, fund_wallet):
    api, order = _topup_order(api_as, buyer, make_product, fund_wallet)
    clock.advance(seconds=3600)  # the worker was down: still queued, past its promise
    refund = ask(api, order, "not_delivered", LATE).json()
    assert refund["status"] == "refunded"
    run_queued_tasks()  # the queued send job runs after all
    topup = TopupDispatch.objects.get(order__order_no=order["order_no"])
    assert topup.status == "cancelled" and topup.upstream_ref == ""
    from kameng.orders.models import SandboxSupplierTopup  # the sandbox supplier's record of what it was sent

    assert not SandboxSupplierTopup.objects.filter(order_no=order["order_no"]).exists()
    assert api.get("/wallet").json()["balance"] == "100.00"
    late = _report(api_as, supplier, order, "failed")  # nothing was sent, nothing can fail
    assert late.status_code == 409 and late.json()["error"]["code"] == "TOPUP_FINISHED"


def test_success_reported_after_the_refund_is_recorded_booked_and_answered_once(
        api_as, buyer, supplier, reviewer, make_product, fund_wallet, advance):
    """A reviewer refunded a top-up the supplier had not answered for a day; then the supplier says it worked."""
    api, order = _topup_order(api_as, buyer, make_product, fund_wallet)
    advance(25)
    refund = ask(api, order, "topup_not_received", "已经过了一天，手机号 13800138000 仍未收到话费。").json()
    assert refund["status"] == "submitted"
    approved = api_as(reviewer).post(f"/staff/refunds/{refund['id']}/approve", {"note": "上游无成功记录"})
    assert approved.status_code == 200, approved.content
    assert api.get("/wallet").json()["balance"] == "100.00"
    losses_before = balance("losses").fen

    answer = _report(api_as, supplier, order, "success")
    assert answer.status_code == 200, answer.content
    assert answer.json()["topup_status"] == "succeeded" and answer.json()["order_status"] == "refunded"
    flagged = OrderEvent.objects.get(order__order_no=order["order_no"], event="topup_succeeded_after_refund")
    assert "10.00" in flagged.note
    # The supplier did the work and is paid for it as for any sale; the platform bears what the buyer got back.
    assert balance(Accounts.payable(supplier.id)).fen == 950
    assert balance("losses").fen - losses_before == 1000
    again = _report(api_as, supplier, order, "success")
    assert again.status_code == 409 and again.json()["error"]["code"] == "TOPUP_FINISHED"
    assert OrderEvent.objects.filter(order__order_no=order["order_no"],
                                     event="topup_succeeded_after_refund").count() == 1


def test_a_queued_top_up_waits_while_a_refund_request_is_open_and_is_sent_once_it_is_withdrawn(
        api_as, buyer, make_product, fund_wallet, advance):
    api, order = _topup_order(api_as, buyer, make_product, fund_wallet)
    clock.advance(seconds=25 * 3600)  # the worker was down for a day: still queued, and the buyer asks a reviewer
    refund = ask(api, order, "topup_not_received", "已经过了一天，手机号 13800138000 仍未收到话费。").json()
    assert refund["status"] == "submitted"
    run_queued_tasks()  # the send job runs while the request is open
    assert api.get(f"/orders/{order['order_no']}").json()["topup"]["status"] == "queued"
    assert api.post(f"/refunds/{refund['id']}/withdraw").status_code == 200
    advance(0.1)  # the sweep sends what the job left waiting
    assert api.get(f"/orders/{order['order_no']}").json()["topup"]["status"] == "dispatched"
