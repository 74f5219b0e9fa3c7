"""What falls due in after-sales: what the platform failed to deliver is refunded, unanswered requests
close, missing evidence is asked for and then marked, undecided refunds are escalated and then approved,
payouts are reconciled and reported."""

from kameng.core.deadlines import Deadline

from .escalation import refunds_auto_approve_due, refunds_escalate_due
from .evidence_deadline import refunds_evidence_overdue, refunds_evidence_remind
from .payouts import gateway_refunds_notify_due, payouts_reconcile
from .proactive import refunds_proactive_due
from .services import refunds_close_unanswered
from .supplier_claims import claims_accept_silent

DEADLINES = [
    # First: an order the platform failed is refunded before anything else acts on it.
    Deadline("undelivered_refunded", refunds_proactive_due),
    Deadline("refund_requests_closed", refunds_close_unanswered),
    Deadline("supplier_silence_accepted", claims_accept_silent),
    # After the supplier's silence (an accepted claim needs no evidence), before the review deadlines; the
    # overdue mark before the reminder, so a clock moved past both sends no reminder of a deadline gone.
    Deadline("evidence_overdue_marked", refunds_evidence_overdue),
    Deadline("evidence_reminded", refunds_evidence_remind),
    # Escalation first: with the clock moved far ahead, a case is escalated and then approved in one sweep.
    Deadline("refunds_escalated", refunds_escalate_due),
    Deadline("refunds_auto_approved", refunds_auto_approve_due),
    Deadline("payouts_reconciled", payouts_reconcile),
    Deadline("gateway_refunds_notified", gateway_refunds_notify_due),
]
