"""Finance's console (财务台): the book check, balances by account kind, journals, refunds paid per day.

Thin: the figures come from kameng.ledger (selectors, console) and kameng.aftersales.payout_totals; the
rows a person reads come from web/finance_rows, which the CSV downloads (finance_csv) share. Role finance
only: these pages show every account's money.
"""

from urllib.parse import urlencode

from django.shortcuts import render
from django.views.decorators.cache import never_cache

from kameng.aftersales.payout_totals import refunds_paid_per_day
from kameng.ledger import console
from kameng.ledger.models import LedgerAccount, Withdrawal, WithdrawalStatus
from kameng.ledger.selectors import book_check
from kameng.payments.models import ReconciliationRun

from ..access import role_required
from ..finance_rows import JournalSearchForm, RefundsPaidForm, journal_row, reference_text
from ..labels import account_family_label, account_label, label

finance_only = role_required("finance")


@never_cache
@finance_only
def home(request):
    latest = ReconciliationRun.objects.order_by("-started_at", "-id").first()
    return render(request, "web/finance/home.html", {
        "waiting": Withdrawal.objects.filter(status=WithdrawalStatus.REQUESTED).count(),
        "latest_run": latest,
    })


@never_cache
@finance_only
def book(request):
    report = book_check()
    drifted_accounts = {a.code: a for a in LedgerAccount.objects.filter(
        code__in=[code for code, _running, _total in report.drifted]).select_related("owner")}
    return render(request, "web/finance/book.html", {
        "report": report,
        "unbalanced": [(reference_text(reference), fen) for reference, fen in report.unbalanced],
        "empty": [reference_text(reference) for reference in report.empty],
        # A wallet is a liability: what the buyer holds is the credit, shown as a positive figure.
        "drifted": [(account_label(drifted_accounts[code]), -running, -total)
                    for code, running, total in report.drifted],
    })


def balance_rows():
    """(kind label, kind total fen, [(family label, accounts, fen)]) for the page and the CSV."""
    for kind in console.balances_by_kind():
        yield (label("account_kind", kind.kind), kind.fen,
               [(account_family_label(f.family), f.accounts, f.fen) for f in kind.families])


@never_cache
@finance_only
def balances(request):
    return render(request, "web/finance/balances.html", {"kinds": list(balance_rows())})


def _before(request) -> int | None:
    text = request.GET.get("before", "")
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None


@never_cache
@finance_only
def journals(request):
    form = JournalSearchForm(request.GET or None)
    if request.GET and not form.is_valid():
        # Nothing is read on a search finance cannot mean: the form says what is wrong.
        return render(request, "web/finance/journals.html", {"form": form, "rows": []}, status=400)
    criteria = form.criteria() if request.GET else console.JournalFilter()
    before = _before(request)
    rows, next_before = console.journals_page(criteria, before=before)
    return render(request, "web/finance/journals.html", {
        "form": form if request.GET else JournalSearchForm(), "rows": [journal_row(j) for j in rows],
        "next_before": next_before, "first_page": before is None, "query": criteria.as_query(),
        "query_string": urlencode(criteria.as_query()),
        "next_query": urlencode({**criteria.as_query(), "before": next_before}),
    })


@never_cache
@finance_only
def refunds_paid(request):
    form = RefundsPaidForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return render(request, "web/finance/refunds_paid.html", {"form": form, "days": []}, status=400)
    start, end = form.window()
    channel = (form.cleaned_data.get("channel") if form.is_bound else "") or None
    days = refunds_paid_per_day(day_from=start, day_to=end, channel=channel)
    totals: dict[str, list[int]] = {}
    for day in days:
        count_fen = totals.setdefault(day.channel, [0, 0])
        count_fen[0] += day.count
        count_fen[1] += day.fen
    return render(request, "web/finance/refunds_paid.html", {
        "form": form, "days": days, "start": start, "end": end, "channel": channel or "",
        "totals": sorted(totals.items()),
    })
