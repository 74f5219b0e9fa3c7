"""Supplier first (contract: "Deadlines the platform keeps by itself"): the supplier's claims, accept, contest.

Thin: kameng.aftersales.supplier_claims decides; this translates.
"""

from ninja import Schema
from pydantic import Field as PydanticField

from kameng.aftersales import supplier_claims as claims
from kameng.core import clock
from kameng.core.money import fen_str

from .base import Text, answers, api
from .serializers import Out, iso


class ClaimTimelineOut(Out):
    at: str
    actor: str = PydanticField(description="a role only (buyer, reviewer, supplier, system): never a person's name")
    event: str
    note: str


class ClaimMessageOut(Out):
    at: str
    author_role: str
    kind: str
    body: str


class ClaimEvidenceOut(Out):
    id: int
    source: str
    kind: str
    content_type: str
    size: int
    sha256: str
    received_at: str


class ClaimOrderOut(Out):
    paid_at: str | None
    delivered_at: str | None
    quantity: int
    unit_price: str
    channel: str


class ClaimOut(Out):
    id: int
    refund_no: str
    order_no: str
    product_id: int
    product_name: str
    buyer: str = PydanticField(description="the buyer's username, masked")
    status: str
    reason: str
    description: str
    item_ids: list[int]
    amount: str
    refund_amount: str
    submitted_at: str | None
    sla_due_at: str | None
    supplier_due_at: str | None = PydanticField(description="answer by then; silence is acceptance")
    supplier_answer: str | None = PydanticField(description="pending | accepted | contested | silent")
    supplier_note: str | None
    supplier_answered_at: str | None
    can_answer: bool
    decided_at: str | None
    decision_note: str | None
    order: ClaimOrderOut
    order_snapshot: dict
    deliveries: list
    reveals: list
    timeline: list[ClaimTimelineOut]
    messages: list[ClaimMessageOut]
    evidence: list[ClaimEvidenceOut]


def claim_out(refund) -> dict:
    view = claims.claim_view(refund, clock.now())
    return {
        **view,
        "amount": fen_str(view["amount"]),
        "refund_amount": fen_str(view["refund_amount"]),
        **{key: iso(view[key]) for key in ("submitted_at", "sla_due_at", "supplier_due_at", "supplier_answered_at",
                                           "decided_at")},
        "supplier_answer": view["supplier_answer"] or None,
        "supplier_note": view["supplier_note"] or None,
        "decision_note": view["decision_note"] or None,
        "order": {**view["order"], "paid_at": iso(view["order"]["paid_at"]),
                  "delivered_at": iso(view["order"]["delivered_at"]), "unit_price": fen_str(view["order"]["unit_price"])},
        "reveals": [{**r, "at": iso(r["at"])} for r in view["reveals"]],
        "timeline": [{**e, "at": iso(e["at"])} for e in view["timeline"]],
        "messages": [{**m, "at": iso(m["at"])} for m in view["messages"]],
        "evidence": [{**e, "received_at": iso(e["received_at"])} for e in view["evidence"]],
    }


@api.get("/supplier/refunds", tags=["supplier"],
     response=answers({200: list[ClaimOut]}, 403, 422), exclude_unset=True)
def supplier_refunds(request, open: bool = False):  # noqa: A002  (the query parameter's name)
    """Claims against the supplier's own products, newest first; `open=true`: only those awaiting its answer."""
    return [claim_out(r) for r in claims.claims_for_supplier(user=request.auth, open_only=open)]


@api.get("/supplier/refunds/{refund_id}", tags=["supplier"],
     response=answers({200: ClaimOut}, 403, 404), exclude_unset=True)
def supplier_refund(request, refund_id: str):
    return claim_out(claims.claim_for_supplier(user=request.auth, refund_id=refund_id))


class AcceptIn(Schema):
    note: Text = ""


class ContestIn(Schema):
    note: Text = ""


@api.post("/supplier/refunds/{refund_id}/accept", tags=["supplier"],
     response=answers({200: ClaimOut}, 403, 404, 409, body=True), exclude_unset=True)
def supplier_accept(request, refund_id: str, body: AcceptIn | None = None):
    refund = claims.claim_accept(supplier=request.auth, refund_id=refund_id, note=body.note if body else "")
    return claim_out(refund)


@api.post("/supplier/refunds/{refund_id}/contest", tags=["supplier"],
     response=answers({200: ClaimOut}, 403, 404, 409, body=True), exclude_unset=True)
def supplier_contest(request, refund_id: str, body: ContestIn):
    return claim_out(claims.claim_contest(supplier=request.auth, refund_id=refund_id, note=body.note))
