"""The buyer's after-sales pages: apply from an order, follow a refund, answer, urge, appeal, withdraw."""

from django.contrib import messages
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kameng.aftersales import services
from kameng.aftersales.dossier import dossier_stream
from kameng.aftersales.policies import GOOD_DESCRIPTION_HINT
from kameng.aftersales.proactive import EVENT as PLATFORM_EVENT
from kameng.aftersales.proactive import by_platform
from kameng.aftersales.selectors import evidence_state, refund_for_buyer
from kameng.api.aftersales import dossier_sections
from kameng.catalog.policies import percent
from kameng.core import clock
from kameng.core.errors import DomainError
from kameng.core.models import reloaded
from kameng.core.money import Money
from kameng.core.times import for_person

from ..access import buyer_required
from ..confirmations import ask_first
from ..errors import not_found_as_404
from ..reads import order_items
from ..refund_forms import AppealForm, EvidenceForm, MessageForm, RefundApplyForm
from ..steps import refund_outcome, refund_steps
from .aftersales_common import (
    domain_call,
    evidence_download,
    message_rows,
    one_language,
    reason_label,
    refund_error_text,
    reject_label,
    status_label,
    timeline,
)
from .orders import _own_order

EVIDENCE_STATUSES = ("submitted", "awaiting_buyer", "rejected", "appealed")
MESSAGE_CLOSED = ("withdrawn", "closed", "refunded", "rejected_final")
WITHDRAWABLE = ("submitted", "awaiting_buyer", "rejected")


def _own_refund(request, refund_id: int):
    try:
        return refund_for_buyer(user=request.user, refund_id=refund_id)
    except DomainError as exc:
        not_found_as_404(exc)
        raise


def _chosen_ids(request, refundable_ids: list[int]) -> list[int]:
    if request.method != "POST":
        return refundable_ids
    chosen = []
    for value in request.POST.getlist("items"):
        try:
            chosen.append(int(value))
        except ValueError:
            continue
    return [i for i in refundable_ids if i in chosen]


def _option_rows(result) -> list[dict]:
    amount = Money.parse(result["max_amount"])
    rows = []
    for option in result["options"]:
        fee = amount.rate(option.fee_rate) if option.eligible else Money(0)
        rows.append({
            "code": option.code, "label": reason_label(option.code), "eligible": option.eligible,
            "why": one_language(option.why), "needs_evidence": option.needs_evidence, "automatic": option.automatic,
            "fee_percent": percent(option.fee_rate), "fee": fee, "refund": amount - fee,
            "deadline": option.deadline,
        })
    return rows


def _store_evidence(request, refund, uploads) -> bool:
    try:
        services.evidence_add_many(user=request.user, refund_id=refund.id, uploaded_files=uploads)
    except DomainError as exc:
        not_found_as_404(exc)
        name = (exc.details or {}).get("file") if isinstance(exc.details, dict) else None
        text = refund_error_text(exc)
        messages.error(request, gettext("%(file)s：%(error)s") % {"file": name, "error": text} if name else text)
        return False
    return True


@buyer_required
def refund_apply(request, order_no: str):
    order = _own_order(request, order_no)
    positions = {item.id: item for item in order_items(order)}
    refundable = [positions[i.id] for i in services.refund_options(user=request.user, order_no=order.order_no)["items"]]
    chosen = _chosen_ids(request, [item.id for item in refundable])
    result = services.refund_options(user=request.user, order_no=order.order_no, item_ids=chosen)
    rows = _option_rows(result)
    form = RefundApplyForm(request.POST or None, request.FILES or None, items=refundable)
    status = 200
    if request.method == "POST" and "recalc" not in request.POST:
        if form.is_valid():
            data = form.cleaned_data
            try:
                refund = services.refund_create(
                    buyer=request.user, order_no=order.order_no, reason=data["reason"],
                    description=data["description"], destination=data["destination"], item_ids=data["items"],
                )
            except DomainError as exc:
                not_found_as_404(exc)
                form.add_error(None, refund_error_text(exc))
                status = exc.status
            else:
                messages.success(request, gettext("退款申请已提交：%(no)s") % {"no": refund.refund_no})
                if data.get("file"):
                    if _store_evidence(request, refund, data["file"]):
                        messages.success(request, gettext("证据已上传。"))
                    else:
                        messages.error(request, gettext("申请已提交，但证据未能保存，请在下方重新上传。"))
                elif refund.needs_evidence and refund.evidence_due_at:
                    messages.warning(request, gettext("此原因需要证据：请在 %(due)s 前上传截图或录屏。")
                                     % {"due": for_person(refund.evidence_due_at)})
                return redirect("web:refund", refund_id=refund.id)
        else:
            status = 422
    chosen_reason = form["reason"].value() if form.is_bound else None
    return render(request, "web/refund_apply.html", {
        "order": order, "form": form, "options": rows, "chosen_reason": chosen_reason,
        "amount": Money.parse(result["max_amount"]), "deadline": result["deadline"], "chosen_count": len(chosen),
        "hint": one_language(GOOD_DESCRIPTION_HINT),
        "refundable": refundable,
    }, status=status)


@buyer_required
def refund_list(request):
    refunds = list(request.user.refunds.select_related("order").annotate(by_platform=by_platform()).order_by("-id")[:100])
    for refund in refunds:
        refund.reason_label = reason_label(refund.reason)
        refund.status_label = status_label(refund.status)
    return render(request, "web/refunds.html", {"refunds": refunds})


def _refund_page(request, refund, *, forms=None, status=200):
    refund = reloaded(refund)
    now = clock.now()
    forms = forms or {}
    is_open_for_evidence = refund.status in EVIDENCE_STATUSES
    evidence = evidence_state(refund)
    return render(request, "web/refund.html", {
        "refund": refund,
        "status_label": status_label(refund.status),
        "reason_label": reason_label(refund.reason),
        "reject_label": reject_label(refund.reject_reason_code),
        "items": list(refund.items.select_related("order_item").order_by("order_item__position")),
        "timeline": timeline(refund),
        "by_platform": refund.events.filter(event=PLATFORM_EVENT).exists(),
        "steps": refund_steps(refund),
        "outcome": refund_outcome(refund),
        "messages_list": message_rows(refund),
        "evidence": evidence["files"],
        "awaiting_evidence": evidence["awaiting"],
        "can_remove_evidence": evidence["removable"],
        "can_upload": is_open_for_evidence,
        "can_message": refund.status not in MESSAGE_CLOSED,
        "can_urge": refund.can_be_urged(now),
        "can_appeal": refund.status == "rejected" and refund.appeal_due_at is not None and now <= refund.appeal_due_at,
        "can_withdraw": refund.status in WITHDRAWABLE,
        "awaiting_buyer": refund.status == "awaiting_buyer",
        "evidence_form": forms.get("evidence") or EvidenceForm(),
        "message_form": forms.get("message") or MessageForm(),
        "appeal_form": forms.get("appeal") or AppealForm(),
        "hint": one_language(GOOD_DESCRIPTION_HINT),
    }, status=status)


@buyer_required
def refund_detail(request, refund_id: int):
    return _refund_page(request, _own_refund(request, refund_id))


@require_POST
@buyer_required
def refund_evidence(request, refund_id: int):
    refund = _own_refund(request, refund_id)
    form = EvidenceForm(request.POST, request.FILES)
    if not form.is_valid():
        return _refund_page(request, refund, forms={"evidence": form}, status=422)
    if _store_evidence(request, refund, form.cleaned_data["file"]):
        messages.success(request, gettext("证据已上传。"))
    return redirect("web:refund", refund_id=refund.id)


@require_POST
@buyer_required
def refund_message(request, refund_id: int):
    refund = _own_refund(request, refund_id)
    form = MessageForm(request.POST)
    if not form.is_valid():
        return _refund_page(request, refund, forms={"message": form}, status=422)
    answering = refund.status == "awaiting_buyer"
    _, error = domain_call(request, lambda: services.refund_message(user=request.user, refund_id=refund.id,
                                                                     body=form.cleaned_data["body"]))
    if error is not None:
        return _refund_page(request, refund, forms={"message": form}, status=error.status)
    messages.success(request, gettext("已补充，审核继续。") if answering else gettext("留言已发送。"))
    return redirect("web:refund", refund_id=refund.id)


@require_POST
@buyer_required
def refund_urge(request, refund_id: int):
    refund = _own_refund(request, refund_id)
    _, error = domain_call(request, lambda: services.refund_urge(user=request.user, refund_id=refund.id))
    if error is None:
        messages.success(request, gettext("已催办，申请已升级给高级审核员优先处理。"))
    return redirect("web:refund", refund_id=refund.id)


@require_POST
@buyer_required
def refund_appeal(request, refund_id: int):
    refund = _own_refund(request, refund_id)
    form = AppealForm(request.POST)
    if not form.is_valid():
        return _refund_page(request, refund, forms={"appeal": form}, status=422)
    _, error = domain_call(request, lambda: services.refund_appeal(user=request.user, refund_id=refund.id,
                                                                    description=form.cleaned_data["description"]))
    if error is not None:
        return _refund_page(request, refund, forms={"appeal": form}, status=error.status)
    messages.success(request, gettext("申诉已提交，将由另一位高级审核员作出最终决定。"))
    return redirect("web:refund", refund_id=refund.id)


@require_POST
@buyer_required
def refund_withdraw(request, refund_id: int):
    refund = _own_refund(request, refund_id)
    if refund.status in WITHDRAWABLE and (
            confirm_page := ask_first(request, "refund_withdraw", back=reverse("web:refund", args=[refund.id]))):
        return confirm_page
    _, error = domain_call(request, lambda: services.refund_withdraw(user=request.user, refund_id=refund.id))
    if error is None:
        messages.success(request, gettext("退款申请已撤回。"))
    return redirect("web:refund", refund_id=refund.id)


@never_cache
@buyer_required
def refund_dossier(request, refund_id: int):
    refund = _own_refund(request, refund_id)
    # Streamed: a dossier with large evidence is never held in memory.
    response = StreamingHttpResponse(dossier_stream(refund=refund, sections=dossier_sections(refund)),
                                     content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="kameng-dossier-{refund.refund_no}.zip"'
    return response


@never_cache
@buyer_required
def refund_evidence_file(request, refund_id: int, evidence_id: int, mode: str = "download"):
    refund = _own_refund(request, refund_id)
    return evidence_download(request, refund, evidence_id, back=reverse("web:refund", args=[refund.id]), mode=mode)


@require_POST
@buyer_required
def refund_evidence_remove(request, refund_id: int, evidence_id: int):
    refund = _own_refund(request, refund_id)
    _, error = domain_call(request, lambda: services.evidence_remove(user=request.user, refund_id=refund.id,
                                                                      evidence_id=evidence_id))
    if error is None:
        messages.success(request, gettext("文件已撤下：它仍留在记录中并标注为已撤下，审核员不会把它当作证据。"))
    return redirect(reverse("web:refund", args=[refund.id]) + "#evidence")
