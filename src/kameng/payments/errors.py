from kameng.core.errors import Conflict, DomainError, NotFound
from kameng.core.text import INVALID_TEXT


class BadNotification(DomainError):
    status = 400
    code = "INVALID_NOTIFICATION"


def bad_signature():
    return BadNotification("the notification's signature does not verify", code="BAD_SIGNATURE")


def amount_mismatch():
    return BadNotification("the notified amount differs from the payment's amount", code="AMOUNT_MISMATCH")


def payment_not_found():
    return NotFound("no such payment", code="PAYMENT_NOT_FOUND")


def already_processed():
    return Conflict("this payment was already processed; nothing changed", code="ALREADY_PROCESSED")


def stale():
    return BadNotification("the notification is stale or its time is unreadable", code="STALE_NOTIFICATION")


def unstorable_characters():
    return BadNotification("the notification contains a character that cannot be stored (NUL or a lone surrogate)",
                           code=INVALID_TEXT)


def unreadable_body():
    return BadNotification("the notification's body cannot be read as form fields", code="UNREADABLE_NOTIFICATION")


def too_large():
    return DomainError("the notification's body is too large", code="PAYLOAD_TOO_LARGE", status=413)


def trade_no_reused():
    return Conflict("this gateway trade number already paid another payment", code="TRADE_NO_REUSED")


def payout_not_found():
    return NotFound("no refund was sent with this request number", code="PAYOUT_NOT_FOUND")


def payout_not_sent():
    return Conflict("this refund was not sent to the gateway; nothing changed", code="PAYOUT_NOT_SENT")


def refund_ref_mismatch():
    return BadNotification("the refund reference differs from the one the gateway gave us", code="REFUND_REF_MISMATCH")


def sandbox_off():
    """With KAMENG_SANDBOX=0 the sandbox's secret moves no money (its notify path stays, and refuses)."""
    return BadNotification("the sandbox is off: its notifications move no money", code="SANDBOX_OFF")
