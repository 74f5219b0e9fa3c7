"""批次隔离 (admins): quarantined import batches, released or voided after a look. Thin: inventory decides."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kameng.core.error_texts import one_language
from kameng.core.errors import DomainError
from kameng.inventory.models import QuarantineState
from kameng.inventory.quarantine import MAX_NOTE, batch_release, batch_void
from kameng.inventory.selectors import batches_for_admin

from ..access import role_required
from ..errors import error_text, not_found_as_404

admin_required = role_required("admin")
TABS = (QuarantineState.QUARANTINED, QuarantineState.RELEASED, QuarantineState.VOIDED)


class DecisionForm(forms.Form):
    note = forms.CharField(label=gettext_lazy("说明（可选）"), required=False, max_length=MAX_NOTE,
                           widget=forms.Textarea(attrs={"rows": 2}))


def share(part: int, whole: int) -> str:
    return f"{part * 100 / whole:.1f}%" if whole else "—"


@never_cache
@admin_required
def batch_list(request):
    state = request.GET.get("state")
    state = state if state in TABS else QuarantineState.QUARANTINED
    rows = batches_for_admin(actor=request.user, state=state)
    for batch in rows:
        batch.share = share(batch.quarantine_defects, batch.quarantine_sold)
        batch.history = list(batch.events.order_by("id"))
    tabs = [(value, QuarantineState(value).label) for value in TABS]
    return render(request, "web/staff/batches.html", {"batches": rows, "state": state, "tabs": tabs,
                                                      "max_note": MAX_NOTE})


def _decide(request, batch_id: int, service, done: str):
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("说明最多 %(n)s 字。") % {"n": MAX_NOTE})
        return redirect("web:staff_batches")
    try:
        service(actor=request.user, batch_id=batch_id, note=form.cleaned_data["note"])
    except DomainError as exc:
        not_found_as_404(exc)
        messages.error(request, one_language(error_text(exc)))
    else:
        messages.success(request, done % {"id": batch_id})
    return redirect("web:staff_batches")


@require_POST
@admin_required
def batch_release_view(request, batch_id: int):
    return _decide(request, batch_id, batch_release, gettext("批次 #%(id)s 已解除隔离，卡密恢复销售。"))


@require_POST
@admin_required
def batch_void_view(request, batch_id: int):
    return _decide(request, batch_id, batch_void, gettext("批次 #%(id)s 已作废，其未售出的卡密不再销售。"))
