"""A refund the gateway will not pay: failed once, told to the buyer and to finance, paid again by a person.

A gateway's signed refusal (`GatewayRefused`) or its verdict that a refund failed (`RefundState.FAILED`:
WeChat's ABNORMAL/CLOSED) ends the automatic attempts: the payout becomes `failed` and no worker round
calls the gateway for it again. Nothing is booked when a payout fails — the refund's money stays
reserved on the order (`refunded_fen`) and in escrow/payable until the payout completes — so a retry
books it exactly once, through the same `payout_complete` as any other payout.
"""

import logging

from django.db import transaction

from kameng.core import clock
from kameng.core.errors import Conflict, Forbidden, Invalid, NotFound
from kameng.core.money import Money
from kameng.core.text import clause

from .events import actor_label, refund_event, tell_buyer, tell_staff
from .locking import lock_payout, lock_refund
from .models import RefundPayout, RefundStatus

logger = logging.getLogger(__name__)

DESTINATIONS = ("wallet", "original")
_OPEN = (RefundPayout.Status.PENDING, RefundPayout.Status.SENT)


def finance_staff():
    from kameng.accounts.models import Role, User

    return User.objects.filter(role__in=(Role.FINANCE, Role.ADMIN), is_active=True).order_by("id")


def payout_fail(*, payout_id: int, code: str, message: str = "") -> bool:
    """pending/sent → failed, once (order, refund, payout locked in that order). Pays nothing."""
    with transaction.atomic():
        refund_id = RefundPayout.objects.filter(id=payout_id).values_list("refund_id", flat=True).get()
        order, refund = lock_refund(refund_id)
        payout = lock_payout(payout_id)
        if payout.status not in _OPEN or refund.status != RefundStatus.REFUNDING:
            return False  # already settled, failed or retried: the first word stands
        payout.status = RefundPayout.Status.FAILED
        payout.failure_code = (code or "FAILED")[:64]
        payout.failure_message = (message or "")[:200]
        payout.failed_at = clock.now()
        payout.failed_request_no = payout.request_no
        payout.save()
        amount = Money(payout.amount_fen)
        refund_event(refund=refund, event="payout_failed",
                     note=f"{payout.channel} request {payout.request_no}: {payout.failure_code}")
        tell_buyer(refund, "payout.failed", amount=amount, channel=payout.channel, sms=True)
        tell_staff(refund, finance_staff(), "finance.payout_failed", amount=amount, request_no=payout.request_no,
                   channel=payout.channel,
                   failure=clause(f"{payout.failure_code} {payout.failure_message}".strip()))
    logger.warning("payout %s failed (%s): waiting for finance", payout.request_no, payout.failure_code)
    return True


def payout_retry(*, actor, payout_id: int, destination: str) -> RefundPayout:
    """Finance pays a failed payout again, once: to the buyer's wallet now, or on the original path
    under a new request number (the old one was refused). Repeating the same retry changes nothing."""
    from kameng.accounts.models import Role

    from .payouts import payout_complete

    if actor.role not in (Role.FINANCE, Role.ADMIN):
        raise Forbidden("only finance and admins pay failed refunds", code="ROLE_FORBIDDEN")
    if destination not in DESTINATIONS:
        raise Invalid("destination is wallet or original", code="INVALID_DESTINATION")
    with transaction.atomic():
        refund_id = RefundPayout.objects.filter(id=payout_id).values_list("refund_id", flat=True).first()
        if refund_id is None:
            raise NotFound("no such payout", code="NOT_FOUND")
        order, refund = lock_refund(refund_id)
        payout = lock_payout(payout_id)
        if payout.status != RefundPayout.Status.FAILED:
            if payout.retry_destination == destination:
                return payout  # the same retry again (a double click, a resent request): already done
            raise Conflict("only a failed payout can be paid again", code="PAYOUT_NOT_FAILED")
        now = clock.now()
        payout.retry_destination = destination
        payout.retried_at = now
        refund_event(refund=refund, event="payout_retried", actor=actor_label(actor), note=f"to {destination}")
        if destination == "wallet":
            payout.channel = "wallet"
            payout.expected_arrival_by = now
            payout_complete(payout=payout, refund=refund, order=order, gateway_ref="WALLET")
            return payout
        from .tasks import send_payout

        payout.request_no = f"{payout.failed_request_no}R"[:40]  # the gateway refused the old number for good
        payout.status = RefundPayout.Status.PENDING
        payout.gateway_ref = ""
        payout.attempts = 0
        payout.sent_at = None
        payout.created_at = now
        payout.save()
        send_payout.enqueue(payout.id)  # the job row commits with the payout row
        tell_buyer(refund, "payout.retried", amount=Money(payout.amount_fen), channel=payout.channel)
    return payout
