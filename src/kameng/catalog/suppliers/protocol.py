"""KSP/1, the signed-HTTP protocol kameng speaks with a goods source (spec: docs/supplier-protocol.md).

JSON over HTTPS. Every message — our requests, the source's answers, the source's result callbacks —
carries four headers and an HMAC-SHA256 signature over a canonical string:

    KSP1\\n{purpose}\\n{merchant_id}\\n{timestamp}\\n{nonce}\\n{sha256 hex of the exact body bytes}

`purpose` names what the message is for, so a signed message cannot be replayed as another kind:
`order.submit`, `order.query`, `balance.query` (requests), `answer:{the request's nonce}` (an answer,
bound to the one request it answers), `notify` (a result callback). Requests are signed with the
merchant's API secret; answers and callbacks with the source's notify secret. A message whose timestamp
is more than `FRESHNESS` from now, or whose nonce was already seen, is refused.

Here: the canonical string, signing and checking, the wire formats of amounts, and the error codes.
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kameng.core import clock

VERSION = "KSP1"
FRESHNESS = timedelta(minutes=5)

H_MERCHANT = "X-KSP-Merchant"
H_TIMESTAMP = "X-KSP-Timestamp"
H_NONCE = "X-KSP-Nonce"
H_SIGNATURE = "X-KSP-Signature"

SUBMIT = "order.submit"
QUERY = "order.query"
BALANCE = "balance.query"
NOTIFY = "notify"
PATHS = {SUBMIT: "/v1/order/submit", QUERY: "/v1/order/query", BALANCE: "/v1/balance/query"}

OK = "0000"
# code → (meaning, our reason code)
CODES = {
    "0000": "accepted",
    "1001": "signature does not verify",
    "1002": "timestamp outside the freshness window",
    "1003": "nonce already used (replay)",
    "1004": "unknown merchant",
    "1005": "malformed request",
    "2001": "unknown or unavailable product (sku)",
    "2002": "insufficient balance at the source",
    "2003": "invalid recharge account",
    "2004": "order number reused with different content",
    "2005": "amount or quantity differs from the order",
    "3001": "no such order",
    "9999": "system error: outcome unknown, query later",
}
NOT_FOUND = "3001"
SYSTEM_ERROR = "9999"

# Our refusal of a callback: reason code → (HTTP status, protocol code). The source retries anything but 0000.
ANSWERS = {
    "ACCEPTED": (200, OK),
    "DUPLICATE": (200, OK),  # already settled: nothing changed, stop sending it
    "BAD_SIGNATURE": (401, "1001"),
    "STALE_NOTIFICATION": (401, "1002"),
    "REPLAYED": (409, "1003"),
    "UNKNOWN_MERCHANT": (401, "1004"),
    "SOURCE_NOT_FOUND": (404, "1004"),
    "MALFORMED_NOTIFICATION": (400, "1005"),
    "UNREADABLE_NOTIFICATION": (400, "1005"),
    "PAYLOAD_TOO_LARGE": (413, "1005"),
    "AMOUNT_MISMATCH": (400, "2005"),
    "ORDER_NOT_FOUND": (404, "3001"),
    "NO_TOPUP": (404, "3001"),
    "CARDS_UNUSABLE": (422, "1005"),
    "INTERNAL_ERROR": (503, "9999"),
}

_NONCE = re.compile(r"^[A-Za-z0-9]{16,64}$")
_TIMESTAMP = re.compile(r"^\d{1,12}$")
_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")
_YUAN = re.compile(r"^\d{1,10}\.\d{2}$")


def canonical(*, purpose: str, merchant_id: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((VERSION, purpose, merchant_id, timestamp, nonce, digest)).encode("utf-8")


def signature(secret: str, **parts) -> str:
    return hmac.new(secret.encode("utf-8"), canonical(**parts), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Stamp:
    timestamp: str
    nonce: str


def new_stamp() -> Stamp:
    """Wire timestamps are real time: freshness is judged against the other side's real clock."""
    return Stamp(str(int(clock.real_now().timestamp())), secrets.token_hex(16))


def headers(*, secret: str, purpose: str, merchant_id: str, body: bytes, stamp: Stamp | None = None) -> dict:
    stamp = stamp or new_stamp()
    sign = signature(secret, purpose=purpose, merchant_id=merchant_id, timestamp=stamp.timestamp,
                     nonce=stamp.nonce, body=body)
    return {"Content-Type": "application/json; charset=utf-8", H_MERCHANT: merchant_id,
            H_TIMESTAMP: stamp.timestamp, H_NONCE: stamp.nonce, H_SIGNATURE: sign}


class Refused(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


def check(*, secret: str, purpose: str, merchant_id: str, headers, body: bytes) -> Stamp:
    """Check a signed message's headers; raise `Refused` with our reason code. Returns its stamp.

    The signature is checked before the time, so a forgery is told apart from a genuine old message.
    """
    merchant = headers.get(H_MERCHANT, "")
    timestamp = headers.get(H_TIMESTAMP, "")
    nonce = headers.get(H_NONCE, "")
    sign = headers.get(H_SIGNATURE, "").lower()
    if not (_TIMESTAMP.match(timestamp) and _NONCE.match(nonce) and _SIGNATURE.match(sign)):
        raise Refused("MALFORMED_NOTIFICATION")
    if not hmac.compare_digest(merchant.encode("utf-8", "replace"), merchant_id.encode("utf-8")):
        raise Refused("UNKNOWN_MERCHANT")
    expected = signature(secret, purpose=purpose, merchant_id=merchant_id, timestamp=timestamp, nonce=nonce,
                         body=body)
    if not hmac.compare_digest(expected, sign):
        raise Refused("BAD_SIGNATURE")
    try:
        moment = datetime.fromtimestamp(int(timestamp), tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise Refused("STALE_NOTIFICATION") from None
    if not clock.is_recent(moment, tolerance=FRESHNESS):
        raise Refused("STALE_NOTIFICATION")
    return Stamp(timestamp, nonce)


def yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def fen(text) -> int:
    """A wire amount: yuan with exactly two places ("50.00"); anything else is malformed."""
    if not isinstance(text, str) or not _YUAN.match(text):
        raise ValueError("not an amount")
    whole, _, part = text.partition(".")
    return int(whole) * 100 + int(part)
