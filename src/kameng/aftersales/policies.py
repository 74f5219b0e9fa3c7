"""Who may get what back, decided from the platform's own records. Pure rules, no I/O.

Input is a plain `OrderFacts` built by the caller from the order, its snapshot (the refund policy
in force at purchase), its items (delivered? ever revealed?) and the top-up record.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from kameng.catalog.policies import RefundPolicy, percent
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
    # Nothing was handed over yet (Taobao's 未发货仅退款): the buyer may simply cancel, free and at once.
    before_delivery: bool = False


def liable_party(reason: str) -> str:
    return "supplier" if reason in SUPPLIER_LIABLE else "platform"


def refundable_items(facts: OrderFacts) -> list[ItemFacts]:
    """Items that may be asked for: not refunded, not in an open request, under the request limit."""
    return [
        item for item in facts.items
        if item.status in ("pending", "delivered") and not item.open_request and item.requests_so_far < MAX_REQUESTS_PER_ITEM
    ]


def cancellable_items(facts: OrderFacts) -> list[ItemFacts]:
    """What cancelling the order asks for: its refundable items not delivered yet."""
    return [item for item in refundable_items(facts) if item.delivered_at is None]


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
        if undelivered and not delivered:
            return _before_delivery(reason, facts, items)
        if any(i.revealed for i in items):
            return Option(reason, False, "卡密已被查看，个人原因不能退款。A key was revealed: personal reasons no longer apply.")
        if facts.kind == "topup" and facts.topup_status == "succeeded":
            return Option(reason, False, "充值已成功完成，个人原因不能退款。The top-up completed.")
        if facts.kind == "topup" and facts.topup_status in TOPUP_IN_FLIGHT:
            return Option(reason, False, "充值已提交上游，无法撤回。The top-up is with the supplier and cannot be called back.")
        end = window_end or (facts.paid_at + timedelta(hours=policy.refund_window_hours))
        if now > end:
            return Option(reason, False, f"已超过 {policy.refund_window_hours} 小时的售后期限。Outside the refund window.", deadline=end)
        fee_percent = percent(policy.personal_reason_fee_rate)  # "10", never "1E+1"
        if reason == "changed_mind" and facts.kind in KEY_KINDS and not undelivered:
            # A delivered key nobody ever looked at can go back on sale: nothing for a person to judge.
            return Option(reason, True, f"卡密从未查看，收取 {fee_percent}% 手续费后退款，立即通过。"
                          "Never revealed: refunded at once with a fee.", fee_rate=policy.personal_reason_fee_rate,
                          automatic=True, deadline=end)
        return Option(reason, True, f"卡密从未查看，可退款，收取 {fee_percent}% 手续费。Never revealed: refundable with a fee.",
                      fee_rate=policy.personal_reason_fee_rate, deadline=end)

    return Option(reason, False, "未知原因。Unknown reason.")


def _before_delivery(reason: str, facts: OrderFacts, items: list[ItemFacts]) -> Option:
    """A personal reason on items not delivered yet: a cancellation, free and instant, like Taobao's 未发货仅退款.

    Nothing was handed over, so there is nothing for a person to judge and nothing to charge for — unless
    the order already went to the supplier (a dispatched top-up or source order), which cannot be called
    back: its result decides (a failure is refunded by itself). No refund window applies: it starts at delivery.
    """
    if facts.topup_status in TOPUP_IN_FLIGHT:
        return Option(reason, False, "订单已提交上游处理，无法撤回取消；如上游报告失败，系统将自动全额退款。"
                      "The order is with the supplier and cannot be called back; a failure is refunded automatically.")
    if facts.topup_status is not None:
        # One request to the supplier covers the whole order: part of it cannot stay behind to be sent alone.
        waiting = {i.id for i in facts.items if i.status == "pending"}
        if not waiting <= {i.id for i in items}:
            return Option(reason, False, "直充订单须整单取消。A top-up is cancelled as a whole order.")
    return Option(reason, True, "尚未发货，可直接取消：全额退款，不收手续费，立即退回。"
                  "Not delivered yet: cancelled with a full refund, no fee, at once.",
                  automatic=True, before_delivery=True)


def options(facts: OrderFacts, items: list[ItemFacts], now: datetime) -> list[Option]:
    return [option(reason, facts, items, now) for reason in ALL_REASONS]


# What a description is judged on: its content, not its length. A reviewer needs to know what happened;
# for a personal reason (changed mind, wrong account) a plain short reason is all there is to say.
# Words that say nothing about what happened: complaints, the wish for a refund, filler.
VAGUE_PHRASES = ("不好用", "不能用", "用不了", "没法用", "有问题", "出问题", "垃圾", "骗子", "骗人", "坑人", "退款", "退钱",
                 "退货", "没用", "不行", "不好", "想要", "要求", "申请", "东西", "商品", "一下", "麻烦", "谢谢", "尽快",
                 "快点", "赶紧", "请", "我", "的", "了", "吧", "啊", "呢", "吗", "要",
                 "bad", "notworking", "doesntwork", "doesn'twork", "scam", "refund", "please", "want", "i", "my",
                 "the", "a", "it", "is", "me", "money", "back", "give", "thanks")
# Words that report something seen or done: a message, a screen, a record, a time. One is enough to act on.
SPECIFIC_TERMS = ("提示", "显示", "报错", "错误", "截图", "截屏", "录屏", "视频", "已被使用", "已使用", "被用", "无效",
                  "不存在", "过期", "失效", "冻结", "到账", "未收到", "没收到", "余额", "兑换", "激活", "充值记录",
                  "订单号", "账号", "区服", "面额", "面值", "客服", "页面", "界面", "弹出", "描述不符", "不一致",
                  "message", "error", "screenshot", "screen", "says", "said", "shows", "showed", "invalid",
                  "alreadyused", "expired", "redeem", "activat", "received", "balance", "account", "record")
_TIME_OR_NUMBER = re.compile(r"\d{1,2}[:：]\d{2}|\d{4,}|\d+\s*(月|日|号|点|元|分钟|小时)")
_QUOTED = re.compile(r"[“\"「『‘'].{2,}?[”\"」』’']")
# One token per Chinese character, per Latin word or per number: "啊啊啊啊" is four tokens of one kind.
_TOKENS = re.compile(r"[\u3400-\u9fff]|[a-z']+|\d+")
GOOD_DESCRIPTION_HINT = (
    "请具体说明：发生了什么、在哪里使用（游戏/平台名称）、看到的提示或错误信息、发生时间。"
    "例如：“在王者荣耀兑换页面输入卡密后提示‘该卡密已被使用’，时间 11 月 20 日 21:05。” "
    "Say what happened, where you used it, the exact message you saw and when."
)
PERSONAL_DESCRIPTION_HINT = (
    "请用一句话说明原因，例如：“买错了，不需要了。” Say why in a sentence, e.g. “Bought the wrong one, no longer needed.”"
)


def description_hint(reason: str | None) -> str:
    return PERSONAL_DESCRIPTION_HINT if reason in PERSONAL_REASONS else GOOD_DESCRIPTION_HINT


def description_problem(text: str, reason: str | None = None) -> str | None:
    """Why a description cannot be acted on, or None: "too_short", "repetitive" or "generic".

    Judged on the text a reviewer will see (zero-width and bidi characters are not content) and on what
    it says, not on how long it is: "啊啊啊啊啊啊啊啊啊啊啊啊" is long and says nothing; "东西不好用，想要退款"
    is only a complaint; "卡密提示已被使用，附截图" reports what was seen; for a personal reason
    "买错了，不需要了。" is a whole answer. `reason` None (an appeal, say) is judged like a claim.
    """
    visible = strip_invisible(text).lower()
    tokens = _TOKENS.findall(visible)
    distinct = set(tokens)
    if len(tokens) < 2 or (len(tokens) <= 3 and len(distinct) < 3):
        return "too_short"
    # Mostly one or two tokens over and over: a keyboard mash, not a sentence.
    if len(distinct) < 3 or (len(distinct) < 6 and len(distinct) / len(tokens) < 0.4):
        return "repetitive"
    squeezed = "".join(visible.split())
    rest = squeezed
    for phrase in sorted(VAGUE_PHRASES, key=len, reverse=True):
        rest = rest.replace(phrase, " ")
    content = set(_TOKENS.findall(rest))
    if reason in PERSONAL_REASONS or reason in ("not_delivered", "topup_not_received"):
        # The platform's records decide these; the buyer only says why, in their own words.
        return None if content else "generic"
    if any(term in squeezed for term in SPECIFIC_TERMS) or _TIME_OR_NUMBER.search(visible) or _QUOTED.search(visible):
        return None if content else "generic"
    # No report of a message, a screen or a time: enough detail of its own is still an account of what happened.
    return None if len(content) >= 12 else "generic"


# While a person can still look at the case (review, a request for information, an appeal).
EVIDENCE_WAIT_STATUSES = ("submitted", "awaiting_buyer", "appealed")


def awaiting_evidence(*, needs_evidence: bool, status: str, buyer_files: int) -> bool:
    """The case is 待补充证据: the rule asks for evidence, the case is still open, and the buyer has none on file."""
    return needs_evidence and status in EVIDENCE_WAIT_STATUSES and buyer_files == 0


# The evidence deadline (aftersales/evidence_deadline.py). The buyer is reminded once, six hours before it —
# or halfway through when the whole window is shorter than twelve hours, so a reminder never lands right
# after the request itself.
EVIDENCE_REMINDER_LEAD = timedelta(hours=6)


def evidence_reminder_at(*, submitted_at: datetime, due_at: datetime) -> datetime:
    return due_at - min(EVIDENCE_REMINDER_LEAD, (due_at - submitted_at) / 2)
