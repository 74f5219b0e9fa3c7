"""Batch quarantine for admins (issue 8): quarantined batches, release, void. Thin: inventory decides.

Admins only; to anyone else a batch does not exist (404).
"""

from ninja import Schema

from kameng.inventory import quarantine
from kameng.inventory import selectors as batches

from .base import Text, answers, api
from .serializers import Out, iso


class BatchEventOut(Out):
    at: str
    actor: str
    event: str
    note: str


class BatchOut(Out):
    id: int
    product_id: int
    product_name: str
    supplier_id: int
    imported: int
    imported_at: str
    quarantine: str
    quarantined_at: str | None
    defects: int
    sold: int
    frozen_keys: int
    available_keys: int
    decided_by: str | None
    decided_at: str | None
    note: str
    events: list[BatchEventOut]


def batch_out(batch) -> dict:
    decider = batch.quarantine_decided_by
    return {
        "id": batch.id, "product_id": batch.product_id, "product_name": batch.product.name,
        "supplier_id": batch.product.supplier_id, "imported": batch.imported, "imported_at": iso(batch.started_at),
        "quarantine": batch.quarantine, "quarantined_at": iso(batch.quarantined_at),
        "defects": batch.quarantine_defects, "sold": batch.quarantine_sold,
        "frozen_keys": batch.frozen_keys, "available_keys": batch.available_keys,
        "decided_by": f"{decider.role}:{decider.username}" if decider else None,
        "decided_at": iso(batch.quarantine_decided_at), "note": batch.quarantine_note,
        "events": [{"at": iso(e.at), "actor": e.actor, "event": e.event, "note": e.note}
                   for e in batch.events.order_by("id")],
    }


@api.get("/admin/batches", tags=["catalog"], response=answers({200: list[BatchOut]}, 404, 422), exclude_unset=True)
def admin_batches(request, state: str = "quarantined"):
    """Import batches by quarantine state (`quarantined` by default, longest waiting first)."""
    return [batch_out(b) for b in batches.batches_for_admin(actor=request.auth, state=state)]


@api.get("/admin/batches/{batch_id}", tags=["catalog"], response=answers({200: BatchOut}, 404, 422),
         exclude_unset=True)
def admin_batch(request, batch_id: int):
    return batch_out(batches.batch_for_admin(actor=request.auth, batch_id=batch_id))


class DecisionIn(Schema):
    note: Text = ""


@api.post("/admin/batches/{batch_id}/release", tags=["catalog"],
          response=answers({200: BatchOut}, 404, 409, body=True), exclude_unset=True)
def admin_batch_release(request, batch_id: int, body: DecisionIn | None = None):
    """The batch is sound after all: its held-back keys sell again."""
    quarantine.batch_release(actor=request.auth, batch_id=batch_id, note=body.note if body else "")
    return batch_out(batches.batch_for_admin(actor=request.auth, batch_id=batch_id))


@api.post("/admin/batches/{batch_id}/void", tags=["catalog"],
          response=answers({200: BatchOut}, 404, 409, body=True), exclude_unset=True)
def admin_batch_void(request, batch_id: int, body: DecisionIn | None = None):
    """The batch is bad: its held-back keys never sell, and the product's stock drops by them."""
    quarantine.batch_void(actor=request.auth, batch_id=batch_id, note=body.note if body else "")
    return batch_out(batches.batch_for_admin(actor=request.auth, batch_id=batch_id))
