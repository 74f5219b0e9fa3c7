"""The message catalogue: every 站内信, SMS and e-mail the platform writes, as a code and its words.

A notice is stored as a code and its parameters, never as finished text, so each reader gets it in
their own language (Chinese is the source, English in locale/en). Each parameter has a kind that says how
a person reads it (notifications/render.py):

    text     as given: numbers (order no., refund no.), product names, a person's own note
    money    fen → "¥11.40"
    time     an aware datetime → Beijing wall clock "2026-11-25 00:54" (kameng.core.times)
    date     a datetime or date → "2026-11-25" (Beijing)
    label:K  a code → its words in the label catalogue (web/labels.py, kind K): channel, reason, …
    phrase:G a key → one of the phrases of group G below, filled from the same parameters

Titles of a buyer's refund notices say where the refund stands (`status`, phrase group refund_title).
"""

from dataclasses import dataclass, field

from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Text:
    title: str
    body: str
    params: dict[str, str] = field(default_factory=dict)


REFUND = {"refund_no": "text", "status": "phrase:refund_title"}  # every buyer refund notice has these


def _refund(body, **params) -> Text:
    return Text(_("%(status)s（%(refund_no)s）"), body, {**REFUND, **params})


# Said in several notices, written once.
COMMON = {
    "external_routes": _("如您不愿等待，也可以通过支付宝或微信支付的“交易投诉”入口投诉，或拨打 12315 / 登录全国12315平台投诉；"
                         "请先在退款详情页下载证据包（含订单快照、支付与发货记录、时间线和全部证据，带平台签名）一并提交。"),
}

PHRASES = {
    "refund_title": {
        "submitted": _("退款申请已提交"), "awaiting_buyer": _("审核员请您补充材料"), "approved": _("退款申请已通过"),
        "refunding": _("退款处理中"), "refunded": _("退款已到账"), "rejected": _("退款申请被驳回"),
        "appealed": _("申诉已提交"), "rejected_final": _("申诉被驳回（最终决定）"), "withdrawn": _("退款申请已撤回"),
        "closed": _("退款申请已关闭"), "": _("退款进度更新"),
    },
    # What went wrong, in the platform's own refund (aftersales/proactive.py).
    "platform_failure": {
        "late": _("您的订单 %(order_no)s（%(product)s）超过承诺发货时间 %(promised_by)s 仍未发货"),
        "undeliverable": _("您的订单 %(order_no)s（%(product)s）的商品已下架且无库存，无法发货"),
        "topup_failed": _("您的订单 %(order_no)s（%(product)s）充值失败"),
        "topup_timed_out": _("您的订单 %(order_no)s（%(product)s）充值超时，上游始终未确认结果，视为失败"),
        "supply_failed": _("您的订单 %(order_no)s（%(product)s）供货失败"),
        "supply_timed_out": _("您的订单 %(order_no)s（%(product)s）供货超时，上游始终未确认结果，视为失败"),
    },
    "platform_refund_to": {
        "wallet": _("已退回您的钱包余额，即时到账"),
        "original": _("原路退回%(channel)s，预计 %(arrival)s 前到账"),
    },
    "note": {"with": _("说明：%(note)s"), "none": ""},
    "unpaid_orders": {
        "some": _("另有 %(unpaid_orders)s 笔未支付订单预留了其中的卡密，系统正在改用其他库存，无库存时关闭订单并通知买家。"),
        "none": "",
    },
}

BATCH = {"batch": "text", "product": "text", "imported_at": "time"}
QUARANTINE = {**BATCH, "defects": "text", "sold": "text", "share": "text", "frozen": "text", "quarantined_at": "time"}

MESSAGES: dict[str, Text] = {
    # ---- a buyer's refund request ----------------------------------------------------------------
    "refund.received": _refund(_("我们已收到您的退款申请，将在 %(review_due)s 前完成审核。"), review_due="time"),
    "refund.put_to_supplier": _refund(
        _("我们已收到您的退款申请，已转交供货商，供货商须在 %(supplier_due)s 前答复，逾期视为同意退款；"
          "如供货商有异议，平台将在 %(review_due)s 前完成审核。"), supplier_due="time", review_due="time"),
    "refund.supplier_contested": _refund(
        _("供货商对您的申请提出异议：%(note)s。平台审核员将在 %(review_due)s 前作出决定。"), note="text", review_due="time"),
    "refund.info_requested": _refund(
        _("审核员需要您补充：%(question)s。请在 %(reply_due)s 前答复，逾期申请将关闭。"), question="text", reply_due="time"),
    "refund.urged": _refund(_("已催办，高级审核员将在 %(review_due)s 前处理。"), review_due="time"),
    "refund.appealed": _refund(_("申诉已提交，将由未参与首次审核的高级审核员作出最终决定。")),
    "refund.withdrawn": _refund(_("您已撤回退款申请。")),
    "refund.closed_unanswered": _refund(_("您未在规定时间内补充材料，申请已关闭；如仍需退款可重新申请。")),
    "refund.rejected": _refund(
        _("退款申请被驳回（%(reject_reason)s）。理由：%(note)s。您可在 %(appeal_due)s 前提交申诉。"),
        reject_reason="label:reject", note="text", appeal_due="time"),
    "refund.rejected_final": _refund(
        _("申诉结果：驳回（最终决定，%(reject_reason)s）。理由：%(note)s。如仍有异议，可下载证据包向支付平台或 12315 投诉。"),
        reject_reason="label:reject", note="text"),
    "refund.escalated": _refund(
        _("您的退款申请未能在审核期限内处理，我们很抱歉。申请已升级给高级审核员，将在 %(review_due)s 前作出决定；"
          "届时仍未处理，平台将自动同意退款。%(external_routes)s"), review_due="time"),
    "refund.appeal_escalated": _refund(
        _("您的申诉未能在审核期限内处理，我们很抱歉。申诉已升级给高级审核员，将在 %(review_due)s 前作出决定；"
          "届时仍未处理，平台将自动同意退款。%(external_routes)s"), review_due="time"),
    "refund.auto_approved_wallet": _refund(
        _("审核期限已过，平台已自动同意您的退款，%(amount)s 已退回您的钱包余额，即时到账。"), amount="money"),
    "refund.auto_approved_original": _refund(
        _("审核期限已过，平台已自动同意您的退款 %(amount)s，预计 %(arrival)s 前原路退回%(channel)s。"
          "如逾期仍未到账，可通过支付宝或微信支付的“交易投诉”入口投诉，或拨打 12315 / 登录全国12315平台投诉，"
          "并附上退款详情页的证据包。"), amount="money", arrival="date", channel="label:channel"),
    "evidence.reminder": Text(
        _("请补充证据（%(refund_no)s）"),
        _("提醒：您的退款申请需要证据，请在 %(evidence_due)s 前（约 %(hours)s 小时内）在退款详情页上传截图、录屏或聊天记录。"
          "逾期未上传，申请将按现有记录审核，可能以“证据不足”驳回。"),
        {"refund_no": "text", "evidence_due": "time", "hours": "text"}),
    "evidence.overdue": Text(
        _("补证期限已过，未收到证据（%(refund_no)s）"),
        _("您的退款申请需要证据，但截至 %(evidence_due)s 仍未上传。申请将按平台现有记录（发货、查看卡密等记录）审核，"
          "审核员可能以“证据不足”驳回。作出决定前您仍可在退款详情页上传截图、录屏或聊天记录；"
          "如被驳回，可在驳回后 %(appeal_days)s 天内附上证据提出申诉。"),
        {"refund_no": "text", "evidence_due": "time", "appeal_days": "text"}),
    # ---- paying it back --------------------------------------------------------------------------
    "payout.sent": _refund(_("退款 %(amount)s 已发起，原路退回%(channel)s，预计 %(arrival)s 前到账。"),
                           amount="money", channel="label:channel", arrival="date"),
    "payout.arrived": _refund(_("退款 %(amount)s 已到账（%(channel)s），手续费 %(fee)s。"),
                              amount="money", channel="label:channel", fee="money"),
    "payout.failed": _refund(
        _("您的退款 %(amount)s 原路退回失败（%(channel)s）。平台将把这笔钱退到您的钱包余额；如您希望以其他方式退回，请联系客服。"),
        amount="money", channel="label:channel"),
    "payout.retried": _refund(_("退款 %(amount)s 已重新发起，原路退回%(channel)s。"),
                              amount="money", channel="label:channel"),
    "refund.by_platform": Text(
        _("平台主动退款（%(refund_no)s）"),
        _("%(failure)s。平台已主动为您退款 %(amount)s（%(count)s 件，无手续费），无需您申请，%(to)s。"
          "默认退款去向可在“账户设置”中修改。"),
        {"refund_no": "text", "failure": "phrase:platform_failure", "order_no": "text", "product": "text",
         "promised_by": "time", "amount": "money", "count": "text", "to": "phrase:platform_refund_to",
         "channel": "label:channel", "arrival": "date"}),
    # ---- reviewers and finance -------------------------------------------------------------------
    "staff.buyer_answered": Text(_("买家已补充材料（%(refund_no)s）"), _("买家的答复：%(text)s"),
                                 {"refund_no": "text", "text": "text"}),
    "staff.urged": Text(_("买家催办：已超过审核期限（%(refund_no)s）"), _("申请说明：%(text)s"),
                        {"refund_no": "text", "text": "text"}),
    "staff.appealed": Text(_("新的申诉待复核（%(refund_no)s）"), _("申诉理由：%(text)s"),
                           {"refund_no": "text", "text": "text"}),
    "staff.escalated": Text(_("已超过审核期限，请优先处理（%(refund_no)s）"), _("申请说明：%(text)s"),
                            {"refund_no": "text", "text": "text"}),
    "finance.payout_failed": Text(
        _("原路退款失败，需财务处理（%(refund_no)s）"),
        _("退款 %(amount)s（请求号 %(request_no)s）被%(channel)s拒绝或关闭：%(failure)s。请在“退款打款”中重新打款到钱包或原路。"),
        {"refund_no": "text", "amount": "money", "request_no": "text", "channel": "label:channel", "failure": "text"}),
    # ---- suppliers -------------------------------------------------------------------------------
    "supplier.claim": Text(
        _("新的售后申请待答复（%(refund_no)s）"),
        _("商品“%(product)s”的订单 %(order_no)s 收到售后申请（%(reason)s）。请在 %(supplier_due)s 前同意退款或提出异议；"
          "逾期未答复视为同意退款，由您承担。"),
        {"refund_no": "text", "product": "text", "order_no": "text", "reason": "label:reason", "supplier_due": "time"}),
    "supplier.claim_silent": Text(
        _("售后申请已按逾期同意处理（%(refund_no)s）"),
        _("您未在 %(supplier_due)s 前答复订单 %(order_no)s 的售后申请，已视为同意退款，由您承担。"),
        {"refund_no": "text", "order_no": "text", "supplier_due": "time"}),
    "batch.quarantined": Text(
        _("卡密批次 #%(batch)s 已暂停销售"),
        _("商品「%(product)s」的卡密批次 #%(batch)s（%(imported_at)s 导入）已有 %(defects)s 张卡密经售后核实无效或已被使用，"
          "占该批次已售 %(sold)s 张的 %(share)s，达到隔离标准。该批次尚未售出的 %(frozen)s 张卡密已于 %(quarantined_at)s 暂停销售。"
          "请核查这批卡密的来源；管理员核实后会解除隔离（恢复销售）或作废。"), QUARANTINE),
    "batch.quarantined_admin": Text(
        _("卡密批次 #%(batch)s 已暂停销售"),
        _("商品「%(product)s」的卡密批次 #%(batch)s（%(imported_at)s 导入）已有 %(defects)s 张卡密经售后核实无效或已被使用，"
          "占该批次已售 %(sold)s 张的 %(share)s，达到隔离标准。该批次尚未售出的 %(frozen)s 张卡密已于 %(quarantined_at)s 暂停销售。"
          "%(unpaid)s请在“批次隔离”页面解除隔离或作废。"),
        {**QUARANTINE, "unpaid": "phrase:unpaid_orders", "unpaid_orders": "text"}),
    "batch.released": Text(
        _("卡密批次 #%(batch)s 已解除隔离"),
        _("商品「%(product)s」的卡密批次 #%(batch)s（%(imported_at)s 导入）经管理员核实已解除隔离，%(back)s 张卡密于 "
          "%(decided_at)s 恢复销售。%(note_clause)s"),
        {**BATCH, "back": "text", "decided_at": "time", "note_clause": "phrase:note", "note": "text"}),
    "batch.voided": Text(
        _("卡密批次 #%(batch)s 已作废"),
        _("商品「%(product)s」的卡密批次 #%(batch)s（%(imported_at)s 导入）经管理员核实已作废：%(gone)s 张未售出的卡密"
          "不再销售，库存相应减少。%(note_clause)s"),
        {**BATCH, "gone": "text", "note_clause": "phrase:note", "note": "text"}),
    # ---- orders ----------------------------------------------------------------------------------
    "order.closed_out_of_stock": Text(
        _("订单 %(order_no)s 已关闭"),
        _("您的订单 %(order_no)s（%(product)s）预留的卡密所属批次已暂停销售，且暂无其他库存，订单已关闭。"
          "您尚未付款，无需任何操作；如已付款，款项不会丢失：系统将自动发货或全额退回。"),
        {"order_no": "text", "product": "text"}),
    "order.late_compensation": Text(
        _("迟发补偿 %(amount)s 已到钱包（%(order_no)s）"),
        _("订单 %(order_no)s（%(product)s）承诺 %(promised_by)s 前发货，实际于 %(delivered_at)s 发货，晚于承诺时间。"
          "按下单时的退款规则，补偿商品价格的 %(rate)s%%，共 %(amount)s，已存入您的钱包，可直接用于购物。"),
        {"order_no": "text", "product": "text", "promised_by": "time", "delivered_at": "time", "rate": "text",
         "amount": "money"}),
}
