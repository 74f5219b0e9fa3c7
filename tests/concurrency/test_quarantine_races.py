"""Batch quarantine on PostgreSQL: approvals racing each other, and buyers reserving keys while it happens."""

import pytest

from kameng.aftersales.decisions import refund_approve
from kameng.aftersales.services import refund_create
from kameng.aftersales.supplier_claims import claim_contest
from kameng.core.worker import run_queued_tasks
from kameng.inventory.models import BatchEvent, CardSecret, ImportBatch
from kameng.notifications.models import InboxMessage
from kameng.orders.models import Order
from kameng.orders.services import order_create, order_reveal

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BAD = "在兑换页面输入卡密后提示“卡密无效”，时间 11 月 20 日 21:05，截图已上传。"


@pytest.fixture(autouse=True)
def _thresholds(settings):
    settings.KAMENG_QUARANTINE_MIN_DEFECTS = 2
    settings.KAMENG_QUARANTINE_DEFECT_SHARE = "0.5"


def contested_claim(make_user, fund_wallet, product, supplier):
    buyer = make_user("buyer")
    fund_wallet(buyer, 10_000)
    order = order_create(buyer=buyer, product_id=product.id, quantity=1, channel="wallet", accept_terms=True)
    order_reveal(user=buyer, order_no=order.order_no)
    refund = refund_create(buyer=buyer, order_no=order.order_no, reason="invalid_key", description=BAD,
                           destination="wallet")
    claim_contest(supplier=supplier, refund_id=refund.id, note="我方记录显示该卡密发货时有效。")
    return refund


def test_two_approvals_racing_quarantine_the_batch_once_and_tell_once(make_user, make_product, fund_wallet,
                                                                     supplier, racer):
    admin = make_user("admin")
    product = make_product(keys=10, price="10.00")
    claims = [contested_claim(make_user, fund_wallet, product, supplier) for _ in range(3)]
    reviewers = [make_user("reviewer") for _ in range(2)]
    refund_approve(actor=reviewers[0], refund_id=claims[0].id, note="属实")  # one defect: the next reaches 2

    results = racer(2, lambda i: refund_approve(actor=reviewers[i], refund_id=claims[i + 1].id, note="属实"))
    assert not [r for r in results if isinstance(r, Exception)], results

    batch = ImportBatch.objects.get(product=product)
    assert batch.quarantine == "quarantined" and batch.quarantine_defects == 3
    assert BatchEvent.objects.filter(batch=batch, event="quarantined").count() == 1
    assert CardSecret.objects.filter(batch=batch, status="frozen").count() == 7
    assert InboxMessage.objects.filter(user=supplier, title__contains="暂停销售").count() == 1
    assert InboxMessage.objects.filter(user=admin, title__contains="暂停销售").count() == 1


def test_buyers_reserving_while_the_batch_is_quarantined_never_keep_its_keys(make_user, make_product, fund_wallet,
                                                                             supplier, racer, api_as):
    product = make_product(keys=12, price="10.00")
    claims = [contested_claim(make_user, fund_wallet, product, supplier) for _ in range(2)]
    buyers = [make_user("buyer") for _ in range(5)]
    reviewer = make_user("reviewer")
    refund_approve(actor=reviewer, refund_id=claims[0].id, note="属实")

    def act(i):
        if i == 0:
            return refund_approve(actor=reviewer, refund_id=claims[1].id, note="属实")
        return order_create(buyer=buyers[i - 1], product_id=product.id, quantity=1, channel="alipay",
                            accept_terms=True)

    racer(6, act)
    run_queued_tasks()
    batch = ImportBatch.objects.get(product=product)
    assert batch.quarantine == "quarantined"
    # Whoever got there first: no key of the batch is on sale or held, and no unpaid order is left without its
    # keys (there was no other stock, so those that held some were closed).
    assert not CardSecret.objects.filter(batch=batch, status__in=("available", "reserved")).exists()
    for order in Order.objects.filter(status="pending_payment"):
        assert CardSecret.objects.filter(reserved_order=order, status="reserved").count() == order.quantity
