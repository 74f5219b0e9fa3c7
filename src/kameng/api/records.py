"""A buyer's own records (export, wallet history) and the platform's public figures (contract §Buyer's own
records and public figures). Thin: the services and selectors decide, this translates."""

from pydantic import BaseModel

from kameng.aftersales.transparency import report_as_dict, transparency_report

from .base import answers, api, client_ip
from .serializers import Out


class FiguresOut(BaseModel):
    submitted: int
    decided: int
    approved_share: str | None
    median_hours_to_decision: float | None
    p90_hours_to_decision: float | None
    within_deadline_share: str | None
    automatic_share: str | None
    appeals: int
    appeals_decided: int
    appeals_upheld_share: str | None


class ReasonFiguresOut(FiguresOut):
    reason: str
    label: str


class SupplierFiguresOut(FiguresOut):
    supplier: str


class TransparencyOut(Out):
    window_days: int
    since: str
    until: str
    overall: FiguresOut
    by_reason: list[ReasonFiguresOut]
    by_supplier: list[SupplierFiguresOut]


@api.get("/transparency", auth=None, tags=["public"], response=answers({200: TransparencyOut}, auth=False))
def transparency(request):
    """The last 30 days of refund handling, overall, per reason and per supplier (shares as decimal strings)."""
    return report_as_dict(transparency_report())


# ---- the buyer's own records ---------------------------------------------------------------------


EXPORT_ANSWER = {"responses": {200: {
    "description": "a signed ZIP of everything the platform holds about the buyer (verify like the dossier)",
    "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
}}}


@api.get("/me/export", tags=["records"], response=answers({}, 403), openapi_extra=EXPORT_ANSWER)
def me_export(request):
    """Everything about the buyer, streamed; a second request while one is built gets the same export."""
    from kameng.records.responses import export_response
    from kameng.records.services import export_open

    export, stream = export_open(user=request.auth, ip_address=client_ip(request),
                                 user_agent=request.headers.get("User-Agent", ""))
    return export_response(export, stream)


class WalletLineOut(BaseModel):
    id: int
    at: str
    kind: str
    label: str
    amount: str
    balance_after: str
    order_no: str | None
    refund_no: str | None


class WalletHistoryOut(BaseModel):
    items: list[WalletLineOut]
    next_before: int | None


@api.get("/wallet/history", tags=["wallet"], response=answers({200: WalletHistoryOut}, 403, 422))
def wallet_history(request, before: int | None = None, limit: int = 50):
    """The wallet's lines (流水), newest first; pass `next_before` back as `before` for the next page."""
    from kameng.core.errors import Forbidden
    from kameng.core.times import iso_beijing
    from kameng.ledger.history import wallet_history as history

    if not request.auth.is_buyer:
        raise Forbidden("only buyers have a wallet", code="ROLE_FORBIDDEN")
    lines, next_before = history(user=request.auth, before=before, limit=limit)
    return {"items": [{"id": line.id, "at": iso_beijing(line.at), "kind": line.kind, "label": line.label,
                       "amount": line.amount, "balance_after": line.balance_after, "order_no": line.order_no,
                       "refund_no": line.refund_no} for line in lines],
            "next_before": next_before}
