"""The book check: every journal balances, the whole book sums to zero."""

from dataclasses import dataclass, field

from django.db.models import Count, Sum

from .models import Journal, LedgerAccount, Posting


@dataclass
class BookReport:
    journals: int = 0
    postings: int = 0
    total_fen: int = 0
    unbalanced: list[tuple[str, int]] = field(default_factory=list)  # (reference, sum)
    empty: list[str] = field(default_factory=list)  # journals with fewer than two postings
    balances: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.total_fen == 0 and not self.unbalanced and not self.empty


def book_check() -> BookReport:
    report = BookReport()
    report.journals = Journal.objects.count()
    report.postings = Posting.objects.count()
    report.total_fen = Posting.objects.aggregate(total=Sum("amount_fen"))["total"] or 0
    for row in (
        Journal.objects.annotate(total=Sum("postings__amount_fen"), lines=Count("postings"))
        .exclude(total=0, lines__gte=2)
        .values("reference", "total", "lines")
    ):
        if (row["lines"] or 0) < 2:
            report.empty.append(row["reference"])
        else:
            report.unbalanced.append((row["reference"], row["total"]))
    for code, total in LedgerAccount.objects.annotate(total=Sum("postings__amount_fen")).values_list("code", "total"):
        report.balances[code] = total or 0
    return report
