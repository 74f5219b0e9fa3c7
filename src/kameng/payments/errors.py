from kameng.core.errors import Conflict, DomainError, NotFound


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
