"""Finance pays a failed refund payout again (to the wallet, or on the original path). Thin."""

from ninja import Schema

from kameng.aftersales.payout_failures import payout_retry
from kameng.core.money import fen_str

from .base import Code, answers, api
from .serializers import Out, iso


class PayoutRetryIn(Schema):
    destination: Code


class PayoutOut(Out):
    id: int
    refund_no: str
    status: str
    channel: str
    amount: str
    request_no: str
    failure_code: str | None = None
    failure_message: str | None = None
    failed_at: str | None = None
    retry_destination: str | None = None
    retried_at: str | None = None
    completed_at: str | None = None


def payout_out(payout) -> dict:
    return {
        "id": payout.id, "refund_no": payout.refund.refund_no, "status": payout.status, "channel": payout.channel,
        "amount": fen_str(payout.amount_fen), "request_no": payout.request_no,
        "failure_code": payout.failure_code or None, "failure_message": payout.failure_message or None,
        "failed_at": iso(payout.failed_at), "retry_destination": payout.retry_destination or None,
        "retried_at": iso(payout.retried_at), "completed_at": iso(payout.completed_at),
    }


@api.post("/finance/payouts/{payout_id}/retry", tags=["finance"],
     response=answers({200: PayoutOut}, 403, 404, 409, body=True), exclude_unset=True)
def finance_payout_retry(request, payout_id: int, body: PayoutRetryIn):
    """Pay a failed refund payout once: "wallet" now, or "original" under a new request number."""
    return payout_out(payout_retry(actor=request.auth, payout_id=payout_id, destination=body.destination))
