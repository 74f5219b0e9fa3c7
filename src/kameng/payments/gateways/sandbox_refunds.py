"""The sandbox gateway's refund side: accepts a refund once per request number, completes it later
(by the platform clock) and sends a signed refund notification — as a real gateway would."""

import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction

from kameng.core import clock
from kameng.core.money import Money

from ..models import SandboxGatewayRefund
from . import sandbox

FIELDS = ("request_no", "refund_ref", "amount", "status", "ts")  # and `sign`

# How long the sandbox takes to complete a refund; always before the promised arrival time.
COMPLETION_DELAY = {"alipay": timedelta(minutes=10), "wechat": timedelta(minutes=10), "bank": timedelta(hours=24)}


def refund(*, request_no: str, payment_no: str, channel: str, amount_fen: int) -> str:
    """Accept a refund; the same request number again returns the same reference and pays nothing more."""
    existing = SandboxGatewayRefund.objects.filter(request_no=request_no).first()
    if existing:
        return existing.gateway_ref
    now = clock.now()
    try:
        with transaction.atomic():
            row = SandboxGatewayRefund.objects.create(
                request_no=request_no, payment_no=payment_no, channel=channel, amount_fen=amount_fen,
                gateway_ref="SBR" + secrets.token_hex(8).upper(), accepted_at=now,
                completes_at=now + COMPLETION_DELAY.get(channel, timedelta(minutes=10)),
            )
    except IntegrityError:
        row = SandboxGatewayRefund.objects.get(request_no=request_no)
    return row.gateway_ref


def lookup(request_no: str) -> str | None:
    row = SandboxGatewayRefund.objects.filter(request_no=request_no).first()
    return row.gateway_ref if row else None


def notification_for(row: SandboxGatewayRefund) -> dict:
    fields = {
        "request_no": row.request_no,
        "refund_ref": row.gateway_ref,
        "amount": str(Money(row.amount_fen)),
        "status": "REFUND_SUCCESS",
        "ts": str(int(clock.now().timestamp())),
    }
    fields["sign"] = sandbox.sign(fields)
    return fields


def send_due(deliver) -> int:
    """Send the notifications of refunds completed by now; `deliver(fields)` is the notify handler."""
    sent = 0
    for row in SandboxGatewayRefund.objects.filter(notified_at__isnull=True, completes_at__lte=clock.now()):
        try:
            deliver(notification_for(row))
        except Exception:  # a refused notification is retried next round, like a real gateway
            continue
        SandboxGatewayRefund.objects.filter(id=row.id).update(notified_at=clock.now())
        sent += 1
    return sent
