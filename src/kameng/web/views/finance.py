"""Finance's pages: the reconciliation runs and the lines that did not match, for a person to act on."""

from django.shortcuts import render
from django.views.decorators.cache import never_cache

from kameng.payments.gateways.registry import CHANNELS
from kameng.payments.reconciliation import REASONS, failure_text
from kameng.payments.selectors import reconciliation_runs

from ..access import role_required

finance_required = role_required("finance", "admin")


@never_cache
@finance_required
def reconciliation(request):
    channel = request.GET.get("channel") if request.GET.get("channel") in CHANNELS else None
    runs = reconciliation_runs(limit=20, channel=channel)
    for run in runs:
        for line in run.shown_lines:
            line.reason_text = REASONS.get(line.reason, line.reason)
        run.hidden_lines = max(0, run.unmatched - len(run.shown_lines))
        run.error_text = failure_text(run.error)
    return render(request, "web/finance/reconciliation.html", {"runs": runs, "channel": channel, "channels": CHANNELS})
