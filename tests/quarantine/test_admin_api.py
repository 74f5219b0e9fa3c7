"""An admin releases or voids a quarantined batch through the API; anyone else finds no batch."""

import pytest

from kameng.core.worker import run_queued_tasks
from kameng.inventory.models import CardSecret
from kameng.notifications.models import InboxMessage
from kameng.orders.models import Order

from .conftest import batch_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def quarantined(product, claim_bad):
    claim_bad(product)
    claim_bad(product)
    batch = batch_of(product)
    assert batch.quarantine == "quarantined"
    return batch


def test_the_admin_lists_quarantined_batches_and_others_find_none(quarantined, api_as, admin, supplier, buyer,
                                                                   reviewer):
    answer = api_as(admin).get("/admin/batches")
    assert answer.status_code == 200, answer.content
    [row] = answer.json()
    assert row["id"] == quarantined.id and row["quarantine"] == "quarantined"
    assert row["defects"] == 2 and row["sold"] == 2 and row["frozen_keys"] == 8 and row["available_keys"] == 0
    assert row["quarantined_at"].endswith("+08:00")
    assert [e["event"] for e in row["events"]] == ["quarantined"]
    for other in (supplier, buyer, reviewer):
        assert api_as(other).get("/admin/batches").status_code == 404
        assert api_as(other).get(f"/admin/batches/{quarantined.id}").status_code == 404
        refused = api_as(other).post(f"/admin/batches/{quarantined.id}/void", {})
        assert refused.status_code == 404 and refused.json()["error"]["code"] == "BATCH_NOT_FOUND"
    assert CardSecret.objects.filter(batch=quarantined, status="frozen").count() == 8
    assert api_as(admin).get("/admin/batches?state=nonsense").status_code == 422
    assert api_as(admin).get("/admin/batches/999999").status_code == 404


def test_release_puts_the_keys_back_on_sale_once_and_fills_waiting_orders(product, claim_bad, api_as, admin,
                                                                          supplier, make_user):
    # An unpaid order held a key of the batch; with no other stock it is closed when the batch is quarantined.
    waiting = make_user("buyer")
    placed = api_as(waiting).post("/orders", {"product_id": product.id, "quantity": 1, "channel": "alipay",
                                              "accept_terms": True}).json()
    claim_bad(product)
    claim_bad(product)
    quarantined = batch_of(product)
    run_queued_tasks()
    backorder = Order.objects.get(order_no=placed["order_no"])
    assert backorder.status == "closed"
    # The buyer pays anyway: the money is taken, and the order waits for stock (a backorder).
    api_as(waiting).post(f"/sandbox/payments/{placed['payment']['payment_no']}/pay")
    backorder.refresh_from_db()
    assert backorder.status == "paid"

    answer = api_as(admin).post(f"/admin/batches/{quarantined.id}/release", {"note": "供货商已换货核实"})
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["quarantine"] == "released" and body["decided_by"] == f"admin:{admin.username}"
    assert body["decided_at"] and body["note"] == "供货商已换货核实" and body["frozen_keys"] == 0
    assert [e["event"] for e in body["events"]] == ["quarantined", "released"]
    run_queued_tasks()
    assert Order.objects.get(id=backorder.id).status == "delivered"
    assert api_as().get(f"/products/{product.id}").json()["stock"] == 7  # 8 released, 1 to the waiting order
    [notice] = InboxMessage.objects.filter(user=supplier, title__contains="解除隔离")
    assert "8 张" in notice.body and "released" not in notice.body

    again = api_as(admin).post(f"/admin/batches/{quarantined.id}/void", {})
    assert again.status_code == 409 and again.json()["error"]["code"] == "BATCH_NOT_QUARANTINED"
    assert CardSecret.objects.filter(batch=quarantined, status="voided").count() == 2  # only the two bad ones


def test_void_takes_the_keys_off_sale_for_good(quarantined, product, api_as, admin, supplier):
    answer = api_as(admin).post(f"/admin/batches/{quarantined.id}/void", {})
    assert answer.status_code == 200, answer.content
    assert answer.json()["quarantine"] == "voided" and answer.json()["frozen_keys"] == 0
    assert CardSecret.objects.filter(batch=quarantined, status="voided").count() == 10
    assert api_as().get(f"/products/{product.id}").json()["stock"] == 0
    assert InboxMessage.objects.filter(user=supplier, title__contains="已作废").count() == 1
    again = api_as(admin).post(f"/admin/batches/{quarantined.id}/release", {})
    assert again.status_code == 409
    assert CardSecret.objects.filter(batch=quarantined, status="available").count() == 0


def test_a_released_batch_is_quarantined_again_only_by_new_defects(quarantined, product, api_as, admin, claim_bad):
    api_as(admin).post(f"/admin/batches/{quarantined.id}/release", {})
    claim_bad(product)
    quarantined.refresh_from_db()
    assert quarantined.quarantine == "released"  # one new defect: the judged two do not count again
    claim_bad(product)
    quarantined.refresh_from_db()
    assert quarantined.quarantine == "quarantined"


def test_a_batch_not_quarantined_cannot_be_decided(product, api_as, admin):
    batch = batch_of(product)
    answer = api_as(admin).post(f"/admin/batches/{batch.id}/release", {})
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "BATCH_NOT_QUARANTINED"
    long_note = api_as(admin).post(f"/admin/batches/{batch.id}/void", {"note": "长" * 5000})
    assert long_note.status_code in (400, 422)
