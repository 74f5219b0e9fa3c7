"""Chargebacks on one supplier at once (PostgreSQL, one connection per thread): appeals upheld together after
the sales matured draw on `available`, then on the deposit, never spending the same yuan twice; the book
balances and the deposit never goes below zero."""

import pytest

from kameng.aftersales.decisions import refund_approve, refund_reject
from kameng.aftersales.models import Refund
from kameng.aftersales.services import refund_appeal, refund_create
from kameng.aftersales.supplier_claims import claim_contest
from kameng.core import clock
from kameng.ledger.models import Journal, Posting
from kameng.ledger.selectors import book_check
from kameng.ledger.services import Accounts, balance
from kameng.ledger.supplier_money import sales_mature_due, withdrawal_request
from kameng.ledger.supplier_terms import deposit_lodge
from kameng.orders.services import order_create, order_reveal

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

GOOD = "在兑换页面输入卡密后提示“该卡密已被使用”，时间 11 月 20 日 21:05。"


def appealed_after_maturity(make_user, make_product, fund_wallet, supplier, n: int) -> list[Refund]:
    """n sales of 10.00 (9.50 to the supplier each), each claim rejected, matured, then appealed."""
    reviewer = make_user("reviewer")
    refunds = []
    for _ in range(n):
        buyer = make_user("buyer")
        fund_wallet(buyer, 10_000)
        order = order_create(buyer=buyer, product_id=make_product(keys=1, price="10.00").id, quantity=1,
                             channel="wallet", accept_terms=True)
        order_reveal(user=buyer, order_no=order.order_no)
        refund = refund_create(buyer=buyer, order_no=order.order_no, reason="invalid_key", description=GOOD,
                               destination="wallet")
        claim_contest(supplier=supplier, refund_id=refund.id, note="我方记录显示该卡密发货时有效。")
        refund_reject(actor=reviewer, refund_id=refund.id, reason_code="insufficient_evidence", note="没有截图")
        refunds.append((buyer, refund))
    clock.advance(seconds=73 * 3600)
    sales_mature_due()
    return [refund_appeal(user=buyer, refund_id=refund.id, description="补充了兑换页面录屏，请复核。")
            for buyer, refund in refunds]


def test_chargebacks_at_once_draw_available_then_the_deposit_exactly_once(make_user, make_product, fund_wallet,
                                                                          supplier, racer):
    refunds = appealed_after_maturity(make_user, make_product, fund_wallet, supplier, 6)
    assert balance(Accounts.available(supplier.id)).fen == 6 * 950
    withdrawal_request(supplier=supplier, amount="50.00")  # 7.00 left available
    deposit_lodge(actor=make_user("finance"), supplier_id=supplier.id, amount="30.00")
    seniors = [make_user("senior_reviewer") for _ in refunds]
    results = racer(len(refunds), lambda i: refund_approve(actor=seniors[i], refund_id=refunds[i].id, note="属实"))
    assert all(isinstance(r, Refund) for r in results), results
    # 6 × 9.50 = 57.00 charged: 7.00 from available, 30.00 from the deposit, 20.00 owed (available -20.00).
    assert Journal.objects.filter(kind="refund").count() == 6
    assert balance(Accounts.deposit(supplier.id)).fen == 0
    assert balance(Accounts.available(supplier.id)).fen == -2000
    drawn = [p for p in Posting.objects.filter(journal__kind="refund", account__code=Accounts.deposit(supplier.id))]
    assert sum(p.amount_fen for p in drawn) == 3000 and all(p.amount_fen > 0 for p in drawn)
    assert book_check().ok


def test_chargebacks_at_once_within_available_and_deposit_never_go_below_zero(make_user, make_product, fund_wallet,
                                                                              supplier, racer):
    refunds = appealed_after_maturity(make_user, make_product, fund_wallet, supplier, 4)
    withdrawal_request(supplier=supplier, amount="30.00")  # 8.00 left available
    deposit_lodge(actor=make_user("finance"), supplier_id=supplier.id, amount="100.00")
    seniors = [make_user("senior_reviewer") for _ in refunds]
    results = racer(len(refunds), lambda i: refund_approve(actor=seniors[i], refund_id=refunds[i].id, note="属实"))
    assert all(isinstance(r, Refund) for r in results), results
    # 38.00 charged: the 8.00 available first, 30.00 from the deposit; available ends at exactly zero.
    assert balance(Accounts.available(supplier.id)).fen == 0
    assert balance(Accounts.deposit(supplier.id)).fen == 7000
    assert book_check().ok
