"""The one interface every payment gateway speaks (like django-payments' BasicProvider, Saleor's plugins).

The services never know which gateway they talk to: they create a payment, hand a notification over
for checking, refund under our request number, ask about a payment or a refund, and fetch a day's
statement. Everything here is plain data; no gateway touches the database.

Two rules every adapter keeps:
- A notification is either a verified, typed result or a `NotificationRefused` that carries the
  answer the gateway's protocol expects (so it retries or gives up as it should).
- A call whose outcome we cannot know (timeout, connection error, garbage, an answer whose signature
  does not verify) raises `UnknownOutcome`, never a guessed state: the query or the statement settles
  it later. A clear, signed "no" raises `GatewayRefused`.
"""

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

_YUAN = re.compile(r"^-?\d{1,12}(\.\d{1,2})?$")


def yuan_to_fen(text: str) -> int:
    """Amounts on the wire are yuan with at most two places ("10.00"); anything else is malformed."""
    value = str(text).strip()
    if not _YUAN.match(value):
        raise ValueError(f"not an amount: {value[:32]!r}")
    negative = value.startswith("-")
    whole, _, part = value.lstrip("-").partition(".")
    fen = int(whole) * 100 + int((part + "00")[:2])
    return -fen if negative else fen


def fen_to_yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    fen = abs(fen)
    return f"{sign}{fen // 100}.{fen % 100:02d}"


class Device(StrEnum):
    """How the buyer will pay: decides page pay, wap/H5 pay or a QR code."""

    DESKTOP = "desktop"
    PHONE = "phone"
    QR = "qr"


class PaymentState(StrEnum):
    PENDING = "pending"  # created, not paid (yet)
    SUCCEEDED = "succeeded"
    CLOSED = "closed"  # will never be paid
    NOT_FOUND = "not_found"  # the gateway has never heard of it (the buyer never opened the page)


class RefundState(StrEnum):
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the gateway gave up (closed, abnormal): needs a person
    NOT_FOUND = "not_found"  # the gateway never received this request number


@dataclass(frozen=True)
class PaymentRequest:
    payment_no: str
    amount_fen: int
    subject: str
    expires_at: datetime
    notify_url: str
    device: Device = Device.DESKTOP
    client_ip: str = ""
    return_url: str = ""


@dataclass(frozen=True)
class Checkout:
    """Where the buyer pays: a URL to open (Alipay page/wap, WeChat H5) or a QR code's content."""

    expires_at: datetime
    pay_url: str | None = None
    code_url: str | None = None


@dataclass(frozen=True)
class PaymentResult:
    payment_no: str
    state: PaymentState
    trade_no: str = ""
    amount_fen: int | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class RefundResult:
    request_no: str
    state: RefundState
    refund_no: str = ""  # the gateway's own number for the refund
    amount_fen: int | None = None  # None: the notification did not say; ask `query_refund`
    payment_no: str = ""
    at: datetime | None = None


@dataclass(frozen=True)
class Answer:
    """What we send back to the gateway for a notification."""

    status: int
    body: str = ""
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class Notice:
    """A verified notification: exactly one of `payment` / `refund`; `ack` is the answer once processed."""

    ack: Answer
    payment: PaymentResult | None = None
    refund: RefundResult | None = None
    # Safe to log: names and public numbers only, never keys, signatures or personal data.
    log_fields: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StatementLine:
    kind: str  # "payment" or "refund"
    our_no: str  # payment_no, or the refund's request number
    their_no: str  # the gateway's trade number (payments) or refund number
    amount_fen: int
    at: datetime | None
    payment_no: str = ""  # for a refund: the payment it pays back


class GatewayError(Exception):
    """Base of every gateway failure. Messages never carry keys or signatures."""


class UnknownOutcome(GatewayError):
    """We do not know what happened (timeout, garbage, unverifiable answer): ask again later."""


class GatewayRefused(GatewayError):
    """The gateway answered, signed, with a business refusal."""

    def __init__(self, code: str, message: str = ""):
        super().__init__(f"{code}: {message}"[:300])
        self.code = code
        self.message = message


class NotConfigured(GatewayError):
    pass


class NotificationRefused(Exception):
    """A notification we do not accept; `answer` is what the gateway's protocol wants back."""

    def __init__(self, code: str, answer: Answer, detail: str = "", log_fields: dict | None = None):
        super().__init__(f"{code}: {detail}"[:300])
        self.code = code
        self.answer = answer
        self.detail = detail
        self.log_fields = log_fields or {}


class Gateway(ABC):
    name: str = ""

    @abstractmethod
    def create_payment(self, request: PaymentRequest) -> Checkout: ...

    @abstractmethod
    def parse_notification(self, *, headers: Mapping[str, str], body: bytes) -> Notice:
        """Verify and read a notification; raise `NotificationRefused` for anything we must not trust."""

    @abstractmethod
    def refusal(self, code: str) -> Answer:
        """The answer for a verified notification we still cannot take (unknown payment, amount differs)."""

    @abstractmethod
    def refund(self, *, request_no: str, payment_no: str, trade_no: str, amount_fen: int, total_fen: int,
               reason: str = "", notify_url: str = "") -> RefundResult:
        """Refund part or all of a payment. The same request number twice refunds once (the gateway dedupes)."""

    @abstractmethod
    def query_payment(self, payment_no: str) -> PaymentResult: ...

    @abstractmethod
    def query_refund(self, *, request_no: str, payment_no: str) -> RefundResult: ...

    @abstractmethod
    def statement(self, day: date) -> list[StatementLine]: ...
