"""Pure rules of ordering."""

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
