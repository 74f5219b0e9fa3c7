"""The buyer's wallet: balance and recharge (paid at the gateway, or on the sandbox page)."""

from django.shortcuts import redirect, render

from kameng.core.errors import DomainError
from kameng.ledger.services import Accounts, balance
from kameng.payments.gateways.registry import served_by_sandbox
from kameng.payments.services import recharge_create

from ..access import buyer_required
from ..errors import error_text
from ..forms import RechargeForm


@buyer_required
def wallet(request):
    form = RechargeForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                payment = recharge_create(user=request.user, amount=str(form.cleaned_data["amount"]),
                                          channel=form.cleaned_data["channel"])
            except DomainError as exc:
                form.add_error(None, error_text(exc))
                status = exc.status
            else:
                page = "web:sandbox_pay" if served_by_sandbox(payment.channel) else "web:pay"
                return redirect(page, payment_no=payment.payment_no)
        else:
            status = 422
    return render(request, "web/wallet.html",
                  {"form": form, "balance": balance(Accounts.wallet(request.user.id)),
                   "refund_destination": request.user.get_refund_destination_display()}, status=status)
