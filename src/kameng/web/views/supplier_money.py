"""The supplier's money page (balance, 流水, withdrawals) and finance's withdrawals to approve.

Thin: kameng.ledger.supplier_money decides; the pages show its figures and pass the forms on.
"""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from kameng.core.errors import DomainError
from kameng.ledger import supplier_money as money
from kameng.ledger import supplier_terms as terms
from kameng.ledger.models import WithdrawalStatus

from ..access import role_required, supplier_required
from ..confirmations import ask_first
from ..errors import error_text

finance_required = role_required("finance", "admin")


@never_cache
@supplier_required
def supplier_money(request):
    if request.method == "POST":
        amount = request.POST.get("amount", "").strip()
        if confirm_page := ask_first(request, "withdrawal_request", back=reverse("web:supplier_money"),
                                     details=[(gettext("提现金额（元）"), amount)]):
            return confirm_page
        try:
            row = money.withdrawal_request(supplier=request.user, amount=amount)
        except DomainError as exc:
            messages.error(request, error_text(exc))
        else:
            messages.success(request, gettext("已申请提现 ¥%(amount)s，等待财务审核。") % {"amount": row.amount})
        return redirect("web:supplier_money")
    return render(request, "web/supplier/money.html", {
        "figures": money.supplier_balance(request.user),
        "lines": money.supplier_statement(request.user),
        "withdrawals": money.withdrawals_of(request.user),
        "commission_percent": terms.rate_percent(terms.commission_rate_of(request.user.id)),
    })


@never_cache
@finance_required
def finance_withdrawals(request):
    status = request.GET.get("status")
    status = status if status in WithdrawalStatus.values else None
    rows = money.withdrawals_for_finance(actor=request.user, status=status)
    return render(request, "web/finance/withdrawals.html", {
        "rows": rows, "status": status, "statuses": WithdrawalStatus.choices})


@require_POST
@finance_required
def finance_withdrawal_decide(request, withdrawal_id: int):
    rejecting = request.POST.get("action") == "reject"
    if confirm_page := ask_first(request, "withdrawal_reject" if rejecting else "withdrawal_approve",
                                 back=reverse("web:finance_withdrawals"),
                                 details=[(gettext("驳回原因"), request.POST.get("note", "").strip())] if rejecting else []):
        return confirm_page
    try:
        if rejecting:
            money.withdrawal_reject(actor=request.user, withdrawal_id=withdrawal_id, note=request.POST.get("note", ""))
            messages.success(request, gettext("已驳回，金额退回供货商可提现余额。"))
        else:
            money.withdrawal_approve(actor=request.user, withdrawal_id=withdrawal_id)
            messages.success(request, gettext("已确认打款。"))
    except DomainError as exc:
        messages.error(request, error_text(exc))
    return redirect("web:finance_withdrawals")
