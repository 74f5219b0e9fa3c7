"""A real gateway's notification, from bytes to money: the gateway checks it, the services act on it.

`POST /payments/notify/alipay` and `/payments/notify/wechat` come here. The gateway adapter verifies
and parses (or refuses with the answer its protocol expects); a payment success is taken once, a
refund result settles its payout once; every notification is recorded in the audit trail, and the
answer tells the gateway whether to send it again.
"""

import logging
from functools import partial

from kameng.core.errors import DomainError, NotFound

from . import audit
from .gateways import registry
from .gateways.base import Answer, NotConfigured, NotificationRefused, PaymentState

logger = logging.getLogger(__name__)

REPEAT = "ALREADY_PROCESSED"
ACCEPTED = audit.ACCEPTED


def gateway_notification_receive(*, name: str, headers, body: bytes) -> Answer:
    try:
        gateway = registry.gateway_named(name)
    except NotConfigured:
        raise NotFound("no such notify endpoint", code="NOT_FOUND") from None
    try:
        notice = gateway.parse_notification(headers=headers, body=body)
    except NotificationRefused as refused:
        _record(name, "payment", refused.log_fields, refused.code)
        logger.warning("%s notification refused: %s (%s)", name, refused.code, refused.detail)
        return refused.answer
    try:
        return _act(name, gateway, notice)
    except Exception:
        audit.record_failure(partial(_record, name, "refund" if notice.refund else "payment", notice.log_fields))
        raise


def _act(name: str, gateway, notice) -> Answer:
    if notice.refund is not None:
        from kameng.aftersales.gateway_payouts import payout_settle

        outcome = payout_settle(gateway=name, result=notice.refund)
        _record(name, "refund", notice.log_fields, outcome, payment_no=notice.refund.payment_no)
        return notice.ack if outcome in (ACCEPTED, REPEAT, "IGNORED", "REFUND_FAILED") else gateway.refusal(outcome)
    payment = notice.payment
    if payment is None or payment.state != PaymentState.SUCCEEDED:
        _record(name, "payment", notice.log_fields, "IGNORED")
        return notice.ack  # a state we do not act on (closed, waiting): taken, so it is not sent again
    from . import services

    try:
        services.gateway_payment_take(gateway=name, payment_no=payment.payment_no, trade_no=payment.trade_no,
                                      amount_fen=payment.amount_fen)
    except DomainError as exc:
        repeat = exc.code == REPEAT and services.taken_with(payment.payment_no, payment.trade_no)
        _record(name, "payment", notice.log_fields, exc.code, payment_no=payment.payment_no, trade_no=payment.trade_no)
        if repeat:
            return notice.ack  # the same notification again: "success" again, nothing changes
        logger.warning("%s notification not taken: %s payment_no=%s", name, exc.code, audit.clean(payment.payment_no, 64))
        return gateway.refusal(exc.code)
    _record(name, "payment", notice.log_fields, ACCEPTED, payment_no=payment.payment_no, trade_no=payment.trade_no)
    return notice.ack


def _record(name: str, kind: str, fields: dict, outcome: str, payment_no: str = "", trade_no: str = "") -> None:
    # The adapters hand over only fields that are safe to keep (never the signature or buyer ids).
    audit.record(gateway=name, kind=kind, fields=fields, expected=tuple(fields), outcome=outcome,
                 payment_no=payment_no, trade_no=trade_no)
