"""The buyer's wallet: balance and recharge (paid on the sandbox page)."""

from django.conf import settings
from django.shortcuts import redirect, render

from kameng.core.errors import DomainError
from kameng.ledger.services import Accounts, balance
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
                if settings.KAMENG_SANDBOX:
                    return redirect("web:sandbox_pay", payment_no=payment.payment_no)
                return redirect("web:wallet")
        else:
            status = 422
    return render(request, "web/wallet.html",
                  {"form": form, "balance": balance(Accounts.wallet(request.user.id))}, status=status)
