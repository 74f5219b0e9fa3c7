"""Pure rules of ordering."""

from datetime import timedelta
from decimal import Decimal

from django.conf import settings

TERMS_VERSION = "2026-11"

TERMS_TEXT_ZH = (
    "本商品为数字商品（卡密、兑换链接或直充），一经发货即完成交付，"
    "依《消费者权益保护法》第二十五条不适用七日无理由退货。"
    "售后按本商品页面公示并随订单保存的退款规则处理。"
)
TERMS_TEXT_EN = (
    "This is a digital good (a key, an exchange link or a top-up). It is delivered the moment it is sent and, "
    "under Article 25 of the Consumer Rights Protection Law, is excluded from 7-day no-reason returns. "
    "After-sales follow the refund rules shown on this page and saved with your order."
)


def terms_text() -> str:
    """The text recorded with every order: both languages, so the record reads the same for everyone."""
    return f"[{TERMS_VERSION}] {TERMS_TEXT_ZH}\n{TERMS_TEXT_EN}"


def commission_fen(amount_fen: int, rate) -> int:
    from kameng.core.money import Money

    return Money(amount_fen).rate(rate).fen


def commission_rate(order) -> Decimal:
    """THE commission rate of a sale: the one copied onto the order when it was bought. An order without one
    (written by a path that does not copy it) falls back to the platform's setting."""
    if order.commission_rate is not None:
        return Decimal(order.commission_rate)
    return Decimal(settings.KAMENG_COMMISSION_RATE)


def order_commission_fen(order, amount_fen: int) -> int:
    """The platform's commission on `amount_fen` of this order's sale."""
    return commission_fen(amount_fen, commission_rate(order))


def promised_by(order):
    """When the order's items were promised: payment plus the promise in force at purchase (its snapshot)."""
    if order.paid_at is None:
        return None
    return order.paid_at + timedelta(minutes=order.snapshot_value("delivery_promise_minutes", 0))


def late_compensation_fen(*, unit_price_fen: int, rate: Decimal) -> int:
    """A late item's compensation: its price × the rate, to the fen (half up, like every rate here)."""
    from kameng.core.money import Money

    return Money(unit_price_fen).rate(rate).fen


def exchange_link(secret: str) -> str | None:
    """The secret as a link the buyer can open, when it is one: http(s) only, never javascript:, data: or
    anything else a browser would run; None otherwise (shown as plain text)."""
    from urllib.parse import urlsplit

    value = (secret or "").strip()
    if not value or any(ch.isspace() or ord(ch) < 32 for ch in value):
        return None
    parts = urlsplit(value)
    return value if parts.scheme in ("http", "https") and parts.netloc else None
