"""Supplier first: a claim the supplier is liable for is put to the supplier before a reviewer decides.

The supplier accepts (approved at once, at the supplier's cost) or contests with a note (a reviewer
decides, seeing it) by `supplier_due_at`; silence past it is acceptance — Taobao's rule that a seller
who does not answer in time has agreed. The supplier, the silence deadline and a reviewer all lock
order → refund (kameng.core.locks) and re-check, so acting at once they make exactly one decision.
"""

from datetime import timedelta

from django.db import transaction

from kameng.accounts.models import Role, User
from kameng.core import clock
from kameng.core.errors import Conflict, Forbidden, Invalid, NotFound
from kameng.core.text import clause
from kameng.core.times import iso_beijing
from kameng.inventory.models import RevealRecord
from kameng.notifications.services import notify

from .decisions import approve_now
from .events import actor_label, refund_event, tell_buyer
from .locking import lock_refund
from .models import Refund, SupplierAnswer
from .policies import SUPPLIER_LIABLE

MAX_NOTE = 4000
# A supplier may answer while the claim waits for a decision (a reviewer asking the buyer does not stop it).
ANSWERABLE = ("submitted", "awaiting_buyer")


def supplier_of(order) -> User:
    return User.objects.get(id=order.snapshot["supplier_id"])


def put_to_supplier(*, refund: Refund, order, reply_hours: int, now) -> None:
    """A new supplier-liable claim (the caller holds the locks): start the supplier's clock and tell it."""
    refund.supplier_due_at = now + timedelta(hours=reply_hours)
    refund.supplier_answer = SupplierAnswer.PENDING
    refund.save()
    refund_event(refund=refund, event="put_to_supplier", note=f"supplier answers by {iso_beijing(refund.supplier_due_at)}")
    notify(user=supplier_of(order), refund=refund, code="supplier.claim",
           params={"refund_no": refund.refund_no, "product": order.snapshot.get("name", ""), "order_no": order.order_no,
                   "reason": refund.reason, "supplier_due": refund.supplier_due_at})
    tell_buyer(refund, "refund.put_to_supplier", supplier_due=refund.supplier_due_at, review_due=refund.sla_due_at)


# ---- reads --------------------------------------------------------------------------------------


def require_supplier(user) -> None:
    if user.role != Role.SUPPLIER:
        raise Forbidden("only a supplier answers claims on its products", code="ROLE_FORBIDDEN")


def claims_for_supplier(*, user, open_only: bool = False, limit: int = 100):
    """Claims against the supplier's own products, the ones waiting for its answer first."""
    require_supplier(user)
    qs = Refund.objects.select_related("order", "buyer").filter(order__product__supplier=user, reason__in=SUPPLIER_LIABLE)
    if open_only:
        qs = qs.filter(supplier_answer=SupplierAnswer.PENDING, status__in=ANSWERABLE)
    return qs.order_by("-id")[:limit]


def claim_for_supplier(*, user, refund_id) -> Refund:
    """One claim on the supplier's own products; anyone else's (or no claim) is 404."""
    require_supplier(user)
    try:
        refund_id = int(refund_id)
    except (TypeError, ValueError):
        refund_id = -1
    refund = (Refund.objects.select_related("order", "buyer").filter(id=refund_id, order__product__supplier=user,
                                                            reason__in=SUPPLIER_LIABLE).first()
              if 0 < refund_id < 2**63 else None)
    if refund is None:
        raise NotFound("no such claim on your products", code="REFUND_NOT_FOUND")
    return refund


def can_answer(refund: Refund, now) -> bool:
    return (refund.supplier_answer == SupplierAnswer.PENDING and refund.status in ANSWERABLE
            and refund.supplier_due_at is not None and now <= refund.supplier_due_at)


# ---- writes -------------------------------------------------------------------------------------


def _note(note) -> str:
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        raise Invalid(f"a note is at most {MAX_NOTE} characters", code="NOTE_TOO_LONG")
    return note


def _check_answerable(refund: Refund, now) -> None:
    if refund.supplier_answer != SupplierAnswer.PENDING or refund.status not in ANSWERABLE:
        raise Conflict(f"this claim was already decided or answered (status {refund.status})",
                       code="CLAIM_ALREADY_DECIDED")
    if refund.supplier_due_at is None or now > refund.supplier_due_at:
        raise Conflict("the time to answer has passed: silence counts as acceptance", code="SUPPLIER_DEADLINE_PASSED")


def _answer(refund: Refund, answer: str, note: str, now) -> None:
    refund.supplier_answer = answer
    refund.supplier_note = note
    refund.supplier_answered_at = now
    if refund.status == "awaiting_buyer":  # decided without the buyer's answer: stop waiting for it
        refund.info_due_at = None
        refund.sla_paused_at = None


def claim_accept(*, supplier, refund_id, note: str = "") -> Refund:
    """The supplier agrees: approved at once, charged to the supplier."""
    note = _note(note)
    refund = claim_for_supplier(user=supplier, refund_id=refund_id)
    with transaction.atomic():
        order, refund = lock_refund(refund.id)
        now = clock.now()
        _check_answerable(refund, now)
        _answer(refund, SupplierAnswer.ACCEPTED, note, now)
        refund.liable = "supplier"
        refund_event(refund=refund, event="supplier_accepted", actor=actor_label(supplier), note=note)
        approve_now(refund=refund, order=order, actor=supplier,
                    note=f"供货商同意退款，由供货商承担。{note}".strip())
    return Refund.objects.get(id=refund.id)


def claim_contest(*, supplier, refund_id, note: str) -> Refund:
    """The supplier disagrees and says why: a reviewer decides, seeing the note."""
    note = _note(note)
    if not note:
        raise Invalid("say why you contest the claim (note)", code="CONTEST_NOTE_REQUIRED")
    refund = claim_for_supplier(user=supplier, refund_id=refund_id)
    with transaction.atomic():
        order, refund = lock_refund(refund.id)
        now = clock.now()
        _check_answerable(refund, now)
        _answer(refund, SupplierAnswer.CONTESTED, note, now)
        refund.save()
        refund_event(refund=refund, event="supplier_contested", actor=actor_label(supplier), note=note)
        tell_buyer(refund, "refund.supplier_contested", note=clause(note), review_due=refund.sla_due_at)
    return refund


def claims_accept_silent(*, limit: int = 500) -> int:
    """Claims whose supplier stayed silent past `supplier_due_at` are approved, at the supplier's cost. Once."""
    due = (Refund.objects.filter(supplier_answer=SupplierAnswer.PENDING, status__in=ANSWERABLE,
                                 supplier_due_at__lte=clock.now())
           .order_by("supplier_due_at", "id").values_list("id", flat=True))
    accepted = 0
    for refund_id in list(due[:limit]):
        with transaction.atomic():
            order, refund = lock_refund(refund_id)
            now = clock.now()
            if (refund.supplier_answer != SupplierAnswer.PENDING or refund.status not in ANSWERABLE
                    or refund.supplier_due_at > now):
                continue  # a supplier, a reviewer or another worker got there first
            _answer(refund, SupplierAnswer.SILENT, "", now)
            refund.liable = "supplier"
            refund_event(refund=refund, event="supplier_silent",
                         note=f"no answer by {iso_beijing(refund.supplier_due_at)}: counted as acceptance")
            approve_now(refund=refund, order=order, actor=None, note="供货商逾期未答复，视为同意退款，由供货商承担。")
            notify(user=supplier_of(order), refund=refund, code="supplier.claim_silent",
                   params={"refund_no": refund.refund_no, "order_no": order.order_no,
                           "supplier_due": refund.supplier_due_at})
            accepted += 1
    return accepted


# ---- what the supplier sees ---------------------------------------------------------------------


def mask_name(name: str) -> str:
    """A buyer's username as the supplier sees it: enough to tell two claims apart, not to find the person."""
    if len(name) <= 2:
        return name[:1] + "*"
    return f"{name[0]}***{name[-1]}"


def _masked_actor(actor: str) -> str:
    """Timeline actors name people ("buyer:alice"); the supplier sees roles only."""
    return actor.partition(":")[0]


def claim_view(refund: Refund, now) -> dict:
    """Everything a reviewer sees of a claim, minus the buyer's private data.

    No phone, no username beyond a masked form, no IP address or browser of a reveal, no payment
    trade numbers, no recharge account: the supplier needs the facts of the delivery, not the person.
    """
    from .records import deliveries

    order = refund.order
    snapshot = order.snapshot
    return {
        "id": refund.id,
        "refund_no": refund.refund_no,
        "order_no": order.order_no,
        "product_id": order.product_id,
        "product_name": snapshot.get("name", ""),
        "buyer": mask_name(refund.buyer.username),
        "status": refund.status,
        "reason": refund.reason,
        "description": refund.description,
        "item_ids": list(refund.items.values_list("order_item_id", flat=True)),
        "amount": refund.amount_fen,
        "refund_amount": refund.refund_amount_fen,
        "submitted_at": refund.submitted_at,
        "sla_due_at": refund.sla_due_at,
        "supplier_due_at": refund.supplier_due_at,
        "supplier_answer": refund.supplier_answer,
        "supplier_note": refund.supplier_note,
        "supplier_answered_at": refund.supplier_answered_at,
        "can_answer": can_answer(refund, now),
        "decided_at": refund.decided_at,
        "decision_note": refund.decision_note,
        "order": {"paid_at": order.paid_at, "delivered_at": order.delivered_at, "quantity": order.quantity,
                  "unit_price": order.unit_price_fen, "channel": order.channel},
        "order_snapshot": snapshot,
        "deliveries": deliveries(order),
        "reveals": [{"item_id": r.order_item_id, "at": r.revealed_at}
                    for r in RevealRecord.objects.filter(order_item__order=order).order_by("id")],
        "timeline": [{"at": e.at, "actor": _masked_actor(e.actor), "event": e.event, "note": e.note}
                     for e in refund.events.order_by("id")],
        "messages": [{"at": m.at, "author_role": m.author_role, "kind": m.kind, "body": m.body}
                     for m in refund.messages.order_by("id")],
        "evidence": [{"id": e.id, "source": e.source, "kind": e.kind, "content_type": e.content_type,
                      "size": e.size, "sha256": e.sha256, "received_at": e.received_at}
                     for e in refund.evidence.order_by("id")],
    }
