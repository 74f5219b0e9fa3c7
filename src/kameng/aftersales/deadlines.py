"""What falls due in after-sales: unanswered requests close, payouts are reconciled and reported."""

from kameng.core.deadlines import Deadline

from .payouts import gateway_refunds_notify_due, payouts_reconcile
from .services import refunds_close_unanswered
from .supplier_claims import claims_accept_silent

DEADLINES = [
    Deadline("refund_requests_closed", refunds_close_unanswered),
    Deadline("supplier_silence_accepted", claims_accept_silent),
    Deadline("payouts_reconciled", payouts_reconcile),
    Deadline("gateway_refunds_notified", gateway_refunds_notify_due),
]
