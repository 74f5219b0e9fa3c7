"""Finance's CSV downloads: one for each page of the console, streamed, in the words the pages use.

Each takes the page's own filters, so what finance sees is what it downloads. The rows are generators
read in chunks (kameng.ledger.console.posting_lines): the server never holds a whole export.
"""

from django.shortcuts import render
from django.utils.translation import gettext as _

from kameng.aftersales.payout_totals import refunds_paid_per_day
from kameng.ledger import console
from kameng.ledger.models import LedgerAccount, Withdrawal, WithdrawalStatus
from kameng.ledger.selectors import book_check
from kameng.payments.gateways.registry import CHANNELS
from kameng.payments.models import ReconciliationLine, ReconciliationRun
from kameng.payments.reconciliation import REASONS, failure_text

from ..csv_stream import beijing, csv_response, yuan
from ..finance_rows import (
    JOURNAL_CSV_HEADER,
    JournalSearchForm,
    RefundsPaidForm,
    journal_csv_rows,
    reference_text,
)
from ..labels import account_label, label
from .finance_console import balance_rows, finance_only


@finance_only
def book_csv(request):
    report = book_check()

    def rows():
        yield [_("凭证数"), report.journals, "", ""]
        yield [_("分录数"), report.postings, "", ""]
        yield [_("全账借贷合计（元）"), "", yuan(report.total_fen), _("应为 0.00")]
        for reference, fen in report.unbalanced:
            yield [_("借贷不平的凭证"), reference_text(reference), yuan(fen), _("该凭证各分录之和不为零")]
        for reference in report.empty:
            yield [_("不完整的凭证"), reference_text(reference), "", _("分录少于两条")]
        for order_no, fen in report.stranded:
            yield [_("滞留在托管的资金"), order_no, yuan(fen), _("订单已无待发货商品，托管中仍有余额")]
        for code, running, total in report.drifted:
            yield [_("钱包余额与分录不符"), _drifted_label(code), yuan(-running),
                   _("分录合计 %(yuan)s 元") % {"yuan": yuan(-total)}]
        yield [_("结论"), _("账目平衡") if report.ok else _("账目不平衡"), "", ""]

    return csv_response("book-check", [_("检查项"), _("对象"), _("金额（元）"), _("说明")], rows())


def _drifted_label(code: str) -> str:
    found = LedgerAccount.objects.filter(code=code).select_related("owner").first()
    return account_label(found) if found else code


@finance_only
def balances_csv(request):
    def rows():
        for kind, kind_fen, families in balance_rows():
            for family, accounts, fen in families:
                yield [kind, family, accounts, yuan(fen)]
            yield [kind, _("合计"), "", yuan(kind_fen)]

    return csv_response("balances", [_("类别"), _("账户"), _("账户数"), _("余额（元）")], rows())


@finance_only
def journals_csv(request):
    form = JournalSearchForm(request.GET)
    if not form.is_valid():
        return render(request, "web/finance/journals.html", {"form": form, "rows": []}, status=400)
    return csv_response("journals", JOURNAL_CSV_HEADER, journal_csv_rows(console.posting_lines(form.criteria())))


@finance_only
def refunds_paid_csv(request):
    form = RefundsPaidForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return render(request, "web/finance/refunds_paid.html", {"form": form, "days": []}, status=400)
    start, end = form.window()
    channel = (form.cleaned_data.get("channel") if form.is_bound else "") or None

    def rows():
        for day in refunds_paid_per_day(day_from=start, day_to=end, channel=channel):
            yield [day.day.isoformat(), label("channel", day.channel), day.count, yuan(day.fen)]

    return csv_response("refunds-paid", [_("日期（北京时间）"), _("渠道"), _("笔数"), _("金额（元）")], rows())


@finance_only
def withdrawals_csv(request):
    status = request.GET.get("status")
    withdrawals = Withdrawal.objects.select_related("supplier", "decided_by").order_by("-id")
    if status in WithdrawalStatus.values:
        withdrawals = withdrawals.filter(status=status)

    def rows():
        for w in withdrawals.iterator(chunk_size=500):
            yield [w.id, w.supplier.username, yuan(w.amount_fen), w.get_status_display(), beijing(w.requested_at),
                   beijing(w.decided_at), w.decided_by.username if w.decided_by_id else "", w.note]

    header = [_("提现编号"), _("供货商"), _("金额（元）"), _("状态"), _("申请时间（北京时间）"), _("处理时间（北京时间）"),
              _("处理人"), _("说明")]
    return csv_response("withdrawals", header, rows())


@finance_only
def reconciliation_csv(request):
    """One line per unmatched statement line, and one per run that matched everything or read no statement."""
    channel = request.GET.get("channel") if request.GET.get("channel") in CHANNELS else None
    runs = ReconciliationRun.objects.order_by("-started_at", "-id")
    if channel:
        runs = runs.filter(channel=channel)

    def rows():
        for run in runs.iterator(chunk_size=200):
            head = [run.day.isoformat(), label("channel", run.channel), run.get_status_display(),
                    run.get_source_display(), beijing(run.started_at), run.statement_lines, run.matched]
            lines = ReconciliationLine.objects.filter(run=run).order_by("id")
            empty = True
            for line in lines.iterator(chunk_size=500):
                empty = False
                yield [*head, line.get_category_display(), line.get_kind_display(),
                       REASONS.get(line.reason, _("其他差异")), line.our_no, line.their_no, line.order_no,
                       yuan(line.statement_amount_fen), yuan(line.our_amount_fen), beijing(line.at),
                       line.get_repair_display() if line.repair else _("待人工处理")]
            if empty:
                yield [*head, "", "", failure_text(run.error) if run.error else "", "", "", "", "", "", "", ""]

    header = [_("账单日期"), _("渠道"), _("结果"), _("账单来源"), _("核对时间（北京时间）"), _("账单笔数"), _("相符笔数"),
              _("差异"), _("类型"), _("原因"), _("平台单号"), _("网关单号"), _("订单号"), _("账单金额（元）"),
              _("平台金额（元）"), _("完成时间（北京时间）"), _("处理")]
    return csv_response("reconciliation", header, rows())
