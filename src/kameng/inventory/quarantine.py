"""Batch quarantine: when enough keys of one import batch are proven bad, the rest stop selling.

A key is proven bad when a refund for it (`invalid_key`, `key_already_used`) is approved: after-sales
counts those per batch (aftersales/batch_defects.py) and asks `batch_check` at the moment of approval,
inside the approval's transaction. The rule itself is `policies.quarantine_due`.

Quarantining a batch, in that same transaction and under the batch's row lock (so two approvals racing
quarantine once and tell once):
- its unsold keys — in stock or held by unpaid orders — become `frozen`: the reservation query only
  ever looks at `available` keys, so the purchase path does not change or slow down;
- the unpaid orders that held some of them are refilled from other stock of the product, or closed with
  the buyer told (no money was taken), by a job that commits with the quarantine and locks each order
  in the one lock order (`orders.held_stock`);
- the supplier and every admin get a 站内信.
Paid orders never wait on a frozen key: a paid order holds no reservation (its keys were issued at
payment), a payment that arrives meanwhile takes fresh keys from stock (`secrets_issue`), and one that
finds none is undeliverable, which the platform refunds by itself (after-sales' proactive refunds).

An admin then releases the batch (its keys sell again) or voids it (they never will).
"""

import logging
from collections.abc import Callable

from django.conf import settings
from django.db import transaction

from kameng.accounts.models import Role, User
from kameng.core import clock, locks
from kameng.core.errors import Conflict, Invalid, NotFound
from kameng.core.text import clause
from kameng.notifications.services import notify

from .models import BatchEvent, CardSecret, ImportBatch, KeyIssue, QuarantineState, SecretStatus
from .policies import quarantine_due

logger = logging.getLogger(__name__)

MAX_NOTE = 4000  # as a refund decision's note
Q = QuarantineState


def _lock_batch(batch_id: int) -> ImportBatch:
    return locks.lock_one(ImportBatch.objects.filter(id=batch_id))


def batch_sold(batch_id: int) -> int:
    """Keys of the batch that were ever issued to an order."""
    return KeyIssue.objects.filter(secret__batch_id=batch_id).values("secret_id").distinct().count()


def _event(batch: ImportBatch, event: str, actor: str, note: str = "") -> None:
    BatchEvent.objects.create(batch=batch, at=clock.now(), actor=actor, event=event, note=note)


def _about(batch: ImportBatch) -> dict:
    """How a person recognises a batch in a message: its product, number and import time."""
    return {"batch": batch.id, "product": batch.product.name, "imported_at": batch.started_at}


def _admins():
    return User.objects.filter(role=Role.ADMIN, is_active=True).order_by("id")


def _percent(part: int, whole: int) -> str:
    return f"{part * 100 / whole:.1f}%" if whole else "—"


def batch_check(*, batch_id: int, count_defects: Callable[[int], int]) -> bool:
    """After an approved key-defect refund: quarantine the batch if its defects now pass the threshold.

    Called inside the approval's transaction, after its payout rows (see kameng.core.locks). The count is
    taken under the batch's lock, so of two approvals racing, the later one counts the earlier one.
    Returns True when this call quarantined the batch.
    """
    batch = _lock_batch(batch_id)
    if batch.quarantine in (Q.QUARANTINED, Q.VOIDED):
        if batch.quarantine == Q.QUARANTINED:  # keep the figure the admin decides on up to date
            ImportBatch.objects.filter(id=batch.id).update(quarantine_defects=count_defects(batch.id))
        return False
    defects = count_defects(batch.id)
    min_defects = settings.KAMENG_QUARANTINE_MIN_DEFECTS
    if defects - batch.forgiven_defects < min_defects:
        return False  # the cheap test first: most batches never get here
    sold = batch_sold(batch.id)
    if not quarantine_due(defects=defects, forgiven=batch.forgiven_defects, sold=sold, min_defects=min_defects,
                          share=settings.KAMENG_QUARANTINE_DEFECT_SHARE):
        return False
    _quarantine(batch, defects=defects, sold=sold)
    return True


def _quarantine(batch: ImportBatch, *, defects: int, sold: int) -> None:
    now = clock.now()
    keys = CardSecret.objects.filter(batch_id=batch.id)
    # One UPDATE takes the row locks (CardSecret, last in the lock order). A key a buyer is reserving this
    # very moment is waited for and re-checked, so it is frozen too, still naming its order: that is how
    # the orders to refill are found below, whichever committed first.
    frozen = locks.update_locked(keys.filter(status__in=(SecretStatus.AVAILABLE, SecretStatus.RESERVED)),
                                 status=SecretStatus.FROZEN)
    held = keys.filter(status=SecretStatus.FROZEN, reserved_order__isnull=False)
    order_ids = sorted(set(held.values_list("reserved_order_id", flat=True)))
    if order_ids:
        held.update(reserved_order=None)
    batch.quarantine = Q.QUARANTINED
    batch.quarantined_at = now
    batch.quarantine_defects = defects
    batch.quarantine_sold = sold
    batch.quarantine_frozen = frozen
    batch.quarantine_decided_by = None
    batch.quarantine_decided_at = None
    batch.quarantine_note = ""
    batch.save(update_fields=["quarantine", "quarantined_at", "quarantine_defects", "quarantine_sold",
                              "quarantine_frozen", "quarantine_decided_by", "quarantine_decided_at",
                              "quarantine_note"])
    why = f"{defects - batch.forgiven_defects} key defect(s) of {sold} sold; {frozen} unsold key(s) frozen"
    _event(batch, "quarantined", "system", f"{why}; unpaid orders to refill: {len(order_ids)}")
    if order_ids:
        from .tasks import refill_quarantined_orders

        refill_quarantined_orders.enqueue(order_ids)  # the job row commits with the quarantine, or neither
    logger.warning("import batch %s quarantined: %s", batch.id, why)
    _tell_quarantined(batch, defects=defects - batch.forgiven_defects, sold=sold, frozen=frozen,
                      unpaid_orders=len(order_ids))


def _tell_quarantined(batch: ImportBatch, *, defects: int, sold: int, frozen: int, unpaid_orders: int) -> None:
    facts = {**_about(batch), "defects": defects, "sold": sold, "share": _percent(defects, sold), "frozen": frozen,
             "quarantined_at": batch.quarantined_at}
    notify(user=batch.product.supplier, code="batch.quarantined", params=facts)
    for admin in _admins():
        notify(user=admin, code="batch.quarantined_admin",
               params={**facts, "unpaid": "some" if unpaid_orders else "none", "unpaid_orders": unpaid_orders})


def _decidable(actor, batch_id) -> ImportBatch:
    """The batch, locked, for an admin to decide; anyone else finds nothing (404)."""
    if getattr(actor, "role", None) != Role.ADMIN or not isinstance(batch_id, int):
        raise NotFound("no such batch", code="BATCH_NOT_FOUND")
    if not ImportBatch.objects.filter(id=batch_id).exists():
        raise NotFound("no such batch", code="BATCH_NOT_FOUND")
    batch = _lock_batch(batch_id)
    if batch.quarantine != Q.QUARANTINED:
        raise Conflict(f"the batch is not quarantined (it is {batch.quarantine})", code="BATCH_NOT_QUARANTINED")
    return batch


def _clean_note(note) -> str:
    if note is None:
        return ""
    if not isinstance(note, str) or len(note.strip()) > MAX_NOTE:
        raise Invalid(f"a note is text of at most {MAX_NOTE} characters", code="NOTE_TOO_LONG")
    return note.strip()


def _decide(batch: ImportBatch, *, actor, state: str, note: str) -> None:
    batch.quarantine = state
    batch.quarantine_decided_by = actor
    batch.quarantine_decided_at = clock.now()
    batch.quarantine_note = note
    fields = ["quarantine", "quarantine_decided_by", "quarantine_decided_at", "quarantine_note"]
    if state == Q.RELEASED:
        batch.forgiven_defects = batch.quarantine_defects
        fields.append("forgiven_defects")
    batch.save(update_fields=fields)


def batch_release(*, actor, batch_id, note: str | None = None) -> ImportBatch:
    """An admin finds the batch sound: its frozen keys sell again, and waiting paid orders are filled."""
    note = _clean_note(note)
    with transaction.atomic():
        batch = _decidable(actor, batch_id)
        back = locks.update_locked(CardSecret.objects.filter(batch_id=batch.id, status=SecretStatus.FROZEN),
                                   status=SecretStatus.AVAILABLE)
        _decide(batch, actor=actor, state=Q.RELEASED, note=note)
        _event(batch, "released", f"{actor.role}:{actor.username}", f"{back} key(s) back on sale. {note}".strip())
        notify(user=batch.product.supplier, code="batch.released",
               params={**_about(batch), "back": back, "decided_at": batch.quarantine_decided_at,
                       "note_clause": "with" if note else "none", "note": clause(note)})
        if back:
            from kameng.orders.tasks import deliver_backorders

            deliver_backorders.enqueue(batch.product_id)  # paid orders waiting for stock get these keys
    return batch


def batch_void(*, actor, batch_id, note: str | None = None) -> ImportBatch:
    """An admin condemns the batch: its frozen keys never sell, and the product's stock drops by them."""
    note = _clean_note(note)
    with transaction.atomic():
        batch = _decidable(actor, batch_id)
        gone = locks.update_locked(CardSecret.objects.filter(batch_id=batch.id, status=SecretStatus.FROZEN),
                                   status=SecretStatus.VOIDED)
        _decide(batch, actor=actor, state=Q.VOIDED, note=note)
        _event(batch, "voided", f"{actor.role}:{actor.username}", f"{gone} key(s) voided. {note}".strip())
        notify(user=batch.product.supplier, code="batch.voided",
               params={**_about(batch), "gone": gone, "note_clause": "with" if note else "none", "note": clause(note)})
    return batch


def secret_returned(*, secret_id: int) -> None:
    """A sold key comes back to stock (its refund was for a reason that leaves it good, and it was never
    revealed). Its batch decides where it goes: on sale, frozen with a quarantined batch, voided with a
    voided one. Under the batch's lock, so a quarantine that is being decided cannot miss it."""
    batch_id = CardSecret.objects.filter(id=secret_id).values_list("batch_id", flat=True).first()
    state = _lock_batch(batch_id).quarantine if batch_id else Q.NONE
    status = {Q.QUARANTINED: SecretStatus.FROZEN, Q.VOIDED: SecretStatus.VOIDED}.get(state, SecretStatus.AVAILABLE)
    locks.update_locked(CardSecret.objects.filter(id=secret_id), status=status, reserved_order=None)
