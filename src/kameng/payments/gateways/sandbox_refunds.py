"""The sandbox gateway's refund side: accepts a refund once per request number, completes it later
(by the platform clock) and sends a signed refund notification — as a real gateway would."""

import secrets
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q

from kameng.core import clock
from kameng.core.errors import DomainError
from kameng.core.money import Money

from ..models import SandboxGatewayRefund
from . import sandbox

FIELDS = ("request_no", "refund_ref", "amount", "status", "ts")  # and `sign`

MAX_RETRY_DELAY = timedelta(days=1)

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


def retry_delay(attempts: int) -> timedelta:
    """After the n-th refusal: 1, 2, 4 … minutes, at most a day (each try is a row in the merchant's audit)."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), MAX_RETRY_DELAY)


def send_due(deliver) -> int:
    """Send the notifications of refunds completed by now; `deliver(fields)` is the notify handler.

    The merchant's "already processed" is an answer (it has the refund): the gateway stops. Any other
    refusal is tried again after a growing delay, as a real gateway does.
    """
    now = clock.now()
    sent = 0
    due = (SandboxGatewayRefund.objects.filter(notified_at__isnull=True, completes_at__lte=now)
           .filter(Q(next_notify_at__isnull=True) | Q(next_notify_at__lte=now)))
    for row in due:
        try:
            deliver(notification_for(row))
        except DomainError as exc:
            if exc.code != "ALREADY_PROCESSED":
                _retry_later(row, now)
                continue
        except Exception:
            _retry_later(row, now)
            continue
        SandboxGatewayRefund.objects.filter(id=row.id).update(notified_at=now)
        sent += 1
    return sent


def _retry_later(row: SandboxGatewayRefund, now) -> None:
    attempts = row.notify_attempts + 1
    SandboxGatewayRefund.objects.filter(id=row.id).update(notify_attempts=attempts,
                                                            next_notify_at=now + retry_delay(attempts))
