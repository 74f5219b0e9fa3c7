"""Irreversible actions are confirmed on the server, so they are confirmed with or without JavaScript.

One mechanism for every such form. The form carries `data-confirm` with the question (the
`{% confirm_question "key" %}` tag, from the texts below). With JavaScript, web/confirm.js asks
`window.confirm()` and, on yes, adds `confirmed=1` to the form before it is sent. Without JavaScript the
form arrives without it, and the view answers with `ask_first()`: a server-rendered page that states the
consequences, replays the form's fields, and has a real submit button carrying `confirmed=1` and a way back.
Nothing changes until the person has said yes one way or the other.

Views call `ask_first()` after their own checks (the object is theirs, the form is valid), so a stranger
still gets 404 and a reviewer with a missing note sees the error first, never a confirmation of nothing.
"""

from dataclasses import dataclass

from django.shortcuts import render
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

CONFIRMED = "confirmed"  # the field that says the person already said yes


@dataclass(frozen=True)
class Confirmation:
    title: str | Promise  # what is about to be done, as a heading
    question: str | Promise  # the consequences, as one question (also the JavaScript dialog's text)
    button: str | Promise  # the real submit button
    danger: bool = True


CONFIRMATIONS = {
    "reveal": Confirmation(_("确认查看卡密"), _("查看卡密后将不能以“不想要了”为由退款，每次查看都会记录。确定查看吗？"),
                           _("确认查看卡密"), danger=False),
    "refund_withdraw": Confirmation(_("确认撤回售后申请"),
                                    _("确定撤回这个售后申请吗？撤回后这些商品不能再以同一原因申请。"), _("确认撤回")),
    "staff_approve": Confirmation(_("确认同意退款"), _("确定同意退款吗？同意后立即退款，不能撤销。"), _("确认同意"),
                                  danger=False),
    "staff_reject": Confirmation(_("确认驳回退款申请"), _("确定驳回吗？买家会立即收到通知。"), _("确认驳回")),
    "withdrawal_request": Confirmation(_("确认申请提现"), _("确定申请提现吗？申请后该金额将冻结，等待财务审核打款。"),
                                       _("确认申请提现"), danger=False),
    "withdrawal_approve": Confirmation(_("确认打款"), _("确认已向该供货商打款吗？此操作不能撤销。"), _("确认打款"),
                                       danger=False),
    "withdrawal_reject": Confirmation(_("确认驳回提现"), _("确定驳回这笔提现吗？金额将退回供货商的可提现余额。"),
                                      _("确认驳回")),
    "deposit_lodge": Confirmation(_("确认记录保证金"),
                                  _("确认已收到供货商缴纳的这笔保证金吗？记录后计入其保证金余额，不能撤销。"),
                                  _("确认记录"), danger=False),
}


def confirmed(request) -> bool:
    return request.POST.get(CONFIRMED) == "1"


def ask_first(request, key: str, *, back: str, details: list[tuple] = ()):
    """None when the person already confirmed; otherwise the confirmation page to answer with.

    `back` is where "cancel" leads (the page the form was on); `details` are (label, value) pairs that say
    what exactly is about to be done (the amount, the reason chosen), in words, never codes.
    """
    if confirmed(request):
        return None
    confirmation = CONFIRMATIONS[key]
    fields = [(name, value) for name, values in request.POST.lists()
              if name not in ("csrfmiddlewaretoken", CONFIRMED) for value in values]
    return render(request, "web/confirm.html", {
        "confirmation": confirmation, "action": request.path, "fields": fields, "back": back,
        "details": [(label, value) for label, value in details if value not in (None, "")],
        "confirmed_field": CONFIRMED,
    })
