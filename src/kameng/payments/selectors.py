"""Reads of the payments domain: reconciliation runs and their unmatched lines, for finance."""

from django.db.models import Prefetch

from kameng.core.money import fen_str

from .models import ReconciliationLine, ReconciliationRun
from .reconciliation import REASONS, failure_text

LINES_PER_RUN = 200  # a run with more differences than this is a wrong statement: the first ones tell


def channel_label(channel: str) -> str:
    """The channel's name as the catalogue shows it to people (支付宝, 微信支付, ...)."""
    from kameng.orders.models import Channel

    return str(dict(Channel.choices).get(channel, channel))


def reconciliation_runs(*, limit: int = 20, channel: str | None = None) -> list[ReconciliationRun]:
    """The latest runs, newest first, each with its first unmatched lines (`run.shown_lines`)."""
    runs = ReconciliationRun.objects.order_by("-started_at", "-id")
    if channel:
        runs = runs.filter(channel=channel)
    # A sliced prefetch limits each run's lines (a window function per run), in one query for all runs.
    lines = Prefetch("lines", queryset=ReconciliationLine.objects.order_by("id")[:LINES_PER_RUN], to_attr="shown_lines")
    return list(runs.prefetch_related(lines)[:limit])


def line_out(line: ReconciliationLine) -> dict:
    return {
        "kind": line.kind,
        "category": line.category,
        "our_no": line.our_no,
        "their_no": line.their_no,
        "order_no": line.order_no or None,
        "statement_amount": fen_str(line.statement_amount_fen) if line.statement_amount_fen is not None else None,
        "our_amount": fen_str(line.our_amount_fen) if line.our_amount_fen is not None else None,
        "at": line.at.isoformat() if line.at else None,
        "reason": line.reason,
        "reason_text": REASONS.get(line.reason, line.reason),
        "repair": line.repair or None,
    }


def run_out(run: ReconciliationRun) -> dict:
    lines = getattr(run, "shown_lines", None)
    if lines is None:
        lines = list(run.lines.all()[:LINES_PER_RUN])
    return {
        "id": run.id,
        "channel": run.channel,
        "channel_name": channel_label(run.channel),
        "date": run.day.isoformat(),
        "source": run.source,
        "file_name": run.file_name or None,
        "status": run.status,
        "error": run.error or None,
        "error_text": failure_text(run.error) or None,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "statement_lines": run.statement_lines,
        "counts": {"matched": run.matched, "missing_here": run.missing_here, "missing_there": run.missing_there,
                   "amount_differs": run.amount_differs, "repaired": run.repaired},
        "unmatched": [line_out(line) for line in lines],
    }


CATEGORY_WORDS = {"missing_here": "MISSING HERE", "missing_there": "MISSING THERE", "amount_differs": "AMOUNT DIFFERS"}


def reconciliation_report_lines(run: ReconciliationRun) -> list[str]:
    """The unmatched lines as text for the command line: numbers, amounts and reasons, nothing secret."""
    out = []
    for line in run.lines.all():
        amounts = []
        if line.statement_amount_fen is not None:
            amounts.append(f"statement {fen_str(line.statement_amount_fen)}")
        if line.our_amount_fen is not None:
            amounts.append(f"ours {fen_str(line.our_amount_fen)}")
        done = f"  REPAIRED: {line.repair}" if line.repair else ""
        order = f" order {line.order_no}" if line.order_no else ""
        out.append(f"{CATEGORY_WORDS[line.category]:<15} {line.kind:<8} {line.our_no or '-'} "
                   f"(gateway {line.their_no or '-'}){order}  {', '.join(amounts)}  {line.reason}{done}")
    return out

