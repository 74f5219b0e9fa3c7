"""Who may get what back, decided from the platform's own records. Pure rules, no I/O.

Input is a plain `OrderFacts` built by the caller from the order, its snapshot (the refund policy
in force at purchase), its items (delivered? ever revealed?) and the top-up record.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from kameng.catalog.policies import RefundPolicy
from kameng.core.text import strip_invisible
from kameng.core.times import for_person

EVIDENCE_REASONS = ("invalid_key", "key_already_used", "not_as_described", "system_error")
PERSONAL_REASONS = ("changed_mind", "wrong_account")
ALL_REASONS = ("not_delivered", "topup_not_received", *EVIDENCE_REASONS, *PERSONAL_REASONS)
KEY_REASONS = ("invalid_key", "key_already_used")
KEY_KINDS = ("card", "link")  # products delivered as a key the buyer reveals
SUPPLIER_LIABLE = ("invalid_key", "key_already_used", "not_as_described")
TOPUP_CONFIRM_HOURS = 24
# The supplier has it and has not answered: it may still succeed, so its result decides, not the clock.
TOPUP_IN_FLIGHT = ("dispatched",)
# It will never be delivered (the supplier said so, or it was cancelled before being sent).
TOPUP_NOT_COMING = ("failed", "cancelled")
TOPUP_PENDING_WHY = ("充值已提交上游，结果待确认：如上游报告失败，系统将自动全额退款；报告成功即到账。"
                     "The top-up is with the supplier, result pending: a failure is refunded automatically.")
MAX_REQUESTS_PER_ITEM = 5


@dataclass(frozen=True)
class ItemFacts:
    id: int
    status: str
    delivered_at: datetime | None
    revealed: bool
    open_request: bool
    requests_so_far: int
    # Our records show this item's key was issued to another order before (it came back to stock unrevealed).
    key_issued_elsewhere: bool = False


@dataclass(frozen=True)
class OrderFacts:
    kind: str  # card | link | topup
    status: str
    paid_at: datetime | None
    delivered_at: datetime | None
    delivery_promise_minutes: int
    topup_status: str | None
    policy: RefundPolicy
    items: list[ItemFacts] = field(default_factory=list)


@dataclass(frozen=True)
class Option:
    code: str
    eligible: bool
    why: str
    fee_rate: Decimal = Decimal(0)
    needs_evidence: bool = False
    automatic: bool = False  # approved at once, without review
    liable: str | None = None  # who bears the loss when the rule knows better than the reason alone
    deadline: datetime | None = None


def liable_party(reason: str) -> str:
    return "supplier" if reason in SUPPLIER_LIABLE else "platform"


def refundable_items(facts: OrderFacts) -> list[ItemFacts]:
    """Items that may be asked for: not refunded, not in an open request, under the request limit."""
    return [
        item for item in facts.items
        if item.status in ("pending", "delivered") and not item.open_request and item.requests_so_far < MAX_REQUESTS_PER_ITEM
    ]


def _window_end(facts: OrderFacts) -> datetime | None:
    start = facts.delivered_at or max((i.delivered_at for i in facts.items if i.delivered_at), default=None)
    return start + timedelta(hours=facts.policy.refund_window_hours) if start else None


def option(reason: str, facts: OrderFacts, items: list[ItemFacts], now: datetime) -> Option:
    """Eligibility of one reason for the chosen items."""
    if facts.paid_at is None:
        return Option(reason, False, "订单尚未支付，无需退款。The order is not paid.")
    if not items:
        return Option(reason, False, "没有可申请退款的商品：已退款、已在处理中或已达申请次数上限。No item can be refunded now.")
    delivered = [i for i in items if i.delivered_at is not None]
    undelivered = [i for i in items if i.delivered_at is None]
    policy = facts.policy

    if reason == "not_delivered":
        promised_by = facts.paid_at + timedelta(minutes=facts.delivery_promise_minutes)
        if delivered:
            return Option(reason, False, "所选商品已发货，请选择与问题相符的原因。The chosen items were delivered.")
        if facts.topup_status in TOPUP_NOT_COMING:
            return Option(reason, True, "充值失败，全额退款，立即通过。The top-up failed: full refund, approved at once.", automatic=True)
        if facts.topup_status in TOPUP_IN_FLIGHT:
            return Option(reason, False, TOPUP_PENDING_WHY)
        if now < promised_by:
            return Option(reason, False, f"尚未超过承诺发货时间（{for_person(promised_by)}）。Not past the promised delivery time.",
                          deadline=promised_by)
        return Option(reason, True, "超过承诺时间未发货，全额退款，立即通过。Not delivered on time: full refund, approved at once.",
                      automatic=True)

    if reason == "topup_not_received":
        if facts.kind != "topup":
            return Option(reason, False, "本商品不是直充商品。This product is not a top-up.")
        if facts.topup_status == "succeeded":
            return Option(reason, False, "供货商已确认充值成功；如未到账请选择其他原因并提供证据。The supplier confirmed success.")
        if facts.topup_status in TOPUP_NOT_COMING:
            return Option(reason, True, "供货商报告充值失败，全额退款，立即通过。The supplier reported failure: approved at once.",
                          automatic=True)
        confirm_by = facts.paid_at + timedelta(hours=TOPUP_CONFIRM_HOURS)
        if now < confirm_by:
            return Option(reason, False, f"充值结果确认中，{for_person(confirm_by)} 后仍未成功可申请。Still within 24 hours.",
                          deadline=confirm_by)
        return Option(reason, True, "支付 24 小时后仍无成功记录，审核时将查看上游记录。No success 24 hours after payment: reviewed.")

    window_end = _window_end(facts)
    if reason in EVIDENCE_REASONS:
        if reason in KEY_REASONS and facts.kind == "topup":
            return Option(reason, False, "直充商品没有卡密。A top-up has no key.")
        if undelivered:
            return Option(reason, False, "所选商品尚未发货，请选择“未发货”。The chosen items were not delivered.")
        if window_end is None or now > window_end:
            return Option(reason, False, f"已超过发货后 {policy.refund_window_hours} 小时的售后期限。Outside the refund window.",
                          deadline=window_end)
        if reason == "key_already_used" and all(i.key_issued_elsewhere for i in items):
            # The platform put an unrevealed key back on sale after a refund and issued it again: our own
            # records explain the claim, and the re-issue was the platform's doing, so the platform pays.
            return Option(reason, True, "平台记录显示该卡密曾发给另一订单（退款后退回库存再次发放），全额退款，立即通过，由平台承担。"
                          "Our records show this key was issued to another order before: full refund at once, "
                          "borne by the platform.", automatic=True, liable="platform", deadline=window_end)
        return Option(reason, True, f"请上传证据（截图、录屏或聊天记录），{policy.review_sla_workdays} 个工作日内审核，不收手续费。"
                      "Upload evidence; reviewed by a person; no fee.", needs_evidence=True, deadline=window_end)

    if reason in PERSONAL_REASONS:
        if any(i.revealed for i in items):
            return Option(reason, False, "卡密已被查看，个人原因不能退款。A key was revealed: personal reasons no longer apply.")
        if facts.kind == "topup" and facts.topup_status == "succeeded":
            return Option(reason, False, "充值已成功完成，个人原因不能退款。The top-up completed.")
        if facts.kind == "topup" and facts.topup_status in TOPUP_IN_FLIGHT:
            return Option(reason, False, "充值已提交上游，无法撤回。The top-up is with the supplier and cannot be called back.")
        end = window_end or (facts.paid_at + timedelta(hours=policy.refund_window_hours))
        if now > end:
            return Option(reason, False, f"已超过 {policy.refund_window_hours} 小时的售后期限。Outside the refund window.", deadline=end)
        fee_percent = (policy.personal_reason_fee_rate * 100).normalize()
        if reason == "changed_mind" and facts.kind in KEY_KINDS and not undelivered:
            # A delivered key nobody ever looked at can go back on sale: nothing for a person to judge.
            return Option(reason, True, f"卡密从未查看，收取 {fee_percent}% 手续费后退款，立即通过。"
                          "Never revealed: refunded at once with a fee.", fee_rate=policy.personal_reason_fee_rate,
                          automatic=True, deadline=end)
        return Option(reason, True, f"卡密从未查看，可退款，收取 {fee_percent}% 手续费。Never revealed: refundable with a fee.",
                      fee_rate=policy.personal_reason_fee_rate, deadline=end)

    return Option(reason, False, "未知原因。Unknown reason.")


def options(facts: OrderFacts, items: list[ItemFacts], now: datetime) -> list[Option]:
    return [option(reason, facts, items, now) for reason in ALL_REASONS]


VAGUE_PHRASES = ("不好用", "不能用", "用不了", "有问题", "垃圾", "骗子", "退款", "没用", "不行", "bad", "not working",
                 "doesn't work", "scam", "refund")
MIN_DESCRIPTION_CHARS = 10
GOOD_DESCRIPTION_HINT = (
    "请具体说明：发生了什么、在哪里使用（游戏/平台名称）、看到的提示或错误信息、发生时间。"
    "例如：“在王者荣耀兑换页面输入卡密后提示‘该卡密已被使用’，时间 11 月 20 日 21:05。” "
    "Say what happened, where you used it, the exact message you saw and when."
)


def description_problem(text: str) -> str | None:
    """Why a description is too vague to act on, or None.

    Judged on the text a reviewer will see: zero-width and bidi characters are not content.
    """
    stripped = "".join(strip_invisible(text).split())
    if len(stripped) < MIN_DESCRIPTION_CHARS:
        return "too_short"
    lowered = stripped.lower()
    for phrase in VAGUE_PHRASES:
        lowered = lowered.replace(phrase.replace(" ", ""), "")
    if len(lowered.strip("!！。.,，?？~…")) < MIN_DESCRIPTION_CHARS // 2:
        return "generic"
    return None
