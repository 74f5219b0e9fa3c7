"""After-sales endpoints (contract §After-sales). Thin: services decide, this translates."""

from django.http import StreamingHttpResponse
from ninja import File, Schema
from ninja.files import UploadedFile

from kameng.aftersales import decisions, services
from kameng.aftersales.dossier import dossier_stream
from kameng.aftersales.records import platform_record
from kameng.aftersales.selectors import evidence_state, refund_for_buyer, refund_for_staff, staff_queue
from kameng.core import clock
from kameng.core.error_texts import one_language
from kameng.core.errors import Invalid
from kameng.core.idempotency import run_idempotent
from kameng.core.money import fen_str

from .base import Code, Text, answers, api
from .serializers import (
    BuyerRefundRowOut,
    EvidenceOut,
    QueueRowOut,
    RefundNotifyOut,
    RefundOptionsOut,
    RefundOut,
    SigningKeyOut,
    StaffCaseOut,
    iso,
    order_out,
)

ZIP_ANSWER = {"responses": {200: {
    "description": "the signed evidence package",
    "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
}}}


def evidence_row(e) -> dict:
    return {"id": e.id, "source": e.source, "kind": e.kind, "content_type": e.content_type,
            "name": e.original_name, "size": e.size, "sha256": e.sha256, "received_at": iso(e.received_at),
            # The bytes as sent (before a picture was re-encoded without EXIF); `sha256` is the stored copy's.
            "received_sha256": e.received_sha256, "received_size": e.received_size,
            "removed": e.removed_at is not None, "removed_at": iso(e.removed_at)}


def refund_out(refund, *, staff: bool = False) -> dict:
    evidence = evidence_state(refund)
    body = {
        "id": refund.id,
        "refund_no": refund.refund_no,
        "order_no": refund.order.order_no,
        "status": refund.status,
        "reason": refund.reason,
        "description": refund.description,
        "item_ids": list(refund.items.values_list("order_item_id", flat=True)),
        "amount": fen_str(refund.amount_fen),
        "fee": fen_str(refund.fee_fen),
        "fee_rate": refund.fee_rate,
        "refund_amount": fen_str(refund.refund_amount_fen),
        "destination": refund.destination,
        "needs_evidence": refund.needs_evidence,
        "awaiting_evidence": evidence["awaiting"],
        "evidence_due_at": iso(refund.evidence_due_at),
        "evidence_overdue_at": iso(refund.evidence_overdue_at),
        "evidence_removable": evidence["removable"],
        "opened_at": iso(refund.opened_at),
        "liable": refund.liable,
        "submitted_at": iso(refund.submitted_at),
        "sla_due_at": iso(refund.sla_due_at),
        "overdue": refund.is_overdue(clock.now()),
        "info_due_at": iso(refund.info_due_at),
        "escalated": refund.escalated,
        "decided_at": iso(refund.decided_at),
        "reject_reason_code": refund.reject_reason_code or None,
        "decision_note": refund.decision_note or None,
        "appeal_due_at": iso(refund.appeal_due_at),
        "appeal_description": refund.appeal_description or None,
        "expected_arrival_by": iso(refund.expected_arrival_by),
        "refunded_at": iso(refund.refunded_at),
        "closed_reason": refund.closed_reason or None,
        "supplier_due_at": iso(refund.supplier_due_at),
        "supplier_answer": refund.supplier_answer or None,
        "supplier_note": refund.supplier_note or None,
        "timeline": [_event(e) for e in refund.events.order_by("id")],
        "messages": [{"id": m.id, "at": iso(m.at), "author_role": m.author_role, "kind": m.kind, "body": m.body}
                     for m in refund.messages.order_by("id")],
        "evidence": [evidence_row(e) for e in evidence["files"]],
    }
    if staff:
        body["buyer_id"] = refund.buyer_id
        body["first_decided_by"] = refund.first_decided_by_id
    return body


def _event(e) -> dict:
    return {"at": iso(e.at), "actor": e.actor, "event": e.event, "note": e.note}


def queue_row(refund) -> dict:
    return {
        "id": refund.id, "refund_no": refund.refund_no, "status": refund.status,
        "order_no": getattr(refund, "queue_order_no", None) or refund.order.order_no,
        "reason": refund.reason, "amount": fen_str(refund.amount_fen), "sla_due_at": iso(refund.sla_due_at),
        "overdue": refund.is_overdue(clock.now()), "escalated": refund.escalated,
        "submitted_at": iso(refund.submitted_at),
    }


def _int_list(value, field: str):
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise Invalid(f"{field} is a list of ids", code="INVALID_ITEM_IDS")
    return value


@api.get("/orders/{order_no}/refund-options", tags=["after-sales"],
     response=answers({200: RefundOptionsOut}, 403, 404), exclude_unset=True)
def refund_options(request, order_no: str):
    result = services.refund_options(user=request.auth, order_no=order_no)
    return {
        "order_no": result["order"].order_no,
        "reasons": [
            {"code": o.code, "eligible": o.eligible, "fee_rate": f"{o.fee_rate:.2f}", "needs_evidence": o.needs_evidence,
             "automatic": o.automatic, "why": one_language(o.why), "deadline": iso(o.deadline)}
            for o in result["options"]
        ],
        "item_ids": [i.id for i in result["items"]],
        "deadline": iso(result["deadline"]),
        "max_amount": str(result["max_amount"]),
    }


class RefundIn(Schema):
    order_no: Code
    reason: Code
    description: Text
    item_ids: list | None = None
    destination: Code = "original"


@api.post("/refunds", tags=["after-sales"],
     response=answers({201: RefundOut}, 403, 404, 409, body=True), exclude_unset=True)
def refund_create(request, body: RefundIn):
    def work():
        refund = services.refund_create(buyer=request.auth, order_no=body.order_no, reason=body.reason,
                                        description=body.description, destination=body.destination,
                                        item_ids=_int_list(body.item_ids, "item_ids"))
        return 201, refund_out(refund)

    status, response = run_idempotent(user=request.auth, key=request.headers.get("Idempotency-Key"),
                                      endpoint="POST /refunds", body=body.dict(), work=work)
    return api.create_response(request, response, status=status)


@api.get("/refunds", tags=["after-sales"],
     response=answers({200: list[BuyerRefundRowOut]}, 403), exclude_unset=True)
def refund_list(request):
    """The buyer's refunds, newest first, with their timelines: the platform's own refunds (a failed top-up, an
    order it could not deliver) are here too, their first timeline entry by actor `system`."""
    refunds = request.auth.refunds.select_related("order").prefetch_related("events").order_by("-id")[:100]
    return [{**queue_row(r), "refund_amount": fen_str(r.refund_amount_fen), "destination": r.destination,
             "timeline": [_event(e) for e in sorted(r.events.all(), key=lambda e: e.id)]} for r in refunds]


@api.get("/refunds/{refund_id}", tags=["after-sales"],
     response=answers({200: RefundOut}, 403, 404), exclude_unset=True)
def refund_detail(request, refund_id: str):
    return refund_out(refund_for_buyer(user=request.auth, refund_id=refund_id))


@api.post("/refunds/{refund_id}/evidence", tags=["after-sales"],
     response=answers({201: EvidenceOut}, 403, 404, 409, 415, body=True), exclude_unset=True)
def refund_evidence(request, refund_id: str, file: UploadedFile = File(None),  # noqa: B008  (ninja idiom)
                    files: list[UploadedFile] = File(None)):  # noqa: B008
    """One `file` (as always) or several: repeat `file`, or send `files` parts. All are stored or none (a
    duplicate of a file already on record is 409 DUPLICATE_EVIDENCE). The answer describes the first file,
    as before, and lists every file under `files`."""
    uploads = request.FILES.getlist("file") + request.FILES.getlist("files")
    if not uploads:
        raise Invalid("send the evidence as a multipart part named file (or several named files)", code="NO_FILE")
    stored = services.evidence_add_many(user=request.auth, refund_id=refund_id, uploaded_files=uploads)
    rows = [{"id": e.id, "sha256": e.sha256, "received_sha256": e.received_sha256, "kind": e.kind,
             "name": e.original_name, "received_at": iso(e.received_at)} for e in stored]
    return api.create_response(request, {**rows[0], "files": rows}, status=201)


@api.post("/refunds/{refund_id}/evidence/{evidence_id}/remove", tags=["after-sales"],
          response=answers({200: RefundOut}, 403, 404, 409, 422), exclude_unset=True)
def refund_evidence_remove(request, refund_id: str, evidence_id: int):
    """Take back a wrong upload until a reviewer opens the case. The file stays on record, marked removed,
    and the timeline shows the removal (409 EVIDENCE_LOCKED once a reviewer has opened the case)."""
    services.evidence_remove(user=request.auth, refund_id=refund_id, evidence_id=evidence_id)
    return refund_out(refund_for_buyer(user=request.auth, refund_id=refund_id))


class MessageIn(Schema):
    body: Text


@api.post("/refunds/{refund_id}/messages", tags=["after-sales"],
     response=answers({201: RefundOut}, 403, 404, 409, body=True), exclude_unset=True)
def refund_message(request, refund_id: str, body: MessageIn):
    services.refund_message(user=request.auth, refund_id=refund_id, body=body.body)
    return api.create_response(request, refund_out(refund_for_buyer(user=request.auth, refund_id=refund_id)), status=201)


@api.post("/refunds/{refund_id}/urge", tags=["after-sales"],
     response=answers({200: RefundOut}, 403, 404, 409), exclude_unset=True)
def refund_urge(request, refund_id: str):
    return refund_out(services.refund_urge(user=request.auth, refund_id=refund_id))


class AppealIn(Schema):
    description: Text


@api.post("/refunds/{refund_id}/appeal", tags=["after-sales"],
     response=answers({200: RefundOut}, 403, 404, 409, body=True), exclude_unset=True)
def refund_appeal(request, refund_id: str, body: AppealIn):
    return refund_out(services.refund_appeal(user=request.auth, refund_id=refund_id, description=body.description))


@api.post("/refunds/{refund_id}/withdraw", tags=["after-sales"],
     response=answers({200: RefundOut}, 403, 404, 409), exclude_unset=True)
def refund_withdraw(request, refund_id: str):
    return refund_out(services.refund_withdraw(user=request.auth, refund_id=refund_id))


def dossier_sections(refund) -> dict:
    order = refund.order
    record = platform_record(order=order)
    refund_body = refund_out(refund)
    return {
        "refund": refund_body,
        "order": order_out(order),
        "order_snapshot": order.snapshot,
        "payments": record["payments"],
        "deliveries": record["deliveries"],
        "reveals": record["reveals"],
        "timeline": refund_body["timeline"],
        "messages": refund_body["messages"],
        "order_events": record["events"],
    }


@api.get("/refunds/{refund_id}/dossier", tags=["after-sales"],
     response=answers({}, 403, 404, 409), openapi_extra=ZIP_ANSWER)
def refund_dossier(request, refund_id: str):
    refund = refund_for_buyer(user=request.auth, refund_id=refund_id)
    # Streamed: a dossier with large evidence is never held in memory.
    response = StreamingHttpResponse(dossier_stream(refund=refund, sections=dossier_sections(refund)),
                                     content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="kameng-dossier-{refund.refund_no}.zip"'
    return response


# ---- staff -------------------------------------------------------------------------------------


@api.get("/staff/refunds", tags=["staff"],
     response=answers({200: list[QueueRowOut]}, 403, 404, 422), exclude_unset=True)
def staff_refunds(request, status: str | None = None, queue: str | None = None, limit: int = 50, offset: int = 0,
                  after: int | None = None):
    statuses = [s for s in status.split(",") if s] if status else None
    rows = staff_queue(user=request.auth, statuses=statuses, senior_only=queue == "senior",
                       limit=max(1, min(limit, 200)), offset=max(0, min(offset, 10**6)), after_id=after)
    return [queue_row(r) for r in rows]


@api.get("/staff/refunds/{refund_id}", tags=["staff"],
     response=answers({200: StaffCaseOut}, 403, 404), exclude_unset=True)
def staff_refund_case(request, refund_id: str):
    from kameng.api.serializers import product_out
    from kameng.catalog.selectors import product_get

    refund = refund_for_staff(user=request.auth, refund_id=refund_id)
    services.refund_opened(user=request.auth, refund_id=refund.id)  # the buyer's uploads are now fixed
    refund = refund_for_staff(user=request.auth, refund_id=refund_id)
    record = platform_record(order=refund.order)
    try:
        current_product = product_out(product_get(refund.order.product_id, active_only=False))
    except Exception:
        current_product = None
    return {"refund": refund_out(refund, staff=True), "order_snapshot": refund.order.snapshot,
            "current_product": current_product, "deliveries": record["deliveries"], "reveals": record["reveals"],
            "payments": record["payments"], "topup": record["topup"], "order_events": record["events"]}


class InfoIn(Schema):
    message: Text


@api.post("/staff/refunds/{refund_id}/request-info", tags=["staff"],
     response=answers({200: RefundOut}, 403, 404, 409, body=True), exclude_unset=True)
def staff_request_info(request, refund_id: str, body: InfoIn):
    refund = decisions.refund_request_info(actor=request.auth, refund_id=refund_id, message=body.message)
    return refund_out(refund, staff=True)


class ApproveIn(Schema):
    amount: Code | int | None = None
    fee: Code | int | None = None
    note: Text = ""


@api.post("/staff/refunds/{refund_id}/approve", tags=["staff"],
     response=answers({200: RefundOut}, 403, 404, 409, body=True), exclude_unset=True)
def staff_approve(request, refund_id: str, body: ApproveIn):
    refund = decisions.refund_approve(actor=request.auth, refund_id=refund_id, amount=body.amount, fee=body.fee,
                                      note=body.note)
    return refund_out(refund, staff=True)


class RejectIn(Schema):
    reason_code: Code
    note: Text = ""


@api.post("/staff/refunds/{refund_id}/reject", tags=["staff"],
     response=answers({200: RefundOut}, 403, 404, 409, body=True), exclude_unset=True)
def staff_reject(request, refund_id: str, body: RejectIn):
    refund = decisions.refund_reject(actor=request.auth, refund_id=refund_id, reason_code=body.reason_code, note=body.note)
    return refund_out(refund, staff=True)


@api.post("/payments/notify/sandbox-refund", auth=None, tags=["payments"],
     response=answers({200: RefundNotifyOut}, 403, 404, 409, 413, 422, auth=False), exclude_unset=True)
def notify_sandbox_refund(request):
    from kameng.aftersales.payouts import refund_notification_receive
    from kameng.payments.notify import sandbox_refund_form

    payout = refund_notification_receive(sandbox_refund_form(request))
    return {"result": "success", "request_no": payout.request_no}


@api.post("/payments/refund-notify/sandbox", auth=None, tags=["payments"], deprecated=True,
     response=answers({200: RefundNotifyOut}, 403, 404, 409, 413, 422, auth=False), exclude_unset=True)
def refund_notify_sandbox(request):
    """The first path of the sandbox refund notification; `/payments/notify/sandbox-refund` is the same."""
    return notify_sandbox_refund(request)


@api.get("/signing-key", auth=None, tags=["after-sales"],
     response=answers({200: SigningKeyOut}, auth=False), exclude_unset=True)
def signing_key(request):
    from kameng.core.signing import public_key_pem

    return {"algorithm": "Ed25519", "public_key_pem": public_key_pem()}
