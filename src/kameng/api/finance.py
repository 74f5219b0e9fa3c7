"""Finance's reads that are not the ledger: the reconciliation reports (contract "Suppliers and finance")."""

from kameng.accounts.models import Role
from kameng.core.errors import Forbidden, Invalid
from kameng.payments.gateways.registry import CHANNELS
from kameng.payments.selectors import reconciliation_runs, run_out

from .base import answers, api
from .serializers import Out


class ReconciliationCountsOut(Out):
    matched: int
    missing_here: int
    missing_there: int
    amount_differs: int
    repaired: int


class ReconciliationLineOut(Out):
    kind: str  # payment, refund
    category: str  # missing_here, missing_there, amount_differs
    our_no: str
    their_no: str
    order_no: str | None
    statement_amount: str | None
    our_amount: str | None
    at: str | None
    reason: str
    reason_text: str
    repair: str | None  # captured, payout_settled; None: for a person


class ReconciliationRunOut(Out):
    id: int
    channel: str
    channel_name: str
    date: str
    source: str  # gateway, file
    file_name: str | None
    status: str  # running, balanced, differences, failed
    error: str | None  # "CODE: detail" (English, for logs)
    error_text: str | None  # what it means, for a person
    started_at: str
    finished_at: str | None
    statement_lines: int
    counts: ReconciliationCountsOut
    unmatched: list[ReconciliationLineOut]


class ReconciliationOut(Out):
    runs: list[ReconciliationRunOut]


def _limit(text: str | None) -> int:
    if text is None:
        return 20
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= 100:
        raise Invalid("limit is a whole number from 1 to 100", code="VALIDATION_ERROR")
    return int(text)


@api.get("/finance/reconciliation", tags=["finance"], response=answers({200: ReconciliationOut}, 403, 422),
         exclude_unset=True)
def finance_reconciliation(request, limit: str | None = None, channel: str | None = None):
    """The latest reconciliation runs, newest first, with their counts and unmatched lines (finance, admin)."""
    # The role first: anyone else learns nothing, not even which parameters would be accepted.
    if request.auth.role not in (Role.FINANCE, Role.ADMIN):
        raise Forbidden("only finance and admins read the reconciliation reports", code="ROLE_FORBIDDEN")
    if channel is not None and channel not in CHANNELS:
        raise Invalid(f"channel is one of {', '.join(CHANNELS)}", code="INVALID_CHANNEL")
    return {"runs": [run_out(run) for run in reconciliation_runs(limit=_limit(limit), channel=channel)]}
