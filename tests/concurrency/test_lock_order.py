"""A buyer acting on a refund while a reviewer decides it: never a deadlock, exactly one outcome.

The buyer's paths (withdraw, message, evidence) and the reviewer's (approve, reject) lock the same
order and refund rows; they must take them in one order or PostgreSQL kills one of them
(`deadlock detected`, a 500 to the client).
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kameng.aftersales.decisions import refund_approve, refund_reject
from kameng.aftersales.models import Refund, RefundItem
from kameng.aftersales.services import evidence_add, refund_create, refund_message, refund_withdraw
from kameng.core.errors import DomainError
from kameng.ledger.models import Journal
from kameng.ledger.selectors import book_check
from kameng.orders.models import Order
from kameng.orders.services import order_create, order_reveal

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

GOOD = "在兑换页面输入卡密后提示“该卡密已被使用”，时间 11 月 20 日 21:05。"
ROUNDS = 12


def _open_refund(buyer, product):
    order = order_create(buyer=buyer, product_id=product.id, quantity=2, channel="wallet", accept_terms=True)
    order_reveal(user=buyer, order_no=order.order_no)
    return refund_create(buyer=buyer, order_no=order.order_no, reason="invalid_key", description=GOOD,
                         destination="wallet")


def test_buyer_and_reviewer_acting_at_once_never_deadlock(make_user, make_product, fund_wallet, racer):
    buyer = make_user("buyer")
    reviewer = make_user("reviewer")
    fund_wallet(buyer, 1_000_000)
    failures = []
    for round_no in range(ROUNDS):
        # A product (one batch) per round: two approved invalid_key claims quarantine a batch, and that
        # batch's lock is taken in these races too.
        product = make_product(keys=2, price="10.00")
        refund = _open_refund(buyer, product)
        approving = round_no % 2 == 0

        def act(i, refund_id=refund.id, approving=approving, round_no=round_no):
            if i == 0:
                if approving:
                    return refund_approve(actor=reviewer, refund_id=refund_id, note="ok")
                return refund_reject(actor=reviewer, refund_id=refund_id, reason_code="other", note="看不出问题")
            if i == 1:
                return refund_withdraw(user=buyer, refund_id=refund_id)
            if i == 2:
                return refund_message(user=buyer, refund_id=refund_id, body="补充：截图见附件，时间 21:05。")
            return evidence_add(user=buyer, refund_id=refund_id,
                                uploaded_file=SimpleUploadedFile("note.txt", f"round {round_no} {i}".encode()))

        results = racer(5, act)
        crashed = [r for r in results if isinstance(r, Exception) and not isinstance(r, DomainError)]
        failures += [f"round {round_no}: {type(r).__name__}: {r}" for r in crashed]
        decided, withdrew = results[0], results[1]
        final = Refund.objects.get(id=refund.id)
        order = Order.objects.get(id=refund.order_id)
        if approving:
            # Exactly one of the two wins: refunded or withdrawn, never both, never neither.
            assert isinstance(decided, Refund) != isinstance(withdrew, Refund), (round_no, decided, withdrew)
            if isinstance(decided, Refund):
                assert final.status == "refunded" and order.refunded_fen == 2000
                assert Journal.objects.filter(reference=f"refund:{final.refund_no}").count() == 1
            else:
                assert final.status == "withdrawn" and order.refunded_fen == 0
        else:
            # A rejection may still be withdrawn afterwards; a withdrawal cannot be rejected.
            assert isinstance(decided, Refund) or isinstance(withdrew, Refund)
            assert final.status in ("rejected", "withdrawn") and order.refunded_fen == 0
            if not isinstance(withdrew, Refund):
                assert final.status == "rejected"
        # Whoever won, the request no longer holds its items and they are where the outcome says.
        assert not RefundItem.objects.filter(refund=final, active=True).exists()
        statuses = set(order.items.values_list("status", flat=True))
        assert statuses == ({"refunded"} if final.status == "refunded" else {"delivered"}), (round_no, statuses)
    assert not failures, failures
    assert book_check().ok
