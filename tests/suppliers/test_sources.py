"""Top-ups and on-demand card keys through a goods source speaking KSP/1, against a fake source over real HTTP."""

import logging
import time

import pytest
from django.test import Client

from kameng.aftersales.models import Refund
from kameng.catalog.models import SupplierNotification, SupplierOrder
from kameng.catalog.suppliers.base import UnknownOutcome
from kameng.catalog.supply import balance_fen
from kameng.core import clock
from kameng.core.deadlines import process_due
from kameng.core.worker import run_queued_tasks
from kameng.ledger.models import Journal
from kameng.orders.models import OrderEvent

from .fake_source import API_SECRET, NOTIFY_SECRET


def later(hours):
    """Time passes: the worker's sweeps and jobs run."""
    clock.advance(seconds=int(hours * 3600))
    for _ in range(2):
        process_due()
        run_queued_tasks()


def state(api, order):
    detail = api.get(f"/orders/{order['order_no']}").json()
    return detail["status"], detail["topup"]["status"]


@pytest.fixture
def live(live_server, settings):
    settings.KAMENG_PUBLIC_URL = live_server.url
    return live_server


def test_order_then_signed_callback_delivers_once(live, fake, buy):
    api, order = buy()
    placed = fake.orders[order["order_no"]]
    assert placed["account"] == "13800138000" and placed["sku"] == "CMCC-10" and placed["face_value"] == "10.00"
    assert state(api, order) == ("paid", "dispatched") and order["topup"]["upstream_ref"] == placed["order_no"]

    fake.finish(order["order_no"], "success")
    assert fake.notify(order["order_no"]) == (200, {"code": "0000", "message": "accepted"})
    assert state(api, order) == ("delivered", "succeeded")
    assert api.get("/wallet").json()["balance"] == "90.00"
    again = fake.notify(order["order_no"])  # the source repeats itself (fresh nonce): acknowledged, nothing changes
    assert again[0] == 200 and again[1]["code"] == "0000"
    assert Journal.objects.filter(reference=f"settle:{order['order_no']}").count() == 1
    assert list(SupplierNotification.objects.order_by("id").values_list("outcome", flat=True)) == ["ACCEPTED", "DUPLICATE"]


def test_forged_stale_tampered_and_replayed_callbacks_change_nothing(live, fake, buy, source):
    api, order = buy()
    no = order["order_no"]
    fake.finish(no, "success")
    refused = [
        (fake.notify(no, secret="not-the-notify-secret-at-all"), 401, "1001", "BAD_SIGNATURE"),
        (fake.notify(no, ts=str(int(time.time()) - 600)), 401, "1002", "STALE_NOTIFICATION"),
        (fake.notify(no, merchant="M99999"), 401, "1004", "UNKNOWN_MERCHANT"),
        (fake.notify(no, body=fake.callback_body(no, face_value="100.00")), 400, "2005", "AMOUNT_MISMATCH"),
        (fake.notify(no, body=fake.callback_body(no, quantity=3)), 400, "2005", "AMOUNT_MISMATCH"),
        (fake.notify(no, body=fake.callback_body(no, out_order_no="K-NOT-OURS")), 404, "3001", "ORDER_NOT_FOUND"),
        (fake.notify(no, body=b"{not json"), 400, "1005", "MALFORMED_NOTIFICATION"),
        (fake.notify(no, body=fake.callback_body(no, status="maybe")), 400, "1005", "MALFORMED_NOTIFICATION"),
    ]
    for (status, body), want_status, want_code, our_code in refused:
        assert (status, body["code"], body["error"]["code"]) == (want_status, want_code, our_code)
        assert state(api, order) == ("paid", "dispatched")
    original = fake.orders[no]["notify_url"]
    for other in (original.replace(f"/notify/{source.id}", "/notify/999"), original.replace(f"/notify/{source.id}", "/notify/abc")):
        fake.orders[no]["notify_url"] = other
        assert fake.notify(no)[0] == 404
    fake.orders[no]["notify_url"] = original
    assert state(api, order) == ("paid", "dispatched")
    assert Journal.objects.filter(reference=f"settle:{no}").count() == 0

    ts, nonce = str(int(time.time())), "a1b2c3d4e5f60718293a4b5c6d7e8f90"
    assert fake.notify(no, ts=ts, nonce=nonce)[0] == 200
    replay = fake.notify(no, ts=ts, nonce=nonce)  # the very same signed message, sent again by someone
    assert replay[0] == 409 and replay[1]["code"] == "1003"
    assert state(api, order) == ("delivered", "succeeded")
    assert OrderEvent.objects.filter(order__order_no=no, event="topup_succeeded").count() == 1
    outcomes = list(SupplierNotification.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes[-2:] == ["ACCEPTED", "REPLAYED"] and len(outcomes) == len(refused) + 4
    assert all("sign" not in n.fields and "Signature" not in str(n.fields) for n in SupplierNotification.objects.all())


def test_a_failed_result_refunds_once(live, fake, buy):
    api, order = buy()
    fake.finish(order["order_no"], "failed")
    assert fake.notify(order["order_no"])[1]["code"] == "0000"
    run_queued_tasks()
    assert state(api, order) == ("refunded", "failed")
    assert fake.notify(order["order_no"])[1]["code"] == "0000"  # repeated: acknowledged, no second refund
    run_queued_tasks()
    later(49)  # and the sweep has nothing left to do with it
    assert [r["status"] for r in api.get("/refunds").json()] == ["refunded"]
    assert api.get("/wallet").json()["balance"] == "100.00"


def test_a_lost_callback_is_recovered_by_the_query_once_the_promise_passed(fake, buy):
    api, order = buy(promise=10)
    fake.finish(order["order_no"], "success")  # its callback never arrives
    queried = fake.calls.count("/ksp/v1/order/query")
    later(0.1)  # within the promise: nobody asks yet
    assert fake.calls.count("/ksp/v1/order/query") == queried and state(api, order) == ("paid", "dispatched")
    later(0.25)
    assert state(api, order) == ("delivered", "succeeded")
    assert OrderEvent.objects.get(order__order_no=order["order_no"], event="topup_succeeded").actor.startswith(
        "supplier-query:")


def test_a_failure_found_by_the_query_refunds(fake, buy):
    api, order = buy()
    fake.finish(order["order_no"], "failed")
    later(1)
    assert state(api, order) == ("refunded", "failed")
    assert api.get("/wallet").json()["balance"] == "100.00"


def test_a_source_silent_past_the_hard_limit_ends_in_a_refund(fake, buy, settings):
    settings.KAMENG_TOPUP_TIMEOUT_HOURS = 6
    api, order = buy()
    later(5)  # still processing at the source: asked, kept
    assert state(api, order) == ("paid", "dispatched")
    assert SupplierOrder.objects.get(order__order_no=order["order_no"]).queries >= 1
    later(2)
    assert state(api, order) == ("refunded", "failed")
    assert OrderEvent.objects.filter(order__order_no=order["order_no"], event="topup_timed_out").exists()
    assert [r["status"] for r in api.get("/refunds").json()] == ["refunded"]
    assert "超时" in Refund.objects.get().description


@pytest.mark.parametrize("mode", ["garbage", "timeout", "bad_signature", "busy"])
def test_a_source_answering_garbage_or_nothing_leaves_the_top_up_in_flight_for_the_query(fake, buy, mode):
    fake.mode = mode
    api, order = buy()
    assert state(api, order) == ("paid", "dispatched")  # sent, outcome unknown: neither failed nor refunded
    later(1)  # the queries get no usable answer either
    assert state(api, order) == ("paid", "dispatched")
    fake.mode = "normal"
    if order["order_no"] in fake.orders:  # it did reach the source: the answer was what got lost
        fake.finish(order["order_no"], "success")
        later(1)
        assert state(api, order) == ("delivered", "succeeded")
    else:  # it never arrived (the source hung before reading it): "no such order" is the truth, refunded
        later(1)
        assert state(api, order) == ("refunded", "failed")
    assert api.get("/wallet").json()["balance"] in ("90.00", "100.00")


def test_a_signed_refusal_of_the_order_refunds_at_once(fake, buy):
    fake.submit_code = "2002"  # insufficient balance at the source
    api, order = buy()
    run_queued_tasks()
    assert state(api, order) == ("refunded", "failed")
    assert api.get("/wallet").json()["balance"] == "100.00"


def test_the_sandbox_result_route_cannot_settle_an_order_of_a_real_source(fake, buy, api_as, admin):
    api, order = buy()
    answer = api_as(admin).post(f"/sandbox/topups/{order['order_no']}/result", {"status": "success"})
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "NOT_SANDBOX_TOPUP"
    assert state(api, order) == ("paid", "dispatched")


def test_an_oversized_or_hostile_callback_is_refused_without_a_500(fake, buy, source):
    api, order = buy()
    client = Client()
    big = client.post(f"/api/v1/suppliers/notify/{source.id}", data=b"{" + b" " * (70 * 1024) + b"}",
                      content_type="application/json")
    assert big.status_code == 413
    nul = client.post(f"/api/v1/suppliers/notify/{source.id}%00", data=b"{}", content_type="application/json")
    assert nul.status_code == 404 and nul.json()["code"] == "1004"
    unsigned = client.post(f"/api/v1/suppliers/notify/{source.id}", data=fake.callback_body(order["order_no"]),
                           content_type="application/json")
    assert unsigned.status_code == 400 and unsigned.json()["code"] == "1005"
    assert state(api, order) == ("paid", "dispatched")
    assert SupplierNotification.objects.filter(outcome="SOURCE_NOT_FOUND").count() == 1


def test_balance_query(fake, source):
    assert balance_fen(source) == 123_456
    fake.mode = "bad_signature"
    with pytest.raises(UnknownOutcome):
        balance_fen(source)


def test_card_keys_bought_on_demand_are_delivered_encrypted(live, fake, buy):
    api, order = buy(kind="card", quantity=2)
    assert fake.orders[order["order_no"]]["kind"] == "card" and state(api, order) == ("paid", "dispatched")
    fake.finish(order["order_no"], "success", cards=["CARD-0001 PIN-1111", "CARD-0002 PIN-2222"])
    assert fake.notify(order["order_no"])[1]["code"] == "0000"
    assert api.get(f"/orders/{order['order_no']}").json()["status"] == "delivered"
    revealed = api.post(f"/orders/{order['order_no']}/reveal").json()
    assert sorted(k["secret"] for k in revealed["items"]) == ["CARD-0001 PIN-1111", "CARD-0002 PIN-2222"]


def test_card_keys_in_the_submit_answer_are_delivered_at_once(fake, buy):
    fake.instant_cards = ["INSTANT-0001 PIN-9"]
    api, order = buy(kind="card")
    assert api.get(f"/orders/{order['order_no']}").json()["status"] == "delivered"
    assert api.post(f"/orders/{order['order_no']}/reveal").json()["items"][0]["secret"] == "INSTANT-0001 PIN-9"


def test_unusable_card_keys_are_refused_and_leave_the_order_in_flight(live, fake, buy):
    api, order = buy(kind="card", quantity=2)
    fake.finish(order["order_no"], "success", cards=["ONLY-ONE-CARD"])
    status, body = fake.notify(order["order_no"])
    assert status == 422 and body["code"] == "1005" and body["error"]["code"] == "CARDS_UNUSABLE"
    assert state(api, order) == ("paid", "dispatched")
    fake.finish(order["order_no"], "success", cards=["CARD-A1", "CARD-A2"])  # the source corrects itself
    assert fake.notify(order["order_no"])[1]["code"] == "0000"
    assert state(api, order) == ("delivered", "succeeded")


def test_the_secrets_never_reach_logs_or_admin_pages(live, fake, buy, source, make_user, caplog):
    caplog.set_level(logging.DEBUG)
    fake.mode = "garbage"
    api, order = buy()
    fake.mode = "normal"
    fake.notify(order["order_no"], secret="forged-secret-forged-secret")
    fake.finish(order["order_no"], "success")
    fake.notify(order["order_no"])
    admin = Client()
    admin.force_login(make_user("admin"))
    pages = [admin.get(path) for path in ("/admin/catalog/suppliersource/", f"/admin/catalog/suppliersource/{source.id}/change/",
                                          "/admin/catalog/suppliernotification/", "/admin/catalog/product/")]
    assert all(page.status_code == 200 for page in pages)
    for secret in (API_SECRET, NOTIFY_SECRET):
        assert secret not in caplog.text
        assert all(secret.encode() not in page.content for page in pages)
        assert secret not in repr(source) and secret not in repr(source.connection_settings())
    assert API_SECRET.encode() not in bytes(source.api_secret_encrypted)
