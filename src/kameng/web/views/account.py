"""The buyer's own settings: where the platform's own refunds go (原路退回 or 钱包)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from kameng.accounts.services import refund_destination_set
from kameng.core.errors import DomainError

from ..access import buyer_required
from ..errors import error_text
from ..forms import RefundDestinationForm


@buyer_required
def settings_view(request):
    form = RefundDestinationForm(request.POST or None, initial={"refund_destination": request.user.refund_destination})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                refund_destination_set(user=request.user, destination=form.cleaned_data["refund_destination"])
            except DomainError as exc:
                form.add_error(None, error_text(exc))
                status = exc.status
            else:
                messages.success(request, _("已保存。"))
                return redirect("web:settings")
        else:
            status = 422
    return render(request, "web/settings.html", {"form": form}, status=status)
