"""The sandbox gateway behind the same interface as Alipay and WeChat Pay.

It serves the alipay, wechat and bank channels when `KAMENG_SANDBOX=1` (and no real credentials
are configured for the channel). Its signing and its refund book live in `sandbox.py` and
`sandbox_refunds.py`; this module only speaks the interface, so the services need not know it.
"""

from collections.abc import Mapping
from datetime import date, datetime, time
from urllib.parse import parse_qsl

from kameng.core import clock

from . import sandbox
from .base import (
    Answer,
    Checkout,
    Gateway,
    Notice,
    NotificationRefused,
    PaymentRequest,
    PaymentResult,
    PaymentState,
    RefundResult,
    RefundState,
    StatementLine,
    yuan_to_fen,
)

REFUND_FIELDS = ("request_no", "refund_ref", "amount", "status", "ts", "sign")


def _refused(code: str, detail: str = "", log_fields: dict | None = None) -> NotificationRefused:
    return NotificationRefused(code, Answer(400, "fail"), detail, log_fields)


class SandboxGateway(Gateway):
    name = "sandbox"

    def __init__(self, channel: str):
        self.channel = channel

    def create_payment(self, request: PaymentRequest) -> Checkout:
        # The sandbox's "cashier" is the platform's own sandbox pay page.
        return Checkout(expires_at=request.expires_at, pay_url=f"/sandbox/pay/{request.payment_no}/")

    def parse_notification(self, *, headers: Mapping[str, str], body: bytes) -> Notice:
        try:
            fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            raise _refused("MALFORMED", "not a form") from None
        return self.parse_fields(fields)

    def parse_fields(self, fields: dict) -> Notice:
        safe = {k: str(v)[:64] for k, v in fields.items() if k in (*sandbox.FIELDS, *REFUND_FIELDS) and k != "sign"}
        if not sandbox.verify(fields):
            raise _refused("BAD_SIGNATURE", "signature does not verify", safe)
        try:
            amount = yuan_to_fen(fields.get("amount", ""))
        except ValueError:
            raise _refused("MALFORMED", "amount is not an amount", safe) from None
        ack = Answer(200, "success")
        if fields.get("request_no"):
            state = RefundState.SUCCEEDED if fields.get("status") == "REFUND_SUCCESS" else RefundState.PROCESSING
            refund = RefundResult(request_no=fields["request_no"], state=state, refund_no=fields.get("refund_ref", ""),
                                  amount_fen=amount)
            return Notice(ack=ack, refund=refund, log_fields=safe)
        missing = [n for n in sandbox.FIELDS if not fields.get(n)]
        if missing:
            raise _refused("MALFORMED", f"missing {', '.join(missing)}", safe)
        state = PaymentState.SUCCEEDED if fields["status"] == "SUCCESS" else PaymentState.PENDING
        payment = PaymentResult(payment_no=fields["payment_no"], state=state, trade_no=fields["trade_no"],
                                amount_fen=amount)
        return Notice(ack=ack, payment=payment, log_fields=safe)

    def refusal(self, code: str) -> Answer:
        return Answer(400, "fail")

    def refund(self, *, request_no: str, payment_no: str, trade_no: str, amount_fen: int, total_fen: int,
               reason: str = "", notify_url: str = "") -> RefundResult:
        from . import sandbox_refunds

        ref = sandbox_refunds.refund(request_no=request_no, payment_no=payment_no, channel=self.channel,
                                     amount_fen=amount_fen)
        return self.query_refund(request_no=request_no, payment_no=payment_no) if ref else RefundResult(
            request_no=request_no, state=RefundState.PROCESSING, payment_no=payment_no)

    def query_payment(self, payment_no: str) -> PaymentResult:
        """The sandbox pays only by sending its notification at once, so it knows what we know."""
        from ..models import Payment, PaymentStatus

        row = Payment.objects.filter(payment_no=payment_no).first()
        if row is None:
            return PaymentResult(payment_no=payment_no, state=PaymentState.NOT_FOUND)
        if row.status == PaymentStatus.SUCCEEDED:
            return PaymentResult(payment_no=payment_no, state=PaymentState.SUCCEEDED, trade_no=row.trade_no or "",
                                 amount_fen=row.amount_fen, at=row.paid_at)
        return PaymentResult(payment_no=payment_no, state=PaymentState.PENDING, amount_fen=row.amount_fen)

    def query_refund(self, *, request_no: str, payment_no: str) -> RefundResult:
        from ..models import SandboxGatewayRefund

        row = SandboxGatewayRefund.objects.filter(request_no=request_no).first()
        if row is None:
            return RefundResult(request_no=request_no, state=RefundState.NOT_FOUND, payment_no=payment_no)
        done = row.completes_at <= clock.now()
        return RefundResult(request_no=request_no, state=RefundState.SUCCEEDED if done else RefundState.PROCESSING,
                            refund_no=row.gateway_ref, amount_fen=row.amount_fen, payment_no=row.payment_no,
                            at=row.completes_at if done else None)

    def statement(self, day: date) -> list[StatementLine]:
        from django.utils import timezone

        from ..models import Payment, PaymentStatus, SandboxGatewayRefund

        start = timezone.make_aware(datetime.combine(day, time.min))
        end = timezone.make_aware(datetime.combine(day, time.max))
        lines = [
            StatementLine(kind="payment", our_no=p.payment_no, their_no=p.trade_no or "", amount_fen=p.amount_fen,
                          at=p.paid_at, payment_no=p.payment_no)
            for p in Payment.objects.filter(channel=self.channel, status=PaymentStatus.SUCCEEDED,
                                            trade_no__startswith="SBX", paid_at__range=(start, end))
        ]
        lines += [
            StatementLine(kind="refund", our_no=r.request_no, their_no=r.gateway_ref, amount_fen=r.amount_fen,
                          at=r.completes_at, payment_no=r.payment_no)
            for r in SandboxGatewayRefund.objects.filter(channel=self.channel, completes_at__range=(start, end))
        ]
        return lines
