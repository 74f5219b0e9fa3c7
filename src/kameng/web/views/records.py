"""The buyer's own records (wallet history, export) and the public refund figures. Thin: selectors decide."""

from django.shortcuts import render
from django.views.decorators.http import require_POST

from kameng.aftersales.transparency import WINDOW_DAYS, reason_label, transparency_report
from kameng.core.client_ip import client_ip
from kameng.ledger.history import wallet_history as history
from kameng.ledger.services import Accounts, balance
from kameng.records.responses import export_response
from kameng.records.services import export_open

from ..access import buyer_required


def _percent(share: str | None) -> int | None:
    return None if share is None else round(float(share) * 100)


def _row(name: str, figures, biggest: int) -> dict:
    data = figures.as_dict()
    return {
        "name": name, **data,
        "approved_pct": _percent(data["approved_share"]),
        "within_pct": _percent(data["within_deadline_share"]),
        "automatic_pct": _percent(data["automatic_share"]),
        "upheld_pct": _percent(data["appeals_upheld_share"]),
        "submitted_pct": round(100 * figures.submitted / biggest) if biggest else 0,
    }


def transparency(request):
    """Public: the last 30 days of refund handling, with bars drawn in CSS (no script, no outside files)."""
    report = transparency_report()
    biggest = max([f.submitted for f in (*report.by_reason.values(), *report.by_supplier.values())] or [0])
    context = {
        "report": report, "days": WINDOW_DAYS, "overall": _row("", report.overall, report.overall.submitted),
        "reasons": [_row(reason_label(code), figures, biggest) for code, figures in report.by_reason.items()],
        "suppliers": [_row(report.supplier_names[sid], figures, biggest) for sid, figures in report.by_supplier.items()],
    }
    return render(request, "web/transparency.html", context)


@buyer_required
def wallet_history(request):
    before = request.GET.get("before")
    before = int(before) if before and before.isdigit() else None
    lines, next_before = history(user=request.user, before=before)
    return render(request, "web/wallet_history.html", {
        "lines": lines, "next_before": next_before, "first_page": before is None,
        "balance": balance(Accounts.wallet(request.user.id)),
    })


@require_POST
@buyer_required
def export(request):
    """The same signed ZIP as GET /api/v1/me/export (a POST from a button: it records reveals)."""
    export_row, stream = export_open(user=request.user, ip_address=client_ip(request),
                                     user_agent=request.headers.get("User-Agent", ""))
    return export_response(export_row, stream)
