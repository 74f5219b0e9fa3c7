"""The supplier's claims page: claims against its products, each answered by accept or contest.

Both answers are confirmed (a required checkbox: no script needed, works on a phone); the rules are
kameng.aftersales.supplier_claims.
"""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from kameng.aftersales import supplier_claims as claims
from kameng.aftersales.models import SupplierAnswer
from kameng.core import clock
from kameng.core.errors import DomainError
from kameng.core.money import Money

from ..access import supplier_required
from ..errors import error_text, not_found_as_404
from ..forms import TextField
from ..timeline import row
from .aftersales_common import reason_label, status_label, with_datetimes


class AcceptForm(forms.Form):
    note = TextField(label=_("备注（可选）"), required=False, max_length=claims.MAX_NOTE,
                     widget=forms.Textarea(attrs={"rows": 2}))
    confirm = forms.BooleanField(label=_("我确认同意退款，退款金额由我方承担"))


class ContestForm(forms.Form):
    note = TextField(label=_("异议理由（审核员可见，必填）"), max_length=claims.MAX_NOTE,
                     widget=forms.Textarea(attrs={"rows": 3}))
    confirm = forms.BooleanField(label=_("我确认提出异议，由平台审核员作出决定"))


def _rows(user):
    now = clock.now()
    answers = dict(SupplierAnswer.choices)
    rows = []
    for refund in claims.claims_for_supplier(user=user):
        view = claims.claim_view(refund, now)
        view.update(
            deliveries=with_datetimes(view["deliveries"]), reason_label=reason_label(view["reason"]), status_label=status_label(view["status"]),
            answer_label=answers.get(view["supplier_answer"], ""), amount=Money(view["amount"]),
            timeline=[row(at=e["at"], event=e["event"], actor=e["actor"], note=e.get("note", ""))
                      for e in view["timeline"]],
            accept_form=AcceptForm(prefix=f"a{refund.id}"), contest_form=ContestForm(prefix=f"c{refund.id}"),
        )
        rows.append(view)
    return rows


@supplier_required
def claim_list(request):
    return render(request, "web/supplier/claims.html", {"rows": _rows(request.user)})


def _answer(request, refund_id: int, form_class, prefix: str, act, done: str):
    form = form_class(request.POST, prefix=f"{prefix}{refund_id}")
    if not form.is_valid():
        messages.error(request, gettext("请勾选确认；提出异议时须填写理由。"))
        return redirect("web:supplier_claims")
    try:
        act(form.cleaned_data["note"])
    except DomainError as exc:
        not_found_as_404(exc)
        messages.error(request, error_text(exc))
        return redirect("web:supplier_claims")
    messages.success(request, done)
    return redirect("web:supplier_claims")


@require_POST
@supplier_required
def claim_accept(request, refund_id: int):
    return _answer(request, refund_id, AcceptForm, "a",
                   lambda note: claims.claim_accept(supplier=request.user, refund_id=refund_id, note=note),
                   gettext("已同意退款。"))


@require_POST
@supplier_required
def claim_contest(request, refund_id: int):
    return _answer(request, refund_id, ContestForm, "c",
                   lambda note: claims.claim_contest(supplier=request.user, refund_id=refund_id, note=note),
                   gettext("已提交异议，平台审核员将作出决定。"))
