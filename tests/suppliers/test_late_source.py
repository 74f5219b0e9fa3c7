"""A goods source that delivers after the promise: its late success, found by the query, is compensated once."""

from kameng.ledger.models import Journal
from kameng.orders.models import Order

from .test_sources import later, state


def test_a_source_success_found_late_by_the_query_pays_the_compensation_once(fake, buy):
    api, order = buy(promise=10)
    stored = Order.objects.get(order_no=order["order_no"])  # as if bought with a 10 % late-delivery rate
    snapshot = stored.snapshot
    snapshot["refund_policy"]["late_delivery_compensation_rate"] = "0.10"
    stored.snapshot = snapshot
    stored.save(update_fields=["snapshot_version"])
    fake.finish(order["order_no"], "success")  # its callback never arrives
    later(0.35)  # the query finds it once the promise has passed: delivered late
    assert state(api, order) == ("delivered", "succeeded")
    assert api.get("/wallet").json()["balance"] == "91.00"
    later(1)  # nothing asks or pays again
    assert api.get("/wallet").json()["balance"] == "91.00"
    assert Journal.objects.filter(order__order_no=order["order_no"], kind="late_delivery_compensation").count() == 1
