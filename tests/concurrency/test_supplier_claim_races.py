"""Supplier first on PostgreSQL: the supplier accepting, the silence deadline and a reviewer, all at once."""

from datetime import timedelta

import pytest

from kameng.aftersales.decisions import refund_approve, refund_reject
from kameng.aftersales.models import Refund, RefundPayout
from kameng.aftersales.services import refund_create
from kameng.aftersales.supplier_claims import claim_accept, claim_contest, claims_accept_silent
from kameng.core import clock
from kameng.core.errors import DomainError
from kameng.ledger.models import Journal
from kameng.ledger.selectors import book_check
from kameng.orders.services import order_create, order_reveal

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

GOOD = "在兑换页面输入卡密后提示“该卡密已被使用”，时间 11 月 20 日 21:05。"


def claim(make_user, make_product, fund_wallet, supplier):
    buyer = make_user("buyer")
    fund_wallet(buyer, 10_000)
    product = make_product(keys=2, price="10.00", owner=supplier)
    order = order_create(buyer=buyer, product_id=product.id, quantity=1, channel="wallet", accept_terms=True)
    order_reveal(user=buyer, order_no=order.order_no)
    refund = refund_create(buyer=buyer, order_no=order.order_no, reason="key_already_used", description=GOOD,
                           destination="wallet")
    # The deadline is just now: the supplier may still answer, and the silence sweep is also due.
    Refund.objects.filter(id=refund.id).update(supplier_due_at=clock.now() + timedelta(seconds=2))
    return refund


@pytest.mark.parametrize("reviewer_rejects", [False, True])
def test_supplier_silence_and_reviewer_at_once_make_one_decision(make_user, make_product, fund_wallet, supplier,
                                                                 racer, reviewer_rejects):
    refund = claim(make_user, make_product, fund_wallet, supplier)
    reviewer = make_user("reviewer")

    def act(i):
        if i % 3 == 0:
            return claim_accept(supplier=supplier, refund_id=refund.id, note="同意")
        if i % 3 == 1:
            if reviewer_rejects:
                return refund_reject(actor=reviewer, refund_id=refund.id, reason_code="insufficient_evidence",
                                     note="请提供截图")
            return refund_approve(actor=reviewer, refund_id=refund.id, note="属实")
        # The sweep runs once the deadline passes: move the clock's view past it for this worker.
        Refund.objects.filter(id=refund.id, supplier_answer="pending").update(
            supplier_due_at=clock.now() - timedelta(seconds=1))
        return claims_accept_silent()

    results = racer(6, act)
    decided = Refund.objects.get(id=refund.id)
    assert decided.status in ("refunded", "rejected")
    events = list(decided.events.values_list("event", flat=True))
    assert events.count("approved") + events.count("rejected") == 1, events
    assert sum(e in ("supplier_accepted", "supplier_silent") for e in events) <= 1
    assert RefundPayout.objects.count() == (1 if decided.status == "refunded" else 0)
    assert Journal.objects.filter(kind="refund").count() == (1 if decided.status == "refunded" else 0)
    losers = [r for r in results if isinstance(r, DomainError)]
    assert all(r.status == 409 for r in losers), losers
    assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, DomainError)], results
    assert book_check().ok


def test_accept_and_contest_at_once_leave_one_answer(make_user, make_product, fund_wallet, supplier, racer):
    refund = claim(make_user, make_product, fund_wallet, supplier)
    results = racer(4, lambda i: (claim_accept(supplier=supplier, refund_id=refund.id) if i % 2 else
                                  claim_contest(supplier=supplier, refund_id=refund.id, note="有异议")))
    assert sum(isinstance(r, Refund) for r in results) == 1
    assert {r.code for r in results if isinstance(r, DomainError)} == {"CLAIM_ALREADY_DECIDED"}
    assert book_check().ok
