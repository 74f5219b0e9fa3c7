"""The per-import report as a CSV download: one row per line that was not stocked, with its reason.

Never the line's content: the supplier has the file; the report says which line numbers to look at.
Streamed (a re-imported million-line file is a million rows, read as a handful of runs).
"""

import csv
import io

from django.utils import translation

from .models import LineProblem
from .selectors import report_lines


def report_filename(batch) -> str:
    return f"import-{batch.id}-report.csv"


def report_csv(batch, *, language: str = "zh-hans"):
    """Bytes of the CSV, row by row (with a BOM, so spreadsheet programs read it as UTF-8).

    Columns: the line number and the reason in words (a program reads the codes from the API's report).
    """
    with translation.override(language):
        labels = {code: str(label) for code, label in LineProblem.choices}
        header = [str(translation.gettext("行号")), str(translation.gettext("原因"))]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    yield "\ufeff".encode("utf-8") + _drain(out)
    rows = 0
    for line, problem in report_lines(batch):
        writer.writerow([line, labels.get(problem, problem)])
        rows += 1
        if rows % 1000 == 0:  # a thousand rows per chunk sent: not a write call per line
            yield _drain(out)
    yield _drain(out)


def _drain(out: io.StringIO) -> bytes:
    data = out.getvalue()
    out.seek(0)
    out.truncate()
    return data.encode("utf-8")
