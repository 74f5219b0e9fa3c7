"""The book check: every journal balances, the whole book sums to zero, no money is stranded in escrow."""

from dataclasses import dataclass, field

from django.db.models import Count, Q, Sum

from .models import Journal, LedgerAccount, Posting


@dataclass
class BookReport:
    journals: int = 0
    postings: int = 0
    total_fen: int = 0
    unbalanced: list[tuple[str, int]] = field(default_factory=list)  # (reference, sum)
    empty: list[str] = field(default_factory=list)  # journals with fewer than two postings
    balances: dict[str, int] = field(default_factory=dict)
    stranded: list[tuple[str, int]] = field(default_factory=list)  # (order_no, fen held in escrow)
    drifted: list[tuple[str, int, int]] = field(default_factory=list)  # (account, running balance, sum of postings)

    @property
    def ok(self) -> bool:
        return self.total_fen == 0 and not self.unbalanced and not self.empty and not self.stranded and not self.drifted


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
    for code, total, running in LedgerAccount.objects.annotate(total=Sum("postings__amount_fen")).values_list(
            "code", "total", "running_fen"):
        report.balances[code] = total or 0
        if running is not None and running != (total or 0):
            report.drifted.append((code, running, total or 0))
    report.stranded = stranded_escrow()
    return report


def stranded_escrow() -> list[tuple[str, int]]:
    """Orders whose escrow is wrong: below zero, or above zero with nothing left to deliver.

    Escrow holds a paid order's money until it is delivered (settled to the supplier) or refunded; once
    no item awaits delivery, whatever is still there belongs to no one — a partial refund once left
    9.00 of 10.00 there for good.
    """
    order_model = Journal._meta.get_field("order").related_model
    held = {
        order_id: -total
        for order_id, total in Posting.objects.filter(account__code="escrow", journal__order__isnull=False)
        .values("journal__order_id").annotate(total=Sum("amount_fen")).exclude(total=0)
        .values_list("journal__order_id", "total")
    }
    if not held:
        return []
    awaiting = set(
        order_model.objects.filter(id__in=held)
        .filter(Q(items__status="pending") | Q(items__status="refund_pending", items__delivered_at__isnull=True))
        .values_list("id", flat=True)
    )
    wrong = [order_id for order_id, fen in held.items() if fen < 0 or order_id not in awaiting]
    numbers = dict(order_model.objects.filter(id__in=wrong).values_list("id", "order_no"))
    return sorted((numbers[order_id], held[order_id]) for order_id in wrong)
