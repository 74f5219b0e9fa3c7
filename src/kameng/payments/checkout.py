"""Opening a payment at its gateway (pay URL or QR content), and asking about payments that never called back.

The gateway is called after the payment row has committed, never inside the transaction that holds the
order and its stock: a gateway that is slow or down must not hold our locks. A checkout that could not
be opened leaves the payment pending without a URL; opening it again is safe (same payment number).
"""

import logging
import re
from datetime import timedelta

from django.conf import settings

from kameng.core import clock, compiled
from kameng.core.errors import Invalid
from kameng.core.money import Money

from .gateways import registry
from .gateways.base import Device, GatewayError, PaymentRequest, PaymentState
from .models import Payment, PaymentPurpose, PaymentStatus

logger = logging.getLogger(__name__)

GATEWAY_CHANNELS = registry.CHANNELS
PHONE = re.compile(r"Mobile|Android|iPhone|iPad|HarmonyOS|MicroMessenger", re.IGNORECASE)
SILENT_BATCH = 100
SILENT_FOR = timedelta(days=1)


def channel_require(channel: str) -> None:
    """422 CHANNEL_UNAVAILABLE for a gateway channel nobody configured (contract)."""
    if channel in GATEWAY_CHANNELS and channel not in registry.available_channels():
        raise Invalid(f"the {channel} channel is not available here", code="CHANNEL_UNAVAILABLE")


def channels() -> list[dict]:
    """`GET /payment-channels`: every channel and whether it is offered; the wallet always is."""
    available = set(registry.available_channels())
    return [*({"channel": c, "available": c in available} for c in GATEWAY_CHANNELS),
            {"channel": "wallet", "available": True}]


def device_for(*, user_agent: str = "", asked: str | None = None) -> Device:
    """The buyer's choice if given ("desktop", "phone", "qr"), else a phone's browser gets the phone flow."""
    if asked in {d.value for d in Device}:
        return Device(asked)
    return Device.PHONE if PHONE.search(user_agent or "") else Device.DESKTOP


def _subject(payment: Payment) -> str:
    if payment.purpose == PaymentPurpose.RECHARGE:
        return f"钱包充值 {Money(payment.amount_fen)} 元"
    name = (payment.order.snapshot or {}).get("name", "") if payment.order_id else ""
    return f"{name} ×{payment.order.quantity}" if name else f"订单 {payment.payment_no}"


def checkout_open(*, payment: Payment, device: Device = Device.DESKTOP, client_ip: str = "") -> Payment:
    """Ask the channel's gateway for the pay URL or QR content and keep it on the payment.

    Call it with no transaction open. A gateway that fails leaves the payment as it was (logged).
    """
    if payment.channel not in GATEWAY_CHANNELS or payment.status != PaymentStatus.PENDING:
        return payment
    try:
        gateway = registry.gateway_for(payment.channel)
        checkout = gateway.create_payment(PaymentRequest(
            payment_no=payment.payment_no, amount_fen=payment.amount_fen, subject=_subject(payment),
            expires_at=payment.expires_at or payment.created_at + timedelta(minutes=settings.KAMENG_ORDER_TTL_MINUTES),
            notify_url=registry.notify_url(gateway.name), device=device,
            client_ip=client_ip or "",
        ))
    except GatewayError as exc:
        logger.warning("checkout not opened for payment %s: %s", payment.payment_no, type(exc).__name__)
        return payment
    payment.gateway = gateway.name
    payment.pay_url = checkout.pay_url or ""
    payment.code_url = checkout.code_url or ""
    # Whatever the payment's state is by now: a notification may already have taken it.
    compiled.save_fields(payment, ["gateway", "pay_url", "code_url"], guard_state=False)
    return payment


def payment_settle_from_gateway(payment: Payment) -> bool:
    """Ask the gateway about one pending payment; take it if the gateway says it was paid.

    Raises `GatewayError` when the gateway cannot answer (the payment is asked again next round).
    """
    from . import services

    if not payment.gateway or payment.gateway == "sandbox":
        return False  # the sandbox pays only by notifying; a checkout never opened was never paid
    result = registry.gateway_named(payment.gateway).query_payment(payment.payment_no)
    Payment.objects.filter(id=payment.id).update(checked_at=clock.now())
    if result.state != PaymentState.SUCCEEDED or result.amount_fen is None:
        return False
    try:
        services.gateway_payment_take(gateway=payment.gateway, payment_no=payment.payment_no,
                                      trade_no=result.trade_no, amount_fen=result.amount_fen)
    except Exception as exc:  # a refusal (amount differs) is logged; never a crash of the sweep
        logger.warning("payment %s: paid at the gateway but not taken (%s)", payment.payment_no,
                       getattr(exc, "code", type(exc).__name__))
        return False
    logger.info("payment %s recovered by a query: its notification never came", payment.payment_no)
    return True


def payments_query_silent(*, limit: int = SILENT_BATCH) -> int:
    """A pending gateway payment past its expiry is asked about once, before its order expires.

    So a buyer who paid at the last second and whose notification is late or lost is never lost.
    A gateway that cannot answer is not asked again this round (its timeouts must not stall the
    sweep); its payments are asked next round, for a day — after that, reconciliation finds them.
    """
    now = clock.now()
    due = (Payment.objects.filter(status=PaymentStatus.PENDING, expires_at__lte=now, checked_at__isnull=True,
                                  expires_at__gt=now - SILENT_FOR)
           .exclude(gateway__in=("", "sandbox")).select_related("order").order_by("expires_at"))
    recovered, down = 0, set()
    for payment in list(due[:limit]):
        if payment.gateway in down:
            continue
        try:
            recovered += payment_settle_from_gateway(payment)
        except GatewayError as exc:
            logger.warning("%s did not answer a payment query (%s); asked again next round", payment.gateway,
                           type(exc).__name__)
            down.add(payment.gateway)
    return recovered
