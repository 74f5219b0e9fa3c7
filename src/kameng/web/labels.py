"""The label catalogue: every code a page shows becomes words here, in Chinese with an English translation.

Models keep their codes (`invalid_key`, `succeeded`, `alipay`); templates never print a code, they ask
`{{ code|label:"reason" }}` (kameng_web) or the views call `label()`. An unknown code shows as "—" rather
than leaking: tests/web/test_labels.py walks every page in both languages and fails on any raw code.
"""

from django.utils.translation import gettext_lazy as _

from kameng.aftersales.models import Reason, RefundStatus, RejectReason, SupplierAnswer
from kameng.catalog.models import ProductKind
from kameng.orders.models import Channel, ItemStatus, OrderStatus, TopupStatus
from kameng.payments.models import PaymentStatus

EVENTS = {
    "submitted": _("提交申请"), "info_requested": _("审核员请求补充材料"), "buyer_answered": _("买家已补充"),
    "message": _("留言"), "evidence_added": _("上传证据"), "evidence_removed": _("撤下证据"),
    "approved": _("审核通过"), "rejected": _("驳回"),
    "appealed": _("提交申诉"), "appeal_approved": _("申诉通过"), "appeal_rejected": _("申诉驳回（最终）"),
    "urged": _("催办，已升级"), "withdrawn": _("撤回"), "closed": _("关闭"), "refunding": _("退款处理中"),
    "refunded": _("退款到账"), "put_to_supplier": _("转交供货商答复"), "supplier_accepted": _("供货商同意退款"),
    "supplier_contested": _("供货商提出异议"), "supplier_silent": _("供货商逾期未答复，视为同意"),
    "escalated": _("超过审核期限，已升级高级审核员"), "auto_approved": _("超过审核期限，平台自动同意"),
    "payout_failed": _("退款未能到账"), "payout_retried": _("财务已重新发起退款"),
    "platform_refund": _("平台主动退款"), "opened": _("审核员开始审核"),
    "evidence_reminded": _("已提醒买家补充证据"), "evidence_overdue": _("补证期限已过，买家未提供证据"),
}

# Why the platform refunded without being asked (aftersales/proactive.py).
PLATFORM_REFUND_WHY = {"topup_failed": _("直充失败"), "topup_timed_out": _("直充超时未到账"),
                       "undeliverable": _("商品无法发货"), "late": _("超过承诺发货时间仍未发货")}

ROLES = {"buyer": _("买家"), "reviewer": _("审核员"), "senior_reviewer": _("高级审核员"), "admin": _("管理员"),
         "supplier": _("供货商"), "finance": _("财务"), "system": _("系统")}

EVIDENCE_KINDS = {"image": _("图片"), "video": _("视频"), "pdf": _("PDF 文件"), "text": _("文本"),
                  "record": _("平台记录")}
EVIDENCE_SOURCES = {"buyer": _("买家"), "platform": _("平台记录"), "staff": _("审核员")}
DESTINATIONS = {"original": _("原路退回"), "wallet": _("退到钱包")}
LIABLE = {"supplier": _("供货商"), "platform": _("平台")}
PAYOUT_STATUSES = {"pending": _("待发起"), "sent": _("已提交支付渠道"), "succeeded": _("已到账"), "failed": _("失败")}
MESSAGE_KINDS = {"info_request": _("请求补充材料"), "info_reply": _("补充材料"), "message": ""}

# Finance's console (web/views/finance_console.py): the book's account kinds, account families and journal kinds.
ACCOUNT_KINDS = {"asset": _("资产"), "liability": _("负债"), "income": _("收入"), "expense": _("费用")}
ACCOUNT_FAMILIES = {
    "escrow": _("托管资金（已付款未发货）"), "wallet": _("买家钱包余额"), "payable": _("供货商待结算"),
    "available": _("供货商可提现"), "withdrawals_pending": _("提现待打款"), "commission": _("平台佣金"),
    "refund_fees": _("退款手续费"), "promotions": _("平台赠送"), "losses": _("平台承担的损失"),
    "clearing": _("渠道待清算"), "deposit": _("供货商保证金"),
}
JOURNAL_KINDS = {
    "payment_captured": _("收款"), "order_settled": _("发货结算"), "refund": _("退款"), "promotion": _("平台赠送"),
    "supplier_matured": _("售后期满转可提现"), "withdrawal_requested": _("申请提现"),
    "withdrawal_paid": _("提现打款"), "withdrawal_rejected": _("提现驳回"),
    "late_delivery_compensation": _("迟发补偿"), "deposit_lodged": _("缴纳保证金"),
}

CATALOGUE = {
    "reason": dict(Reason.choices),
    "reject": dict(RejectReason.choices),
    "refund_status": dict(RefundStatus.choices),
    "supplier_answer": dict(SupplierAnswer.choices),
    "order_status": dict(OrderStatus.choices),
    "item_status": dict(ItemStatus.choices),
    "channel": dict(Channel.choices),
    "topup_status": dict(TopupStatus.choices),
    "payment_status": dict(PaymentStatus.choices),
    "product_kind": dict(ProductKind.choices),
    "event": EVENTS,
    "role": ROLES,
    "evidence_kind": EVIDENCE_KINDS,
    "evidence_source": EVIDENCE_SOURCES,
    "destination": DESTINATIONS,
    "liable": LIABLE,
    "payout_status": PAYOUT_STATUSES,
    "message_kind": MESSAGE_KINDS,
    "platform_refund_why": PLATFORM_REFUND_WHY,
    "account_kind": ACCOUNT_KINDS,
    "account_family": ACCOUNT_FAMILIES,
    "journal_kind": JOURNAL_KINDS,
}


def label(kind: str, code) -> str:
    """The words for `code` in the current language; "—" for an unknown code, never the code itself."""
    if code is None or code == "":
        return ""
    return str(CATALOGUE[kind].get(code, "—"))


def journal_kind_label(kind: str) -> str:
    """A journal kind nobody named yet reads as "其他" rather than as its code."""
    return str(JOURNAL_KINDS.get(kind, _("其他")))


def account_family_label(family: str) -> str:
    """"wallet" → 买家钱包余额; "clearing:alipay" → 渠道待清算（支付宝）; the bank clearing account is our bank."""
    if family.startswith("clearing:"):
        channel = family.split(":", 1)[1]
        if channel == "bank":
            return str(_("平台银行账户"))
        return f"{ACCOUNT_FAMILIES['clearing']}{_punct('（')}{label('channel', channel)}{_punct('）')}"
    return str(ACCOUNT_FAMILIES.get(family, _("其他账户")))


def account_label(account) -> str:
    """One account as a person reads it: its family, and whose it is (a user's name) when it has an owner."""
    return account_text(account.code, account.owner.username if account.owner_id else None)


def account_text(code: str, owner: str | None) -> str:
    from kameng.ledger.console import family

    name = account_family_label(family(code))
    return f"{name} · {owner}" if owner else name


def _punct(mark: str) -> str:
    from django.utils.translation import get_language

    return {"（": " (", "）": ")"}.get(mark, mark) if (get_language() or "").startswith("en") else mark


def raw_codes() -> set[str]:
    """Every internal code a person must never read (for the tests that walk the pages)."""
    codes = set()
    for table in CATALOGUE.values():
        codes |= {c for c in table if c}
    return codes
