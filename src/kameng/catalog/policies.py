"""The refund policy of a product: structured rules and the human text generated from them.

The rules are snapshotted onto every order at purchase, so later edits never change
what a buyer was promised.
"""

from dataclasses import asdict, dataclass
from decimal import Decimal

from kameng.core.errors import Invalid
from kameng.core.money import InvalidAmount, parse_rate
from kameng.core.text import clean_text

MAX_PERSONAL_FEE_RATE = Decimal("0.10")
# Late-delivery compensation is a share of the late item's price. Half at most: a supplier can price in a
# bounded penalty, and a buyer kept waiting longer than that is better served by a full refund (an item
# still undelivered past its promise is refunded in full) than by ever-larger credit on a late key.
MAX_LATE_COMPENSATION_RATE = Decimal("0.50")
RATE_STEP = Decimal("0.01")  # rates are stored and shown with two places: a finer rate would be silently rounded

# Whole-number rules and their inclusive bounds (the pages' number inputs show the same bounds).
WHOLE_NUMBER_BOUNDS = {
    "refund_window_hours": (1, 24 * 90),
    "review_sla_workdays": (1, 15),
    "appeal_window_days": (1, 30),
    "info_reply_hours": (1, 24 * 7),
    "supplier_reply_hours": (1, 24 * 7),
}

MAX_DELIVERY_PROMISE_MINUTES = 60 * 24 * 7

PRODUCT_NAME_MAX = 200
# A description is copied into every order's snapshot and shown on the product page: it is bounded.
PRODUCT_DESCRIPTION_MAX = 5000
SUMMARY_CHARS = 120  # what a list of products shows of each description


def product_text(*, name: str, description: str) -> tuple[str, str]:
    """A product's name and description as they may be stored, or Invalid with a code.

    Cleaned first (kameng.core.text): a name of bidi overrides and zero-width characters is empty.
    """
    if not isinstance(name, str) or not isinstance(description, str):
        raise Invalid("name and description are text", code="INVALID_NAME")
    name = clean_text(name, field="name", one_line=True).strip()
    if not 1 <= len(name) <= PRODUCT_NAME_MAX:
        raise Invalid(f"a product name is 1 to {PRODUCT_NAME_MAX} visible characters", code="INVALID_NAME")
    description = clean_text(description, field="description").strip()
    if len(description) > PRODUCT_DESCRIPTION_MAX:
        raise Invalid(f"a product description is at most {PRODUCT_DESCRIPTION_MAX} characters",
                      code="PRODUCT_DESCRIPTION_TOO_LONG")
    return name, description


def summary(description: str) -> str:
    """The start of a description, for lists: the full text is on the product's own page."""
    text = " ".join(description.split())
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1].rstrip() + "…"


@dataclass(frozen=True)
class RefundPolicy:
    refund_window_hours: int = 72
    personal_reason_fee_rate: Decimal = Decimal("0.05")
    review_sla_workdays: int = 3
    appeal_window_days: int = 7
    info_reply_hours: int = 24
    # A claim the supplier is liable for waits this long for its answer; silence is acceptance.
    supplier_reply_hours: int = 24
    # An item delivered after its promise (paid_at + delivery_promise_minutes) earns the buyer this share of
    # its price in the wallet, on delivery (kameng.orders.compensation). 0: no compensation.
    late_delivery_compensation_rate: Decimal = Decimal("0.00")

    @classmethod
    def from_input(cls, data: dict | None) -> "RefundPolicy":
        """Rules as a supplier sent them, or Invalid (INVALID_REFUND_POLICY): nothing is rounded or coerced."""
        if data is not None and not isinstance(data, dict):
            raise Invalid("refund_policy is an object", code="INVALID_REFUND_POLICY", details={"field": "refund_policy"})
        data = dict(data or {})
        unknown = set(data) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise Invalid(f"unknown refund policy fields: {', '.join(sorted(unknown))}", code="INVALID_REFUND_POLICY",
                          details={"field": "refund_policy", "unknown": sorted(unknown)})
        defaults = cls()
        rates = {
            "personal_reason_fee_rate": _rate(data, "personal_reason_fee_rate", defaults, MAX_PERSONAL_FEE_RATE,
                                              example="0.05"),
            "late_delivery_compensation_rate": _rate(data, "late_delivery_compensation_rate", defaults,
                                                     MAX_LATE_COMPENSATION_RATE, example="0.10"),
        }
        ints = {}
        for name, (low, high) in WHOLE_NUMBER_BOUNDS.items():
            value = data.get(name, getattr(defaults, name))
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise Invalid(f"{name} is a whole number from {low} to {high}", code="INVALID_REFUND_POLICY",
                              details={"field": name, "min": low, "max": high})
            ints[name] = value
        return cls(**rates, **ints)

    @classmethod
    def from_stored(cls, data: dict) -> "RefundPolicy":
        """Rules as stored by `to_stored` (validated on the way in, so no check here: see `stored_policy_or_none`)."""
        return cls(
            refund_window_hours=data["refund_window_hours"],
            personal_reason_fee_rate=Decimal(data["personal_reason_fee_rate"]),
            review_sla_workdays=data["review_sla_workdays"],
            appeal_window_days=data["appeal_window_days"],
            info_reply_hours=data["info_reply_hours"],
            # Orders bought before the field existed were promised the default.
            supplier_reply_hours=data.get("supplier_reply_hours", cls.supplier_reply_hours),
            # Orders bought before late-delivery compensation existed were promised none.
            late_delivery_compensation_rate=Decimal(data.get("late_delivery_compensation_rate", "0.00")),
        )

    def to_stored(self) -> dict:
        data = asdict(self)
        data["personal_reason_fee_rate"] = f"{self.personal_reason_fee_rate:.2f}"
        data["late_delivery_compensation_rate"] = f"{self.late_delivery_compensation_rate:.2f}"
        return data

    def text(self, language: str = "zh-hans") -> str:
        fee_percent = percent(self.personal_reason_fee_rate)
        late_percent = percent(self.late_delivery_compensation_rate)
        if language.startswith("en"):
            late = (f"Delivered after the promised time: {late_percent}% of the item's price is credited to your "
                    f"wallet on delivery. " if self.late_delivery_compensation_rate > 0 else "")
            return (
                f"Cancel before delivery (no key sent yet, a top-up not yet sent to the supplier): full refund, "
                f"no fee, at once. "
                f"Not delivered on time, or a top-up that failed: full refund, approved at once. {late}"
                f"Invalid key, key already used, not as described or a system error: apply within "
                f"{self.refund_window_hours} hours of delivery with evidence; full refund, no fee; reviewed within "
                f"{self.review_sla_workdays} working days. Changed your mind or wrong account after delivery: only "
                f"while the key has never been revealed, within {self.refund_window_hours} hours, with a {fee_percent}% fee. "
                f"Reply to a reviewer's question within {self.info_reply_hours} hours. Appeal a rejection within "
                f"{self.appeal_window_days} days. Digital goods are excluded from 7-day no-reason returns "
                f"(Consumer Rights Protection Law, Art. 25)."
            )
        late = (f"超过承诺时间才发货的，按商品价格的 {late_percent}% 补偿到钱包，发货即到账。"
                if self.late_delivery_compensation_rate > 0 else "")
        return (
            f"发货前取消订单（卡密尚未发出、直充尚未提交上游）：全额退款，不收手续费，立即退回。"
            f"未按承诺时间发货或充值失败：全额退款，立即自动通过。{late}"
            f"卡密无效、卡密已被使用、与描述不符或系统错误：发货后 {self.refund_window_hours} 小时内凭证据申请，"
            f"全额退款，不收手续费，{self.review_sla_workdays} 个工作日内审核完毕。"
            f"发货后不想要了或充错账号：仅限卡密从未查看且在 {self.refund_window_hours} 小时内，收取 {fee_percent}% 手续费。"
            f"审核员要求补充材料时，请在 {self.info_reply_hours} 小时内答复。驳回后 {self.appeal_window_days} 天内可申诉。"
            f"数字商品不适用七日无理由退货（《消费者权益保护法》第二十五条）。"
        )

    def to_api(self, language: str = "zh-hans") -> dict:
        return {**self.to_stored(), "text": self.text(language)}


def refund_policy_validated(data) -> dict:
    """THE check of refund rules, wherever they are written: the API, the supplier's pages, the Django admin.

    Takes the rules as a person sent them (a dict, fields optional) and returns them as they are stored
    (every field, rates as two-place strings), or raises Invalid with code INVALID_REFUND_POLICY and
    `details["field"]` naming the rule at fault. Nothing is rounded or coerced: a 50 % fee, a rate of
    "0.055", a float, an unknown field or a non-object is refused, never stored to break a page later.
    """
    return RefundPolicy.from_input(data).to_stored()


def percent(rate: Decimal) -> str:
    """0.05 → "5", 0.10 → "10" (normalize() alone writes "1E+1"), 0.125 → "12.5": how a person reads a rate."""
    return format((rate * 100).normalize(), "f")


def _rate(data: dict, name: str, defaults: RefundPolicy, maximum: Decimal, *, example: str) -> Decimal:
    """A rate as sent: a decimal string (never a float or bool) from 0 to `maximum`, two places at most."""
    raw = data.get(name, getattr(defaults, name))
    example = f'"{example}"'
    details = {"field": name, "min": "0.00", "max": f"{maximum:.2f}"}
    if not isinstance(raw, str | Decimal):
        raise Invalid(f"{name} is a decimal string such as {example}", code="INVALID_REFUND_POLICY", details=details)
    try:
        rate = parse_rate(raw)
    except InvalidAmount as exc:
        raise Invalid(f"{name} is a decimal string such as {example}", code="INVALID_REFUND_POLICY",
                      details=details) from exc
    if not Decimal(0) <= rate <= maximum:
        raise Invalid(f"{name} is between 0 and {maximum}", code="INVALID_REFUND_POLICY", details=details)
    if rate != rate.quantize(RATE_STEP):
        raise Invalid(f"{name} has at most two decimal places (0.05, not 0.055)", code="INVALID_REFUND_POLICY",
                      details=details)
    return rate.quantize(RATE_STEP)


def stored_policy_or_none(data) -> RefundPolicy | None:
    """A product's stored rules, or None when they cannot be read.

    Every write path validates (`RefundPolicy.from_input`: API, supplier page, admin), but a row written
    before the admin did, or by hand, may be malformed; the product page then says the rules are
    unavailable and offers no purchase, instead of failing.
    """
    try:
        return RefundPolicy.from_input(data)
    except (Invalid, TypeError, ValueError, ArithmeticError):
        return None
