"""The evidence deadline decides once: workers sweeping at once, and a buyer's upload at the last second."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from kameng.aftersales.evidence_deadline import refunds_evidence_overdue, refunds_evidence_remind
from kameng.aftersales.models import Refund, RefundEvent
from kameng.aftersales.services import evidence_add, refund_create
from kameng.core import clock
from kameng.core.deadlines import process_due
from kameng.core.errors import DomainError
from kameng.notifications.models import InboxMessage
from kameng.orders.services import order_create

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

GOOD = "在兑换页面输入卡密后提示“系统错误 0x80”，时间 11 月 20 日 21:05。"


def _claims(make_user, make_product, fund_wallet, n):
    refunds = []
    for _ in range(n):
        buyer = make_user("buyer")
        fund_wallet(buyer, 10_000)
        product = make_product(keys=1, price="10.00")
        order = order_create(buyer=buyer, product_id=product.id, quantity=1, channel="wallet", accept_terms=True)
        refunds.append(refund_create(buyer=buyer, order_no=order.order_no, reason="system_error",
                                     description=GOOD, destination="wallet"))
    return refunds


def _count(refunds, event):
    return [RefundEvent.objects.filter(refund=r, event=event).count() for r in refunds]


def test_sweeps_at_once_remind_once_and_mark_once(make_user, make_product, fund_wallet, racer):
    refunds = _claims(make_user, make_product, fund_wallet, 3)
    due = refunds[0].evidence_due_at

    clock.advance(seconds=(due - clock.now()).total_seconds() - 3600)  # an hour before: reminder time
    results = racer(3, lambda i: refunds_evidence_remind())
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(results) == len(refunds)
    assert _count(refunds, "evidence_reminded") == [1, 1, 1]
    assert InboxMessage.objects.filter(title__startswith="请补充证据").count() == len(refunds)

    clock.advance(seconds=3600 + 60)
    results = racer(3, lambda i: process_due())
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r["evidence_overdue_marked"] for r in results) == len(refunds)
    assert _count(refunds, "evidence_overdue") == [1, 1, 1]
    assert InboxMessage.objects.filter(title__startswith="补证期限已过").count() == len(refunds)
    assert all(r.status == "submitted" and r.evidence_overdue_at for r in Refund.objects.filter(
        id__in=[r.id for r in refunds]))


def test_an_upload_racing_the_deadline_either_lands_first_or_after_the_mark(make_user, make_product, fund_wallet,
                                                                            racer):
    refunds = _claims(make_user, make_product, fund_wallet, 6)
    clock.advance(seconds=(refunds[0].evidence_due_at - clock.now()).total_seconds() + 1)
    for round_no, refund in enumerate(refunds):
        def act(i, refund=refund, round_no=round_no):
            if i == 0:
                return evidence_add(user=refund.buyer, refund_id=refund.id,
                                    uploaded_file=SimpleUploadedFile("shot.txt", f"round {round_no}".encode()))
            return refunds_evidence_overdue()

        results = racer(3, act)
        crashed = [r for r in results if isinstance(r, Exception) and not isinstance(r, DomainError)]
        assert not crashed, crashed
        assert not isinstance(results[0], Exception)  # the upload is still taken after the deadline
        final = Refund.objects.get(id=refund.id)
        events = list(RefundEvent.objects.filter(refund=refund, event__in=("evidence_overdue", "evidence_added"))
                      .order_by("id").values_list("event", flat=True))
        if final.evidence_overdue_at:  # the mark came first: then the file, and one mark only
            assert events == ["evidence_overdue", "evidence_added"], events
        else:  # the file came first: no mark, now or later
            assert events == ["evidence_added"], events
            refunds_evidence_overdue()
            assert not RefundEvent.objects.filter(refund=refund, event="evidence_overdue").exists()
        assert InboxMessage.objects.filter(refund=refund, title__startswith="补证期限已过").count() == (
            1 if final.evidence_overdue_at else 0)
