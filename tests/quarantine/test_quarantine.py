"""Batch quarantine (issue 8, item 5): approved key defects from one import batch past the threshold stop the
batch's unsold keys from selling; the supplier and the admins are told once; unpaid orders holding its keys
are refilled from other stock or closed; an admin releases or voids the batch."""

from decimal import Decimal

import pytest

from kameng.aftersales.decisions import refund_approve
from kameng.aftersales.services import refund_create
from kameng.aftersales.supplier_claims import claim_contest
from kameng.core.worker import run_queued_tasks
from kameng.inventory.models import CardSecret, KeyIssue
from kameng.inventory.policies import quarantine_due
from kameng.notifications.models import InboxMessage
from kameng.orders.models import Order
from kameng.orders.services import order_create

from .conftest import BAD, batch_of, restock

pytestmark = pytest.mark.django_db


def statuses(batch):
    return sorted(CardSecret.objects.filter(batch=batch).values_list("status", flat=True))


def stock(api, product):
    return api.get(f"/products/{product.id}").json()["stock"]


def quarantine_notices():
    return InboxMessage.objects.filter(title__contains="暂停销售")


@pytest.mark.parametrize(("defects", "sold", "expected"), [
    (1, 1, False),  # one bad key is no pattern, whatever its share
    (2, 2, True),
    (2, 4, True),  # exactly the share: reached
    (2, 5, False),  # the count is there, the share is not
    (3, 0, False),
])
def test_the_rule_needs_both_the_count_and_the_share(defects, sold, expected):
    assert quarantine_due(defects=defects, forgiven=0, sold=sold, min_defects=2, share=Decimal("0.5")) is expected


def test_below_the_threshold_nothing_happens(product, claim_bad, api_as, admin):
    claim_bad(product)
    batch = batch_of(product)
    batch.refresh_from_db()
    assert batch.quarantine == "none"
    assert stock(api_as(), product) == 9
    assert not quarantine_notices().exists()


def test_the_share_not_reached_nothing_happens(product, claim_bad, buy, api_as, admin):
    for _ in range(3):
        buy(product)  # good sales: 2 defects of 5 sold is under half
    claim_bad(product)
    claim_bad(product)
    assert batch_of(product).quarantine == "none"
    assert stock(api_as(), product) == 5


def test_reaching_it_stops_the_batch_selling_and_tells_supplier_and_admins_once(
        product, claim_bad, buy, api_as, supplier, admin, make_user):
    second_admin = make_user("admin")
    claim_bad(product)
    claim_bad(product)
    batch = batch_of(product)
    assert batch.quarantine == "quarantined" and batch.quarantine_defects == 2 and batch.quarantine_sold == 2
    assert batch.quarantine_frozen == 8
    assert statuses(batch).count("frozen") == 8 and "available" not in statuses(batch)
    assert batch.events.get().event == "quarantined"

    # A buyer can no longer get these keys: out of stock, and nothing is reserved.
    assert stock(api_as(), product) == 0
    buyer = make_user("buyer")
    answer = api_as(buyer).post("/orders", {"product_id": product.id, "quantity": 1, "channel": "alipay",
                                            "accept_terms": True})
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "OUT_OF_STOCK"

    for person in (supplier, admin, second_admin):
        [notice] = quarantine_notices().filter(user=person)
        assert f"#{batch.id}" in notice.title
        assert "8 张" in notice.body and "2 张" in notice.body and "100.0%" in notice.body
        for code in ("invalid_key", "quarantine", "frozen", "KEY-"):  # no codes, never a key
            assert code not in notice.body
    assert "解除隔离或作废" in quarantine_notices().get(user=admin).body


def test_a_purchase_gets_other_stock_of_the_product(product, claim_bad, supplier, api_as, make_user, fund_wallet):
    other = restock(supplier, product, 3)
    claim_bad(product)
    claim_bad(product)
    assert stock(api_as(), product) == 3
    buyer = make_user("buyer")
    fund_wallet(buyer, 10_000)
    order = order_create(buyer=buyer, product_id=product.id, quantity=2, channel="wallet", accept_terms=True)
    issued = KeyIssue.objects.filter(order_item__order=order).values_list("secret__batch_id", flat=True)
    assert set(issued) == {other.id}


def test_a_later_defect_while_quarantined_updates_the_figure_and_tells_nobody_again(
        product, claim_bad, buy, supplier, admin):
    buyer, order = buy(product)  # sold before the quarantine: can still be claimed bad after it
    claim_bad(product)
    claim_bad(product)
    assert quarantine_notices().count() == 2
    refund = refund_create(buyer=buyer, order_no=order.order_no, reason="key_already_used", description=BAD,
                           destination="wallet")
    from kameng.aftersales.supplier_claims import claim_accept

    claim_accept(supplier=supplier, refund_id=refund.id)
    batch = batch_of(product)
    assert batch.quarantine_defects == 3
    assert quarantine_notices().count() == 2


def test_every_approval_path_counts_a_reviewer_approval_too(product, buy, supplier, reviewer, claim_bad):
    claim_bad(product)
    buyer, order = buy(product)
    refund = refund_create(buyer=buyer, order_no=order.order_no, reason="invalid_key", description=BAD,
                           destination="wallet")
    claim_contest(supplier=supplier, refund_id=refund.id, note="我方记录显示该卡密发货时有效。")
    assert batch_of(product).quarantine == "none"
    refund_approve(actor=reviewer, refund_id=refund.id, note="买家截图可信")
    assert batch_of(product).quarantine == "quarantined"


def test_a_personal_reason_refund_does_not_count(product, buy, reviewer):
    for _ in range(2):
        buyer, order = buy(product, reveal=False)
        refund = refund_create(buyer=buyer, order_no=order.order_no, reason="changed_mind",
                               description="买错了面额，卡密还没有查看过，想换成大面额的。", destination="wallet")
        refund.refresh_from_db()
        if refund.status == "submitted":
            refund_approve(actor=reviewer, refund_id=refund.id, note="ok")
    assert batch_of(product).quarantine == "none"


def test_an_unpaid_order_holding_its_keys_is_refilled_from_other_stock(product, claim_bad, supplier, make_user, api_as):
    buyer = make_user("buyer")
    api = api_as(buyer)
    placed = api.post("/orders", {"product_id": product.id, "quantity": 2, "channel": "alipay", "accept_terms": True})
    assert placed.status_code == 201, placed.content
    order = Order.objects.get(order_no=placed.json()["order_no"])
    assert set(CardSecret.objects.filter(reserved_order=order).values_list("batch_id", flat=True)) == {batch_of(product).id}
    other = restock(supplier, product, 4)
    claim_bad(product)
    claim_bad(product)
    # In the approval's transaction the batch's held keys froze; the job refills the order.
    assert not CardSecret.objects.filter(reserved_order=order).exists()
    run_queued_tasks()
    held = CardSecret.objects.filter(reserved_order=order, status="reserved")
    assert held.count() == 2 and set(held.values_list("batch_id", flat=True)) == {other.id}
    order.refresh_from_db()
    assert order.status == "pending_payment"
    assert order.events.filter(event="stock_replaced").exists()
    # Paying delivers keys from the other batch.
    paid = api.post(f"/sandbox/payments/{placed.json()['payment']['payment_no']}/pay")
    assert paid.status_code == 200, paid.content
    run_queued_tasks()
    assert api.get(f"/orders/{order.order_no}").json()["status"] == "delivered"
    issued = KeyIssue.objects.filter(order_item__order=order).values_list("secret__batch_id", flat=True)
    assert set(issued) == {other.id}


def test_an_unpaid_order_with_no_other_stock_is_closed_and_its_buyer_told(product, claim_bad, make_user, api_as):
    buyer = make_user("buyer")
    api = api_as(buyer)
    placed = api.post("/orders", {"product_id": product.id, "quantity": 1, "channel": "wechat", "accept_terms": True})
    order_no = placed.json()["order_no"]
    claim_bad(product)
    claim_bad(product)
    run_queued_tasks()
    assert api.get(f"/orders/{order_no}").json()["status"] == "closed"
    [notice] = InboxMessage.objects.filter(user=buyer)
    assert order_no in notice.title and "尚未付款" in notice.body and "pending_payment" not in notice.body
    # Nothing frozen went back on sale with the closing.
    assert "available" not in statuses(batch_of(product))
    # The job run again changes nothing and tells nobody again.
    from kameng.orders.held_stock import order_refill_held_keys

    assert order_refill_held_keys(order_id=Order.objects.get(order_no=order_no).id) == "not_unpaid"
    assert InboxMessage.objects.filter(user=buyer).count() == 1


def test_a_key_returned_to_a_quarantined_batch_stays_off_sale(product, buy, claim_bad, reviewer):
    buyer, order = buy(product, reveal=False)  # never revealed: a personal-reason refund returns it to stock
    claim_bad(product)
    claim_bad(product)
    refund = refund_create(buyer=buyer, order_no=order.order_no, reason="changed_mind",
                           description="买错了面额，卡密还没有查看过，想换成大面额的。", destination="wallet")
    refund.refresh_from_db()
    if refund.status == "submitted":
        refund_approve(actor=reviewer, refund_id=refund.id, note="ok")
    key = KeyIssue.objects.get(order_item__order=order).secret
    key.refresh_from_db()
    assert key.status == "frozen"


def test_keys_still_being_imported_into_a_quarantined_batch_join_it_held_back(product, claim_bad, supplier):
    from kameng.inventory.importing import import_lines
    from kameng.inventory.models import ImportBatch

    claim_bad(product)
    claim_bad(product)
    batch = ImportBatch.objects.get(id=batch_of(product).id)
    # The rest of its file arrives (a resumed import skips the 10 lines it already counted).
    lines = [f"KEY-{product.id}-{i:06d}" for i in range(10)] + [f"LATE-{product.id}-{i}" for i in range(3)]
    import_lines(batch=batch, lines=lines)
    assert statuses(batch).count("frozen") == 8 + 3
    assert "available" not in statuses(batch)
