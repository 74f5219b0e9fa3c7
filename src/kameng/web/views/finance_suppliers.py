"""Finance's 供货商 pages: each supplier's commission rate and deposit (保证金), and the forms to change them.

Thin: kameng.ledger.supplier_terms decides (who may, the rate's range, the amount) and records, exactly as
for the API. A deposit is irreversible money movement: it is confirmed first (web/confirmations.py), and
it goes through kameng.core.idempotency with a key the form carries, so a double submit (two clicks, a
confirmation page sent twice) records one deposit, as the API's Idempotency-Key does. Role finance only.
"""

import secrets
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache

from kameng.accounts.models import Role, User
from kameng.core.errors import DomainError
from kameng.core.idempotency import run_idempotent
from kameng.core.times import for_person
from kameng.ledger import supplier_terms as terms
from kameng.ledger.models import CommissionRateChange
from kameng.ledger.services import Accounts, balance

from ..access import role_required
from ..confirmations import ask_first
from ..errors import error_text

finance_only = role_required("finance")

PER_PAGE = 50  # three small reads per supplier: a page stays quick however many suppliers there are
HISTORY = 50  # the rate's latest changes shown

# The field each service error belongs to, and what the person reads there (the code's general text is
# about refunds; these say what to type on this form).
FIELD_ERRORS = {
    "INVALID_RATE": ("rate", _("请输入 0 到 50 之间的百分比，最多两位小数，例如 5 或 5.25。")),
    "INVALID_AMOUNT": ("amount", _("请输入大于 0、不超过 1 亿的金额（元），最多两位小数，例如 5000 或 5000.00。")),
    # A deposit form sent again with another amount, or a tampered key: nothing is recorded, fill it in again.
    "IDEMPOTENCY_KEY_REUSED": ("form", _("这张表单已经记录过一笔保证金，没有再次记录。请核对保证金余额后重新填写。")),
    "INVALID_IDEMPOTENCY_KEY": ("form", _("表单已失效，没有记录任何保证金，请重新填写。")),
}


def _percent_as_rate(text: str) -> str:
    """The form asks for a percent ("5.25", as the pages show rates); the service takes a rate ("0.0525").
    Text that is not a number goes to the service as it is, so the service's INVALID_RATE says so."""
    try:
        percent = Decimal(text)
    except InvalidOperation:
        return text
    # "1e999999" would be written out digit by digit: far outside the range, the service refuses it as it is.
    return format(percent / 100, "f") if percent.is_finite() and abs(percent.adjusted()) < 6 else text


def _row(supplier: User) -> dict:
    return {"supplier": supplier, "rate": terms.rate_percent(terms.commission_rate_of(supplier.id)),
            "deposit": terms.deposit_of(supplier.id), "available": balance(Accounts.available(supplier.id))}


@never_cache
@finance_only
def suppliers(request):
    page = Paginator(User.objects.filter(role=Role.SUPPLIER).order_by("id"), PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "web/finance/suppliers.html", {
        "page": page, "rows": [_row(s) for s in page.object_list], "default_rate": terms.rate_percent(terms.default_rate())})


def _supplier_or_404(request, supplier_id: int) -> User:
    try:
        return terms.terms_visible(actor=request.user, supplier_id=supplier_id)
    except DomainError as exc:
        raise Http404(exc.message) from exc


def _page(request, supplier: User, *, errors=None, values=None, status=200):
    changes = CommissionRateChange.objects.filter(supplier=supplier).select_related("by").order_by("-id")[:HISTORY]
    return render(request, "web/finance/supplier.html", {
        "row": _row(supplier), "changes": [
            {"at": for_person(c.at), "by": c.by.username, "note": c.note, "previous": terms.rate_percent(c.previous_rate),
             "rate": terms.rate_percent(c.commission_rate)} for c in changes],
        "errors": errors or {}, "values": values or {},
        # A fresh key per form shown: resending this form (or its confirmation) replays the first answer.
        "deposit_key": (values or {}).get("key") or secrets.token_urlsafe(16),
    }, status=status)


def _field_error(exc: DomainError) -> dict:
    field, text = FIELD_ERRORS.get(exc.code, ("form", None))
    return {field: str(text) if text else error_text(exc)}


@never_cache
@finance_only
def supplier(request, supplier_id: int):
    supplier = _supplier_or_404(request, supplier_id)
    if request.method != "POST":
        return _page(request, supplier)
    here = reverse("web:finance_supplier", args=[supplier.id])
    if request.POST.get("action") == "rate":
        rate, note = request.POST.get("rate", "").strip(), request.POST.get("note", "").strip()
        try:
            saved = terms.commission_rate_set(actor=request.user, supplier_id=supplier.id,
                                              rate=_percent_as_rate(rate), note=note)
        except DomainError as exc:
            return _page(request, supplier, errors=_field_error(exc), values={"rate": rate, "rate_note": note},
                         status=400)
        messages.success(request, gettext("已将佣金比例改为 %(rate)s%%，只对此后的新订单生效。") % {
            "rate": terms.rate_percent(saved.commission_rate)})
        return redirect(here)
    return _deposit(request, supplier, here)


def _deposit(request, supplier: User, here: str):
    amount, note = request.POST.get("amount", "").strip(), request.POST.get("note", "").strip()
    key = request.POST.get("key", "")
    values = {"amount": amount, "deposit_note": note, "key": key}
    try:
        money = terms.parse_deposit_amount(amount)
    except DomainError as exc:  # the error at its field first, never a confirmation of nothing
        return _page(request, supplier, errors=_field_error(exc), values=values, status=400)
    if confirm_page := ask_first(request, "deposit_lodge", back=here, details=[
            (gettext("供货商"), supplier.username), (gettext("保证金金额（元）"), str(money)), (gettext("备注"), note)]):
        return confirm_page

    def work():
        journal = terms.deposit_lodge(actor=request.user, supplier_id=supplier.id, amount=amount, note=note)
        return 201, {"journal_id": journal.id}

    try:
        run_idempotent(user=request.user, key=key or None, endpoint=f"web deposit {supplier.id}",
                       body={"amount": amount, "note": note}, work=work)
    except DomainError as exc:
        return _page(request, supplier, errors=_field_error(exc), values={**values, "key": ""}, status=400)
    messages.success(request, gettext("已记录保证金 ¥%(amount)s。") % {"amount": money})
    return redirect(here)
