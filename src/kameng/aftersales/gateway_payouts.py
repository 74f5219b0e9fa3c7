"""Original-path refunds through the payment's own gateway, settled from its answer, its notification or
its query — whichever comes first, and never twice.

The payout row (and its request number) committed before any call; every call reuses that number,
which the gateway deduplicates (`out_request_no` at Alipay, `out_refund_no` at WeChat Pay). A call
whose outcome is unknown changes nothing here: the next reconcile round asks the gateway.
"""

import logging

from django.db import transaction

from kameng.core import clock
from kameng.payments.gateways import registry
from kameng.payments.gateways.base import Gateway, GatewayError, GatewayRefused, RefundResult, RefundState
from kameng.payments.gateways.sandbox_gateway import SandboxGateway
from kameng.payments.models import Payment, PaymentStatus

from .locking import lock_payout, lock_refund
from .models import RefundPayout
from .payout_failures import payout_fail

logger = logging.getLogger(__name__)

ACCEPTED, REPEAT, IGNORED, FAILED = "ACCEPTED", "ALREADY_PROCESSED", "IGNORED", "REFUND_FAILED"
REAL_GATEWAYS = ("alipay", "wechat")


def paid_with(payout: RefundPayout) -> Payment | None:
    return (Payment.objects.filter(order_id=payout.refund.order_id, status=PaymentStatus.SUCCEEDED)
            .order_by("id").first())


def gateway_of(payment: Payment | None, channel: str) -> Gateway:
    """The gateway that took the payment pays it back (the sandbox's payments, the sandbox)."""
    if payment is not None and payment.gateway in REAL_GATEWAYS:
        return registry.gateway_named(payment.gateway)
    return SandboxGateway(channel)


def payout_send(payout: RefundPayout) -> RefundResult | None:
    """Ask the gateway to refund (again, with the same number). Returns its answer, or None if unknown."""
    payment = paid_with(payout)
    try:
        gateway = gateway_of(payment, payout.channel)
        result = gateway.refund(
            request_no=payout.request_no, payment_no=payment.payment_no if payment else "",
            trade_no=(payment.trade_no or "") if payment else "", amount_fen=payout.amount_fen,
            total_fen=payment.amount_fen if payment else payout.amount_fen, reason=f"退款 {payout.refund.refund_no}",
            notify_url=registry.notify_url(gateway.name) if gateway.name in REAL_GATEWAYS else "",
        )
    except GatewayRefused as exc:
        # A signed, clear "no": asking again with the same number gets the same answer. Stop; tell people.
        RefundPayout.objects.filter(id=payout.id).update(attempts=payout.attempts + 1)
        payout_fail(payout_id=payout.id, code=exc.code, message=exc.message)
        return None
    except GatewayError as exc:
        logger.warning("payout %s not sent (%s); the reconcile round tries again", payout.request_no,
                       type(exc).__name__)
        RefundPayout.objects.filter(id=payout.id).update(attempts=payout.attempts + 1)
        return None
    _accepted(payout, result, attempts=payout.attempts + 1)
    # The sandbox settles only by its own notification (sandbox_refunds.send_due), as it always has.
    if result.state == RefundState.SUCCEEDED and gateway.name in REAL_GATEWAYS:
        payout_settle(gateway=gateway.name, result=result)
    return result


def _accepted(payout: RefundPayout, result: RefundResult, *, attempts: int | None = None) -> None:
    """The gateway has the refund: pending → sent (nothing else moves here)."""
    if result.state in (RefundState.NOT_FOUND,):
        return
    changes = {"status": RefundPayout.Status.SENT, "sent_at": clock.now()}
    if result.refund_no:
        changes["gateway_ref"] = result.refund_no[:64]
    if attempts is not None:
        changes["attempts"] = attempts
    RefundPayout.objects.filter(id=payout.id, status=RefundPayout.Status.PENDING).update(**changes)


def payout_query(payout: RefundPayout) -> str:
    """Ask the gateway what became of a payout; settle it if the money is back. Returns what happened."""
    payment = paid_with(payout)
    try:
        gateway = gateway_of(payment, payout.channel)
        result = gateway.query_refund(request_no=payout.request_no, payment_no=payment.payment_no if payment else "")
    except GatewayError as exc:
        logger.warning("payout %s: query failed (%s)", payout.request_no, type(exc).__name__)
        return IGNORED
    if result.state == RefundState.NOT_FOUND:
        if payout.status == RefundPayout.Status.PENDING:
            payout_send(payout)  # the gateway never got it: send it now, same number
        return IGNORED
    _accepted(payout, result)
    if gateway.name not in REAL_GATEWAYS:
        return IGNORED  # the sandbox's notification settles it
    if result.state == RefundState.PROCESSING:
        RefundPayout.objects.filter(id=payout.id, status=RefundPayout.Status.SENT).update(sent_at=clock.now())
    return payout_settle(gateway=gateway.name, result=result)


def payout_settle(*, gateway: str, result: RefundResult) -> str:
    """A gateway's verified word about a refund (answer, notification or query). Money moves once."""
    from .payouts import payout_complete

    payout = RefundPayout.objects.select_related("refund").filter(request_no=result.request_no).first()
    if payout is None:
        return "PAYOUT_NOT_FOUND"
    payment = paid_with(payout)
    own = payment.gateway if payment is not None and payment.gateway in REAL_GATEWAYS else "sandbox"
    if own != gateway:
        return "PAYOUT_NOT_FOUND"  # only the gateway that took the money can say it went back
    if result.amount_fen is None:  # the notification did not say how much: ask (Alipay's refund notice)
        try:
            result = gateway_of(payment, payout.channel).query_refund(request_no=payout.request_no,
                                                                      payment_no=payment.payment_no if payment else "")
        except GatewayError:
            return "QUERY_FAILED"
    if result.state == RefundState.FAILED:
        # The gateway gave the refund up (closed, abnormal): failed once; finance pays it back.
        payout_fail(payout_id=payout.id, code=f"REFUND_{result.state.upper()}",
                    message="支付渠道关闭了该退款或退款异常")
        return FAILED
    if result.state != RefundState.SUCCEEDED:
        return IGNORED
    with transaction.atomic():
        order, refund = lock_refund(payout.refund_id)  # the codebase's one lock order: order, refund, payout
        payout = lock_payout(payout.id)
        if payout.status == RefundPayout.Status.SUCCEEDED:
            return REPEAT
        if result.amount_fen != payout.amount_fen:
            logger.error("payout %s: the gateway refunded %s fen, we asked %s", payout.request_no, result.amount_fen,
                         payout.amount_fen)
            return "AMOUNT_MISMATCH"
        payout_complete(payout=payout, refund=refund, order=order, gateway_ref=(result.refund_no or payout.request_no)[:64])
    return ACCEPTED


def payouts_query_sent(*, older_than, limit: int = 100) -> int:
    """Real-gateway payouts sent but not settled: a lost refund notification is recovered by asking."""
    # The sandbox notifies by itself (sandbox_refunds.send_due): only real gateways are asked.
    sent = (RefundPayout.objects.filter(status=RefundPayout.Status.SENT, sent_at__lte=clock.now() - older_than,
                                        refund__order__payments__status=PaymentStatus.SUCCEEDED,
                                        refund__order__payments__gateway__in=REAL_GATEWAYS)
            .select_related("refund").distinct().order_by("sent_at"))
    settled = 0
    for payout in list(sent[:limit]):
        settled += payout_query(payout) == ACCEPTED
    return settled
