"""The notify endpoints' audit trail: every notification that arrives is recorded, whatever became of it.

A gateway's notification (or someone pretending to be one) is recorded accepted, duplicate or refused,
with the reason code. What is stored is safe to show: only the fields the gateway is expected to send,
each cut to a bounded length, with NUL, other control characters and lone surrogates replaced — the
raw bytes of a hostile request would break the row (PostgreSQL refuses NUL; no database stores a lone
surrogate) and could trick whoever reads the audit list later. Signatures are not kept.
"""

import logging
import re

from kameng.core import clock, compiled
from kameng.core.text import text_problem

from .models import PaymentNotification

logger = logging.getLogger(__name__)

MAX_VALUE_CHARS = 128
MAX_KEY_CHARS = 32
ACCEPTED = "ACCEPTED"

# For the record, every control character (and the bidirectional overrides) becomes U+FFFD.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def has_unstorable_characters(fields: dict) -> bool:
    """NUL or a lone surrogate in any name or value (judged by `kameng.core.text`, like all input)."""
    return any(text_problem(str(k)) or text_problem(str(v)) for k, v in fields.items())


def clean(value, limit: int = MAX_VALUE_CHARS) -> str:
    return _UNSAFE.sub("\ufffd", str(value)[:limit])


def safe_fields(fields: dict, expected: tuple[str, ...]) -> dict:
    """The expected fields, cleaned and cut; unexpected ones are only counted (their names may be junk)."""
    safe = {name: clean(fields[name]) for name in expected if name in fields}
    extra = sum(1 for name in fields if name not in expected and name != "sign")
    if extra:
        safe["_unexpected_fields"] = extra
    return safe


def record(*, gateway: str, kind: str, fields: dict, expected: tuple[str, ...], outcome: str,
           payment_no: str = "", trade_no: str = "") -> PaymentNotification:
    safe = safe_fields(fields, expected)
    [notification] = compiled.insert([PaymentNotification(
        gateway=gateway,
        kind=kind,
        payment_no=clean(payment_no or safe.get("payment_no", ""), 64),
        trade_no=clean(trade_no or safe.get("trade_no", ""), 64),
        fields=safe,
        outcome=clean(outcome, 40),
        received_at=clock.now(),
    )])
    return notification


def record_failure(record) -> None:
    """Record a notification whose handling failed unexpectedly (it answers 500; the trail still shows it)."""
    try:
        record(outcome="INTERNAL_ERROR")
    except Exception:  # the database itself may be what failed; the original error is the one to raise
        logger.exception("could not record a failed notification")
