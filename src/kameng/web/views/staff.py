"""The reviewers' console: the queue by deadline, the case page, and the decisions."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kameng.aftersales import decisions, services
from kameng.aftersales.records import platform_record
from kameng.aftersales.selectors import STAFF_ROLES, evidence_state, refund_for_staff, staff_queue
from kameng.catalog.policies import stored_policy_or_none
from kameng.catalog.selectors import product_get
from kameng.core import clock
from kameng.core.errors import DomainError
from kameng.core.models import reloaded
from kameng.core.money import Money

from ..access import role_required
from ..confirmations import ask_first
from ..errors import not_found_as_404
from ..refund_forms import ApproveForm, RejectForm, RequestInfoForm
from .aftersales_common import (
    domain_call,
    evidence_download,
    message_rows,
    one_language,
    reason_label,
    reject_label,
    status_label,
    timeline,
    with_datetimes,
)
from .shop import _lang

staff_required = role_required(*STAFF_ROLES)

PAGE_SIZE = 50
DECIDABLE = ("submitted", "appealed")
TABS = {
    "open": {"statuses": None, "senior_only": False},
    "awaiting": {"statuses": ["awaiting_buyer"], "senior_only": False},
    "senior": {"statuses": None, "senior_only": True},
}


def _int(value, default: int, low: int, high: int) -> int:
    try:
        return max(low, min(high, int(value)))
    except (TypeError, ValueError):
        return default


@staff_required
def queue(request):
    tab = request.GET.get("queue") if request.GET.get("queue") in TABS else "open"
    limit = _int(request.GET.get("limit"), PAGE_SIZE, 1, 200)
    offset = _int(request.GET.get("offset"), 0, 0, 10**9)
    rows = list(staff_queue(user=request.user, limit=limit + 1, offset=offset, **TABS[tab]))
    has_next = len(rows) > limit
    rows = rows[:limit]
    now = clock.now()
    for refund in rows:
        refund.overdue = refund.is_overdue(now)
        refund.reason_label = reason_label(refund.reason)
        refund.status_label = status_label(refund.status)
    return render(request, "web/staff/queue.html", {
        "rows": rows, "tab": tab, "limit": limit, "offset": offset, "now": now,
        "prev_offset": max(0, offset - limit) if offset else None,
        "next_offset": offset + limit if has_next else None,
    })


def _case(request, refund_id: int):
    try:
        return refund_for_staff(user=request.user, refund_id=refund_id)
    except DomainError as exc:
        not_found_as_404(exc)
        raise


def _product_comparison(order) -> list[dict]:
    """What the product page promised at purchase beside what it says now."""
    snapshot = order.snapshot
    try:
        product = product_get(order.product_id, active_only=False)
    except DomainError:
        product = None
    lang = _lang()
    then_policy = (snapshot.get("refund_policy_text") or {}).get(lang, "")
    now_values = {}
    if product is not None:
        now_values = {
            "name": product.name, "description": product.description, "kind": product.get_kind_display(),
            "price": str(Money(product.price_fen)), "face_value": str(Money(product.face_value_fen)),
            "delivery_promise_minutes": str(product.delivery_promise_minutes),
            "refund_policy": (policy.text(lang) if (policy := stored_policy_or_none(product.refund_policy))
                              else gettext("（当前退款规则无法读取，商品暂停销售）")),
        }
    from kameng.catalog.models import ProductKind

    rows = [
        ("name", gettext("名称"), snapshot.get("name", "")),
        ("description", gettext("描述"), snapshot.get("description", "")),
        ("kind", gettext("类型"), dict(ProductKind.choices).get(snapshot.get("kind"), snapshot.get("kind", ""))),
        ("price", gettext("售价（元）"), snapshot.get("price", "")),
        ("face_value", gettext("面值（元）"), snapshot.get("face_value", "")),
        ("delivery_promise_minutes", gettext("承诺发货时间（分钟）"), str(snapshot.get("delivery_promise_minutes", ""))),
        ("refund_policy", gettext("退款规则"), then_policy),
    ]
    return [{"label": label, "then": then, "now": now_values.get(key, "—"),
             "changed": product is not None and str(then) != str(now_values.get(key, ""))}
            for key, label, then in rows]


def _case_page(request, refund, *, forms=None, status=200):
    refund = reloaded(refund)
    forms = forms or {}
    order = refund.order
    record = with_datetimes(platform_record(order=order))
    evidence = evidence_state(refund)
    now = clock.now()
    return render(request, "web/staff/case.html", {
        "refund": refund, "order": order,
        "status_label": status_label(refund.status), "reason_label": reason_label(refund.reason),
        "reject_label": reject_label(refund.reject_reason_code),
        "overdue": refund.is_overdue(now),
        "items": list(refund.items.select_related("order_item").order_by("order_item__position")),
        "comparison": _product_comparison(order),
        "deliveries": record["deliveries"], "reveals": record["reveals"], "payments": record["payments"],
        "topup": record["topup"], "order_items": record["items"],
        "evidence": evidence["files"], "awaiting_evidence": evidence["awaiting"],
        "timeline": timeline(refund), "messages_list": message_rows(refund),
        "can_request_info": refund.status == "submitted",
        "can_decide": refund.status in DECIDABLE,
        "info_form": forms.get("info") or RequestInfoForm(),
        "approve_form": forms.get("approve") or ApproveForm(),
        "reject_form": forms.get("reject") or RejectForm(),
        "one_language": one_language,
    }, status=status)


@staff_required
def case(request, refund_id: int):
    refund = _case(request, refund_id)
    # The reviewer has the case in front of them: the buyer's uploads are fixed from now on.
    services.refund_opened(user=request.user, refund_id=refund.id)
    return _case_page(request, refund)


def _act(request, refund, key, form, call, done_text, confirm_details=None):
    if not form.is_valid():
        return _case_page(request, refund, forms={key: form}, status=422)
    if confirm_details is not None and (confirm_page := ask_first(
            request, f"staff_{key}", back=reverse("web:staff_case", args=[refund.id]),
            details=confirm_details(form.cleaned_data))):
        return confirm_page  # a decision is final: asked once more, with or without JavaScript
    _, error = domain_call(request, lambda: call(form.cleaned_data))
    if error is not None:
        return _case_page(request, refund, forms={key: form}, status=error.status)
    messages.success(request, done_text)
    return redirect("web:staff_case", refund_id=refund.id)


@require_POST
@staff_required
def request_info(request, refund_id: int):
    refund = _case(request, refund_id)
    return _act(request, refund, "info", RequestInfoForm(request.POST),
                lambda d: decisions.refund_request_info(actor=request.user, refund_id=refund.id, message=d["message"]),
                gettext("已请求买家补充材料，审核期限暂停计时。"))


@require_POST
@staff_required
def approve(request, refund_id: int):
    refund = _case(request, refund_id)

    def call(d):
        amount = str(d["amount"]) if d.get("amount") is not None else None
        fee = str(d["fee"]) if d.get("fee") is not None else None
        return decisions.refund_approve(actor=request.user, refund_id=refund.id, amount=amount, fee=fee, note=d["note"])

    def details(d):
        amount = Money.parse(str(d["amount"])) if d.get("amount") is not None else Money(refund.refund_amount_fen)
        return [(gettext("退款金额"), f"¥{amount}"), (gettext("备注"), d.get("note"))]

    return _act(request, refund, "approve", ApproveForm(request.POST), call, gettext("已同意退款，开始退款。"),
                confirm_details=details)


@require_POST
@staff_required
def reject(request, refund_id: int):
    refund = _case(request, refund_id)
    return _act(request, refund, "reject", RejectForm(request.POST),
                lambda d: decisions.refund_reject(actor=request.user, refund_id=refund.id,
                                                  reason_code=d["reason_code"], note=d["note"]),
                gettext("已驳回，买家将收到通知。"),
                confirm_details=lambda d: [(gettext("驳回理由"), reject_label(d["reason_code"])),
                                           (gettext("向买家说明"), d.get("note"))])


@never_cache
@staff_required
def evidence_file(request, refund_id: int, evidence_id: int, mode: str = "download"):
    refund = _case(request, refund_id)
    return evidence_download(request, refund, evidence_id, back=reverse("web:staff_case", args=[refund.id]), mode=mode)
