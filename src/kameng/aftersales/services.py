"""Buyer-side after-sales: asking for a refund, answering, urging, appealing, withdrawing.

Each write locks its rows first, in the codebase's one lock order (order, then refund, then items:
see kameng.core.locks), and records a timeline event; notifications are written in the same transaction.
"""

import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction

from kameng.accounts.models import User
from kameng.core import clock
from kameng.core.errors import Conflict, Forbidden, Invalid, NotFound
from kameng.core.models import reloaded
from kameng.core.money import Money
from kameng.core.times import in_beijing
from kameng.core.workdays import add_workdays
from kameng.orders.compensation import compensation_paid_for
from kameng.orders.fulfilment import topup_cancel_queued
from kameng.orders.locking import lock_items, lock_order
from kameng.orders.models import ItemStatus
from kameng.orders.selectors import order_for_buyer

from . import figure_facts, policies
from .decisions import approve_now
from .events import actor_label, refund_event, senior_reviewers, tell_buyer, tell_staff
from .evidence import evidence_record
from .locking import lock_refund
from .models import EvidenceRemoval, MessageKind, Refund, RefundItem, RefundMessage
from .records import platform_record
from .selectors import order_facts, refund_for_buyer
from .supplier_claims import put_to_supplier

DESTINATIONS = ("original", "wallet")
MAX_DESCRIPTION = 4000


def new_refund_no() -> str:
    return "R" + in_beijing(clock.now()).strftime("%Y%m%d") + secrets.token_hex(5).upper()


def refund_options(*, user, order_no: str, item_ids: list[int] | None = None) -> dict:
    order = order_for_buyer(user=user, order_no=order_no)
    facts = order_facts(order)
    items = _chosen(facts, item_ids, strict=False)
    now = clock.now()
    options = policies.options(facts, items, now)
    price = sum(order.unit_price_fen for _ in items)
    return {
        "order": order,
        "options": options,
        "items": items,
        "deadline": min((o.deadline for o in options if o.eligible and o.deadline), default=None),
        "max_amount": Money(max(0, min(price, order.amount_fen - order.refunded_fen))),
    }


def _chosen(facts, item_ids, *, strict: bool):
    open_items = policies.refundable_items(facts)
    if item_ids is None:
        return open_items
    wanted = set(item_ids)
    chosen = [item for item in open_items if item.id in wanted]
    if strict and len(chosen) != len(wanted):
        raise Conflict("some chosen items cannot be refunded now (already refunded, in a request, or unknown)",
                       code="ITEMS_NOT_REFUNDABLE")
    return chosen


def _check_description(text: str, reason: str | None = None) -> str:
    text = (text or "").strip()
    if len(text) > MAX_DESCRIPTION:
        raise Invalid(f"a description is at most {MAX_DESCRIPTION} characters", code="DESCRIPTION_TOO_LONG")
    problem = policies.description_problem(text, reason)
    if problem:
        personal = reason in policies.PERSONAL_REASONS
        raise Invalid("描述过于笼统。" + policies.description_hint(reason), code="DESCRIPTION_TOO_VAGUE",
                      details={"problem": problem, "personal_reason": personal})
    return text


def refund_create(*, buyer, order_no: str, reason: str, description: str, destination: str = "original",
                  item_ids: list[int] | None = None) -> Refund:
    if reason not in policies.ALL_REASONS:
        raise Invalid(f"reason is one of {', '.join(policies.ALL_REASONS)}", code="INVALID_REASON")
    _check_destination(destination)
    description = _check_description(description, reason)
    order = order_for_buyer(user=buyer, order_no=order_no)
    return _refund_open(buyer=buyer, order=order, reason=reason, description=description, destination=destination,
                        item_ids=item_ids)


def _check_destination(destination: str) -> None:
    if destination not in DESTINATIONS:
        raise Invalid("destination is original or wallet", code="INVALID_DESTINATION")


CANCEL_NOTE = "买家在发货前取消订单（未发货仅退款）。The buyer cancelled the order before delivery."


def refund_cancel_before_delivery(*, buyer, order, destination: str = "original") -> Refund:
    """The buyer cancels a paid order nothing of which was delivered yet: its undelivered items are refunded
    in full, at once, by the same rule as `changed_mind` on them (policies: `before_delivery`).

    409 CANCEL_NOT_ALLOWED, with the rule's reason, when it is not such an order (delivered, or already
    with the supplier); nothing is changed then.
    """
    _check_destination(destination)
    return _refund_open(buyer=buyer, order=order, reason="changed_mind", description=CANCEL_NOTE,
                        destination=destination, item_ids=None, cancelling=True)


def _refund_open(*, buyer, order, reason: str, description: str, destination: str, item_ids: list[int] | None,
                 cancelling: bool = False) -> Refund:
    try:
        with transaction.atomic():
            order = lock_order(order.id)
            facts = order_facts(order)
            if cancelling:  # the order's undelivered items, whatever the buyer may have seen
                items = policies.cancellable_items(facts)
            else:
                items = _chosen(facts, item_ids, strict=True)
            now = clock.now()
            option = policies.option(reason, facts, items, now)
            if cancelling and not (option.eligible and option.before_delivery):
                why = option.why if items else "订单已发货或已在退款中，不能取消；如有问题请申请售后。" \
                    "The order was delivered or is being refunded: apply for after-sales instead."
                raise Conflict(why, code="CANCEL_NOT_ALLOWED")
            if not option.eligible:
                raise Conflict(option.why, code="REASON_NOT_ELIGIBLE")
            amount = Money(order.unit_price_fen) * len(items)
            remaining = Money(order.amount_fen - order.refunded_fen)
            amount = min(amount, remaining)
            fee = amount.rate(option.fee_rate)
            paid_back = amount - fee
            if reason in policies.PERSONAL_REASONS:
                # A buyer who returns an item for their own reasons undoes the sale: the compensation its late
                # delivery earned goes back to the supplier who paid it, or returning it would be a profit.
                paid_back -= min(compensation_paid_for(order, [i.id for i in items]), paid_back)
            refund = Refund.objects.create(
                refund_no=new_refund_no(), order=order, buyer=buyer, reason=reason, description=description,
                destination=destination, amount_fen=amount.fen, fee_fen=fee.fen, refund_amount_fen=paid_back.fen,
                fee_rate=f"{option.fee_rate:.2f}", needs_evidence=option.needs_evidence,
                liable=option.liable or policies.liable_party(reason), submitted_at=now,
                sla_due_at=add_workdays(now, facts.policy.review_sla_workdays),
                # The claim is taken at once and the case marked 待补充证据 until a file arrives (rather than
                # a file being required up front): the API creates the refund first and uploads after, and a
                # buyer on a phone may need to fetch the screenshot. The buyer has the info-reply time for it.
                evidence_due_at=(now + timedelta(hours=facts.policy.info_reply_hours)) if option.needs_evidence else None,
            )
            figure_facts.refund_opened(refund)
            item_rows = lock_items(i.id for i in items)
            RefundItem.objects.bulk_create(
                [RefundItem(refund=refund, order_item_id=i.id, amount_fen=order.unit_price_fen) for i in items]
            )
            for item in item_rows:
                item.hold_for_refund()
                item.save()
            refund_event(refund=refund, event="submitted", actor=actor_label(buyer), note=f"{reason}: {description}")
            evidence_record(refund=refund, name="platform_record.json", payload=platform_record(order=order, items=items))
            if option.automatic:
                approve_now(refund=refund, order=order, actor=None, note=option.why)
                if option.before_delivery:  # approved: whatever still waits to be sent to the supplier never will be
                    topup_cancel_queued(order=order, reason="the buyer cancelled before it was sent")
            elif reason in policies.SUPPLIER_LIABLE:
                put_to_supplier(refund=refund, order=order, reply_hours=facts.policy.supplier_reply_hours, now=now)
            else:
                tell_buyer(refund, "refund.received", review_due=refund.sla_due_at)
    except IntegrityError as exc:  # the one-open-request constraint caught a race
        raise Conflict("an item is already in an open refund request", code="REFUND_ALREADY_OPEN") from exc
    return reloaded(refund)


EVIDENCE_STATUSES = ("submitted", "awaiting_buyer", "rejected", "appealed")
MAX_EVIDENCE_FILES = 20  # enough for any honest case; bounds the disk one buyer can take


def evidence_add(*, user, refund_id, uploaded_file):
    """The buyer puts a file on record, while the refund can still be looked at."""
    return evidence_add_many(user=user, refund_id=refund_id, uploaded_files=[uploaded_file])[0]


def evidence_add_many(*, user, refund_id, uploaded_files) -> list:
    """Several files in one go, all or none: a refused file (wrong type, too large, a duplicate) refuses
    the upload and records nothing, so the buyer fixes that one file and sends the set again."""
    from .evidence import evidence_store

    if not uploaded_files:
        raise Invalid("choose at least one file", code="NO_FILE")
    refund = refund_for_buyer(user=user, refund_id=refund_id)
    with transaction.atomic():
        refund = _locked(refund.id)  # a withdrawal cannot slip in between the check and the file
        if refund.status not in EVIDENCE_STATUSES:
            raise Conflict(f"evidence cannot be added to a refund that is {refund.status}", code="REFUND_CLOSED")
        if refund.evidence.filter(source="buyer").count() + len(uploaded_files) > MAX_EVIDENCE_FILES:
            raise Conflict(f"at most {MAX_EVIDENCE_FILES} files per refund", code="TOO_MANY_FILES")
        stored = []
        for uploaded_file in uploaded_files:
            evidence = evidence_store(refund=refund, uploader=user, uploaded_file=uploaded_file)
            refund_event(refund=refund, event="evidence_added", actor=actor_label(user),
                         note=f"{evidence.original_name or evidence.id} · SHA-256 {evidence.sha256}")
            stored.append(evidence)
    return stored


def evidence_removable(refund) -> bool:
    """A buyer may take an upload back until a reviewer has opened the case (and while it is undecided)."""
    return refund.opened_at is None and refund.status == "submitted"


def evidence_remove(*, user, refund_id, evidence_id) -> None:
    """The buyer takes back a wrong upload before review. The file and its row stay on record (evidence
    is append-only): a removal row marks it, and the timeline says who removed which file and when."""
    refund = refund_for_buyer(user=user, refund_id=refund_id)
    with transaction.atomic():
        refund = _locked(refund.id)  # the reviewer opening the case is serialised with this check
        evidence = refund.evidence.filter(id=evidence_id, source="buyer", uploaded_by=user).first()
        if evidence is None:
            raise NotFound("no such evidence", code="NOT_FOUND")
        if not evidence_removable(refund):
            raise Conflict("a reviewer has opened this case: evidence can no longer be removed",
                           code="EVIDENCE_LOCKED")
        if EvidenceRemoval.objects.filter(evidence=evidence).exists():
            raise Conflict("this file was already removed", code="EVIDENCE_ALREADY_REMOVED")
        EvidenceRemoval.objects.create(evidence=evidence, removed_by=user, removed_at=clock.now())
        refund_event(refund=refund, event="evidence_removed", actor=actor_label(user),
                     note=f"{evidence.original_name or evidence.id} · SHA-256 {evidence.sha256}")


def refund_opened(*, user, refund_id) -> None:
    """A reviewer opened the case: recorded once; from now on the buyer's uploads stay as they are."""
    with transaction.atomic():
        refund = _locked(refund_id)
        if refund.opened_at is not None:
            return
        Refund.objects.filter(id=refund.id).update(opened_at=clock.now())
        refund_event(refund=refund, event="opened", actor=actor_label(user))


def _locked(refund_id) -> Refund:
    """The refund, locked after its order (see .locking)."""
    return lock_refund(refund_id)[1]


def refund_message(*, user, refund_id, body: str) -> RefundMessage:
    """A buyer's message; when the reviewer asked for information, it is the answer and review resumes."""
    body = (body or "").strip()
    if not body or len(body) > MAX_DESCRIPTION:
        raise Invalid(f"a message is 1 to {MAX_DESCRIPTION} characters", code="INVALID_MESSAGE")
    refund = refund_for_buyer(user=user, refund_id=refund_id)
    with transaction.atomic():
        refund = _locked(refund.id)
        if refund.status in ("withdrawn", "closed", "refunded", "rejected_final"):
            raise Conflict(f"the refund is {refund.status}; messages are closed", code="REFUND_CLOSED")
        now = clock.now()
        answering = refund.status == "awaiting_buyer"
        message = RefundMessage.objects.create(
            refund=refund, author=user, author_role=user.role,
            kind=MessageKind.INFO_REPLY if answering else MessageKind.MESSAGE, body=body, at=now,
        )
        if answering:
            refund.buyer_answered()
            if refund.sla_due_at and refund.sla_paused_at:
                refund.sla_due_at += now - refund.sla_paused_at  # the deadline paused while we waited
            refund.sla_paused_at = None
            refund.info_due_at = None
            refund.save()
            refund_event(refund=refund, event="buyer_answered", actor=actor_label(user), note=body)
            asker = refund.messages.filter(kind=MessageKind.INFO_REQUEST).order_by("-id").values_list("author", flat=True)
            tell_staff(refund, User.objects.filter(id__in=asker[:1]), "staff.buyer_answered", text=body)
        else:
            refund_event(refund=refund, event="message", actor=actor_label(user), note=body)
    return message


def refund_urge(*, user, refund_id) -> Refund:
    """The buyer pushes a refund past its deadline: escalated now if the sweep has not yet, seniors told."""
    from .escalation import escalate

    refund = refund_for_buyer(user=user, refund_id=refund_id)
    with transaction.atomic():
        refund = _locked(refund.id)
        now = clock.now()
        if refund.urged_at is not None:
            raise Conflict("this refund was already escalated to a senior reviewer", code="ALREADY_URGED")
        if not refund.can_be_urged(now):
            raise Conflict("you can urge once the review deadline has passed without a decision", code="URGE_NOT_ALLOWED")
        refund.urged_at = now
        refund.save()
        refund_event(refund=refund, event="urged", actor=actor_label(user), note="escalated to the senior queue")
        if refund.escalated:
            tell_staff(refund, senior_reviewers(), "staff.urged", text=refund.description)
            tell_buyer(refund, "refund.urged", review_due=refund.sla_due_at)
        else:
            escalate(refund=refund, actor=actor_label(user), since=now)
    return refund


# The items an appeal can take back into review: not refunded or voided since the rejection.
APPEALABLE_ITEM_STATUSES = (ItemStatus.PENDING, ItemStatus.DELIVERED)


def refund_appeal(*, user, refund_id, description: str) -> Refund:
    description = _check_description(description)
    refund = refund_for_buyer(user=user, refund_id=refund_id)
    with transaction.atomic():
        order, refund = lock_refund(refund.id)
        if refund.status != "rejected":
            raise Conflict(f"only a rejected refund can be appealed (this one is {refund.status})", code="APPEAL_NOT_ALLOWED")
        if refund.appeal_due_at is None or clock.now() > refund.appeal_due_at:
            raise Conflict("the appeal window has closed", code="APPEAL_WINDOW_CLOSED")
        items = list(refund.items.select_related("order_item"))
        if RefundItem.objects.filter(order_item__in=[i.order_item for i in items], active=True).exists():
            raise Conflict("an item is in another open request", code="REFUND_ALREADY_OPEN")
        held = lock_items(row.order_item_id for row in items)
        if any(item.status not in APPEALABLE_ITEM_STATUSES for item in held):
            # Money came back another way since the rejection (a later request, a platform refund, a
            # cancellation): there is nothing left to appeal for, and nothing changes.
            raise Conflict("an item of this request was refunded since", code="ITEM_ALREADY_REFUNDED")
        now = clock.now()
        refund.appeal()
        refund.appeal_description = description
        refund.appealed_at = now
        policy_days = order.snapshot["refund_policy"]["review_sla_workdays"]
        refund.sla_due_at = add_workdays(now, policy_days)
        refund.escalated = False  # a new review round: its own deadline, its own escalation
        refund.save()
        RefundItem.objects.filter(id__in=[i.id for i in items]).update(active=True)
        for item in held:
            item.hold_for_refund()
            item.save()
        refund_event(refund=refund, event="appealed", actor=actor_label(user), note=description)
        tell_staff(refund, senior_reviewers(excluding_id=refund.first_decided_by_id), "staff.appealed", text=description)
        tell_buyer(refund, "refund.appealed")
    return refund


def refund_withdraw(*, user, refund_id) -> Refund:
    refund = refund_for_buyer(user=user, refund_id=refund_id)
    with transaction.atomic():
        refund = _locked(refund.id)
        if refund.status not in ("submitted", "awaiting_buyer", "rejected"):
            raise Conflict(f"a refund that is {refund.status} cannot be withdrawn", code="WITHDRAW_NOT_ALLOWED")
        was_open = refund.status != "rejected"
        refund.withdraw()
        refund.save()
        if was_open:
            release_items(refund)
        refund_event(refund=refund, event="withdrawn", actor=actor_label(user))
        tell_buyer(refund, "refund.withdrawn")
    return refund


def release_items(refund: Refund) -> None:
    """The request no longer holds its items: they return to delivered (or pending)."""
    for item in lock_items(refund.items.filter(active=True).values_list("order_item_id", flat=True)):
        if item.delivered_at is not None:
            item.release_to_delivered()
        else:
            item.release_to_pending()
        item.save()
    refund.items.update(active=False)


def refunds_close_unanswered(*, limit: int = 500) -> int:
    """Requests for information past their reply window close (the buyer may apply again)."""
    due = Refund.objects.filter(status="awaiting_buyer", info_due_at__lte=clock.now()).values_list("id", flat=True)
    closed = 0
    for refund_id in list(due[:limit]):
        with transaction.atomic():
            refund = _locked(refund_id)
            if refund.status != "awaiting_buyer" or refund.info_due_at > clock.now():
                continue
            refund.close_for_timeout()
            refund.closed_reason = "buyer_timeout"
            refund.save()
            release_items(refund)
            refund_event(refund=refund, event="closed", note="buyer did not answer within the reply window")
            tell_buyer(refund, "refund.closed_unanswered", sms=True)
            closed += 1
    return closed


def ensure_owner_not_deciding(*, actor, refund) -> None:
    if refund.buyer_id == actor.id:
        raise Forbidden("a reviewer cannot decide a refund on their own order", code="OWN_ORDER")
