"""The step bar of a refund case, as Taobao and JD show it: 提交 → 审核 → 退款中 → 到账.

Each step is done, current or still to come; a case that stops (rejected, withdrawn, closed) says so plainly
at the step where it stopped, and the steps after it are not shown as if they were still coming.
"""

from django.utils.translation import gettext as _

# The step each status stands at (0 提交, 1 审核, 2 退款中, 3 到账).
_AT = {"submitted": 1, "awaiting_buyer": 1, "appealed": 1, "approved": 2, "refunding": 2, "refunded": 3,
       "rejected": 1, "rejected_final": 1, "withdrawn": 1, "closed": 1}
_STOPPED = {"rejected": "stopped", "rejected_final": "stopped", "withdrawn": "ended", "closed": "ended"}


def refund_steps(refund) -> list[dict]:
    names = [_("提交"), _("审核"), _("退款中"), _("到账")]
    at = _AT.get(refund.status, 1)
    stopped = _STOPPED.get(refund.status)
    endings = {"rejected": _("已驳回"), "rejected_final": _("申诉驳回"), "withdrawn": _("已撤回"), "closed": _("已关闭")}
    steps = []
    for index, name in enumerate(names):
        if index < at or refund.status == "refunded":
            state = "done"
        elif index == at:
            state = stopped or "current"
        else:
            state = "off" if stopped else "todo"
        text = endings[refund.status] if index == at and stopped else name
        if index == 1 and refund.status == "awaiting_buyer":
            text = _("待您补充")
        elif index == 1 and refund.status == "appealed":
            text = _("申诉审核")
        steps.append({"name": text, "state": state, "number": index + 1})
    return steps


def refund_outcome(refund) -> dict | None:
    """One plain sentence for where the case stands once someone decided; the reviewer's note beside it.

    An approval after an appeal reads as an approval (not "已退款：问题无法复现 — 申诉成立": the old rejection's
    reason is history, in the timeline); a rejection never shows a refund amount as if it were coming.
    """
    from kameng.core.money import Money
    from kameng.core.times import for_person

    from .labels import label

    amount = f"¥{Money(refund.refund_amount_fen)}"
    where = label("destination", refund.destination)
    status = refund.status
    if status == "refunded":
        when = for_person(refund.refunded_at) if refund.refunded_at else ""
        text = _("已退款 %(amount)s（%(where)s），%(when)s 到账。") % {"amount": amount, "where": where, "when": when}
        return {"tone": "good", "text": text, "said": refund.decision_note}
    if status in ("approved", "refunding"):
        due = for_person(refund.expected_arrival_by) if refund.expected_arrival_by else ""
        text = (_("已同意退款 %(amount)s（%(where)s），预计 %(due)s 前到账。") % {"amount": amount, "where": where, "due": due}
                if due else _("已同意退款 %(amount)s（%(where)s）。") % {"amount": amount, "where": where})
        return {"tone": "good", "text": text, "said": refund.decision_note}
    if status in ("rejected", "rejected_final"):
        why = label("reject", refund.reject_reason_code)
        text = (_("申诉被驳回，这是最终决定。原因：%(why)s。") if status == "rejected_final"
                else _("申请被驳回。原因：%(why)s。")) % {"why": why}
        return {"tone": "bad", "text": text, "said": refund.decision_note}
    if status == "appealed":
        return {"tone": "", "text": _("您已申诉，高级审核员将重新审核。"), "said": ""}
    if status == "withdrawn":
        return {"tone": "", "text": _("您已撤回这个申请。"), "said": ""}
    if status == "closed":
        return {"tone": "", "text": _("申请已关闭：没有在期限内补充材料。"), "said": ""}
    return None
