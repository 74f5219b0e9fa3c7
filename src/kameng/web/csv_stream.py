"""CSV downloads that Excel opens in Chinese, streamed row by row.

UTF-8 with a byte-order mark: without it Excel on Windows reads UTF-8 as the local code page and the
labels turn to mojibake. The rows are written as they are read (a generator into StreamingHttpResponse),
so a year of journals never sits in the server's memory. Amounts are yuan with two decimals and times
Beijing time ("2026-11-24 09:05:00"), the way a person types them into a spreadsheet.
"""

import csv
from collections.abc import Iterable
from datetime import datetime

from django.http import StreamingHttpResponse

from kameng.core import clock
from kameng.core.money import Money
from kameng.core.times import in_beijing

BOM = "\ufeff"
BLOCK_CHARS = 64 * 1024


class _Line:
    """A file-like object whose write() hands back the line csv.writer wrote, instead of storing it."""

    def write(self, value: str) -> str:
        return value


def _cell(value) -> str:
    """A cell as text. Text that Excel would run as a formula (=, +, @, or - before a non-number: a supplier's
    name, a note) is kept as text with a leading apostrophe; amounts like "-5.00" stay numbers."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "@", "\t", "\r") or (text[:1] == "-" and not text[1:2].isdigit()):
        return "'" + text
    return text


def yuan(fen: int | None) -> str:
    return "" if fen is None else str(Money(fen))


def beijing(moment: datetime | None) -> str:
    return "" if moment is None else f"{in_beijing(moment):%Y-%m-%d %H:%M:%S}"


def csv_response(name: str, header: list[str], rows: Iterable[list]) -> StreamingHttpResponse:
    """A streamed CSV download named `<name>-<Beijing date and time>.csv` (ASCII, so every browser keeps it)."""
    writer = csv.writer(_Line())

    def lines():
        # Rows go out in blocks of about 64 KB: one socket write a row made a 4,000-line download take seconds.
        block, size = [BOM + writer.writerow([_cell(cell) for cell in header])], 0
        for row in rows:
            line = writer.writerow([_cell(cell) for cell in row])
            block.append(line)
            size += len(line)
            if size >= BLOCK_CHARS:
                yield "".join(block)
                block, size = [], 0
        yield "".join(block)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    stamp = f"{in_beijing(clock.now()):%Y%m%d-%H%M}"
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
