"""Staff decisions: asking for information, approving, rejecting, deciding appeals.

Two reviewers acting at once: the refund row is locked and its state re-checked, so the second
finds the decision already made (409). An appeal goes to a senior reviewer who did not decide
the first time, and that decision is final.
"""

from datetime import timedelta

from django.db import transaction

from kameng.accounts.models import Role
from kameng.core import clock
from kameng.core.errors import Conflict, Forbidden, Invalid
from kameng.core.models import reloaded
from kameng.core.money import InvalidAmount, Money
from kameng.core.text import clause
from kameng.orders.models import Order

from .batch_defects import refund_approved as refund_approved_for_batches
from .events import actor_label, refund_event, tell_buyer
from .locking import lock_refund
from .models import MessageKind, Refund, RefundMessage, RejectReason
from .payouts import payout_start
from .selectors import refund_for_staff

MAX_NOTE = 4000


def _lock(refund_id) -> tuple[Order, Refund]:
    return lock_refund(refund_id)  # order first, then refund: the codebase's one lock order


def _check_decider(*, actor, refund: Refund) -> None:
    from .services import ensure_owner_not_deciding

    ensure_owner_not_deciding(actor=actor, refund=refund)
    if refund.status == "appealed":
        if actor.role != Role.SENIOR_REVIEWER:
            raise Forbidden("an appeal is decided by a senior reviewer", code="SENIOR_REVIEWER_REQUIRED")
        if refund.first_decided_by_id == actor.id:
            raise Forbidden("the reviewer of the first decision cannot decide its appeal", code="SAME_REVIEWER")
    elif refund.status != "submitted":
        raise Conflict(f"the refund is {refund.status}; there is nothing to decide", code="INVALID_STATE")


def _note(note) -> str:
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise Invalid(f"a note is at most {MAX_NOTE} characters", code="NOTE_TOO_LONG")
    return note


def refund_request_info(*, actor, refund_id, message: str) -> Refund:
    message = _note(message)
    if not message:
        raise Invalid("say what you need from the buyer", code="INVALID_MESSAGE")
    refund = refund_for_staff(user=actor, refund_id=refund_id)
    with transaction.atomic():
        order, refund = _lock(refund.id)
        from .services import ensure_owner_not_deciding

        ensure_owner_not_deciding(actor=actor, refund=refund)
        if refund.status != "submitted":
            raise Conflict(f"information can be requested only while a refund is submitted (it is {refund.status})",
                           code="INVALID_STATE")
        now = clock.now()
        hours = order.snapshot["refund_policy"]["info_reply_hours"]
        refund.ask_buyer()
        refund.sla_paused_at = now
        refund.info_due_at = now + timedelta(hours=hours)
        refund.save()
        RefundMessage.objects.create(refund=refund, author=actor, author_role=actor.role, kind=MessageKind.INFO_REQUEST,
                                     body=message, at=now)
        refund_event(refund=refund, event="info_requested", actor=actor_label(actor), note=message)
        tell_buyer(refund, "refund.info_requested", question=clause(message), reply_due=refund.info_due_at, sms=True)
    return refund


def refund_approve(*, actor, refund_id, amount=None, fee=None, note: str = "") -> Refund:
    note = _note(note)
    refund = refund_for_staff(user=actor, refund_id=refund_id)
    with transaction.atomic():
        order, refund = _lock(refund.id)
        _check_decider(actor=actor, refund=refund)
        try:
            fee_money = Money.parse(fee) if fee is not None else Money(refund.fee_fen)
            paid_out = Money.parse(amount) if amount is not None else Money(refund.amount_fen) - fee_money
        except InvalidAmount as exc:
            raise Invalid(str(exc), code="INVALID_AMOUNT") from exc
        if fee_money.fen < 0 or paid_out.fen <= 0 or paid_out.fen + fee_money.fen > refund.amount_fen:
            raise Invalid(f"amount + fee must be at most the requested {Money(refund.amount_fen)}, amount above 0",
                          code="INVALID_AMOUNT")
        refund.fee_fen = fee_money.fen
        refund.refund_amount_fen = paid_out.fen
        approve_now(refund=refund, order=order, actor=actor, note=note)
    return reloaded(refund)


def approve_now(*, refund: Refund, order: Order, actor, note: str, event: str | None = None,
                tell_payout: bool = True) -> None:
    """Approve (the caller holds the locks) and start paying back at once. `event` names a decision
    made by a rule rather than a reviewer (`auto_approved`); `tell_payout=False` when the caller tells
    the buyer itself (see payouts.payout_start)."""
    was_appeal = refund.status == "appealed"
    refund.approve()
    refund.decided_at = clock.now()
    refund.decision_note = note
    if was_appeal:
        refund.final_decided_by = actor
    else:
        refund.first_decided_by = actor
    refund.save()
    event = event or ("appeal_approved" if was_appeal else "approved")
    refund_event(refund=refund, event=event, actor=actor_label(actor),
                 note=f"refund {Money(refund.refund_amount_fen)}, fee {Money(refund.fee_fen)}. {note}".strip())
    payout_start(refund=refund, order=order, tell=tell_payout)
    # After the payout rows: a batch's quarantine comes later in the one lock order (kameng.core.locks).
    refund_approved_for_batches(refund)


def refund_reject(*, actor, refund_id, reason_code: str, note: str) -> Refund:
    note = _note(note)
    if reason_code not in RejectReason.values:
        raise Invalid(f"reason_code is one of {', '.join(RejectReason.values)}", code="INVALID_REASON_CODE")
    if not note:
        raise Invalid("explain the rejection to the buyer (note)", code="NOTE_REQUIRED")
    refund = refund_for_staff(user=actor, refund_id=refund_id)
    with transaction.atomic():
        order, refund = _lock(refund.id)
        _check_decider(actor=actor, refund=refund)
        from .services import release_items

        now = clock.now()
        final = refund.status == "appealed"
        if final:
            refund.reject_final()
            refund.final_decided_by = actor
        else:
            refund.reject()
            refund.first_decided_by = actor
            days = order.snapshot["refund_policy"]["appeal_window_days"]
            refund.appeal_due_at = now + timedelta(days=days)
        refund.decided_at = now
        refund.reject_reason_code = reason_code
        refund.decision_note = note
        refund.save()
        release_items(refund)
        refund_event(refund=refund, event="appeal_rejected" if final else "rejected", actor=actor_label(actor),
                     note=f"{reason_code}: {note}")
        if final:
            tell_buyer(refund, "refund.rejected_final", reject_reason=reason_code, note=clause(note), sms=True)
        else:
            tell_buyer(refund, "refund.rejected", reject_reason=reason_code, note=clause(note),
                       appeal_due=refund.appeal_due_at, sms=True)
    return refund
