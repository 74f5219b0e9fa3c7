"""Review deadlines that act: a refund nobody decided in time is escalated, then approved by the platform.

Taobao's rule is the anchor: a seller who does not answer in time has agreed. Here the platform holds
itself to it. A `submitted` (or `appealed`) refund whose `sla_due_at` passes without a decision goes to
the senior queue with one more working day; if that passes too, it is approved automatically (actor
`system`). Each case is locked (order, then refund) and re-checked before acting, so a sweep that runs
twice, or in two workers at once, decides once.
"""

from django.db import transaction
from django.db.models import Q

from kameng.core import clock
from kameng.core.money import Money
from kameng.core.times import iso_beijing
from kameng.core.workdays import add_workdays

from .decisions import approve_now
from .events import refund_event, senior_reviewers, tell_buyer, tell_staff
from .locking import lock_refund
from .models import STAFF_QUEUE_STATUSES, Refund

ESCALATION_WORKDAYS = 1
SUPPLIER_CONTESTED_EVENT = "supplier_contested"  # written by the supplier-first claim flow

# What a buyer can do when the platform has let them down (told whenever one of our deadlines passes).
def escalate(*, refund: Refund, actor: str, since) -> None:
    """To the senior queue with one more working day from `since` (the caller holds the refund's locks)."""
    refund.escalated = True
    refund.sla_due_at = add_workdays(since, ESCALATION_WORKDAYS)
    refund.save()
    refund_event(refund=refund, event="escalated", actor=actor,
                 note=f"review deadline passed; senior queue until {iso_beijing(refund.sla_due_at)}")
    tell_staff(refund, senior_reviewers(excluding_id=refund.first_decided_by_id if refund.status == "appealed" else None),
               "staff.escalated", text=refund.appeal_description or refund.description)
    tell_buyer(refund, "refund.appeal_escalated" if refund.status == "appealed" else "refund.escalated",
               review_due=refund.sla_due_at, sms=True)


def supplier_contested(refund: Refund) -> bool:
    return refund.events.filter(event=SUPPLIER_CONTESTED_EVENT).exists()


def auto_approve(*, refund: Refund, order) -> None:
    """The senior deadline passed too: approved by the platform (the caller holds the locks)."""
    if supplier_contested(refund):
        # The supplier said no and we did not decide in time: our failure, our cost, not the supplier's.
        refund.liable = "platform"
    approve_now(refund=refund, order=order, actor=None, event="auto_approved", tell_payout=False,
                note="审核期限已过，平台自动同意退款。review deadlines passed: approved by the platform")
    # One notice, one SMS: this one says both the decision and where the money goes (payout_start is quiet).
    if refund.status == "refunded":  # to the wallet: the money is back already
        tell_buyer(refund, "refund.auto_approved_wallet", amount=Money(refund.refund_amount_fen), sms=True)
    else:
        tell_buyer(refund, "refund.auto_approved_original", amount=Money(refund.refund_amount_fen),
                   arrival=refund.expected_arrival_by, channel=refund.payout.channel, sms=True)


def _due(*, escalated: bool, limit: int) -> list[int]:
    return list(
        Refund.objects.filter(Q(status__in=STAFF_QUEUE_STATUSES), escalated=escalated, sla_due_at__lte=clock.now())
        .order_by("sla_due_at", "id").values_list("id", flat=True)[:limit]
    )


def _still_due(refund: Refund, *, escalated: bool) -> bool:
    return (refund.status in STAFF_QUEUE_STATUSES and refund.escalated == escalated
            and refund.sla_due_at is not None and refund.sla_due_at <= clock.now())


def refunds_escalate_due(*, limit: int = 500) -> int:
    done = 0
    for refund_id in _due(escalated=False, limit=limit):
        with transaction.atomic():
            _order, refund = lock_refund(refund_id)
            if not _still_due(refund, escalated=False):
                continue  # decided, or escalated by another worker, meanwhile
            escalate(refund=refund, actor="system", since=refund.sla_due_at)
            done += 1
    return done


def refunds_auto_approve_due(*, limit: int = 500) -> int:
    done = 0
    for refund_id in _due(escalated=True, limit=limit):
        with transaction.atomic():
            order, refund = lock_refund(refund_id)
            if not _still_due(refund, escalated=True):
                continue
            auto_approve(refund=refund, order=order)
            done += 1
    return done
