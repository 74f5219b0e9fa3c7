"""Finance's reads of the book: balances by account kind, and the journals searched and paged.

Reads only; the book check itself is `selectors.book_check` (what `kameng check-ledger` prints).
Every figure is summed in the database: a platform with a million wallets groups them by account family
in one query instead of reading a million balances into memory.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Case, CharField, Count, Exists, F, OuterRef, Q, Sum, Value, When
from django.db.models.functions import Left, StrIndex

from kameng.core.times import BEIJING

from .models import AccountKind, Journal, LedgerAccount, Posting
from .services import CREDIT_NORMAL

JOURNALS_PAGE = 50
MANY_ACCOUNTS = 100  # above this, an account filter is a subquery rather than a list of ids
KIND_ORDER = [AccountKind.ASSET, AccountKind.LIABILITY, AccountKind.INCOME, AccountKind.EXPENSE]


def family(code: str) -> str:
    """"wallet:12" → "wallet"; "escrow" → "escrow"; a clearing account stays whole (one per channel)."""
    return code if code.startswith("clearing:") else code.split(":", 1)[0]


def normal_fen(kind: str, debit_sum: int) -> int:
    """A sum of postings in the account's normal direction: what we owe on a liability, hold on an asset."""
    return -debit_sum if kind in CREDIT_NORMAL else debit_sum


@dataclass
class FamilyBalance:
    family: str  # "wallet", "escrow", "clearing:alipay"
    accounts: int
    fen: int  # in the kind's normal direction


@dataclass
class KindBalance:
    kind: str
    fen: int = 0
    families: list[FamilyBalance] = field(default_factory=list)


def _family_of(path: str):
    """`family()` in SQL, on the account code at `path` (the same on SQLite and PostgreSQL)."""
    code = F(path)
    return Case(
        When(**{f"{path}__startswith": "clearing:"}, then=code),
        When(**{f"{path}__contains": ":"}, then=Left(code, StrIndex(code, Value(":")) - 1)),
        default=code, output_field=CharField(),
    )


def balances_by_kind() -> list[KindBalance]:
    """Asset, liability, income and expense totals, each split by account family (one grouped query)."""
    rows = (Posting.objects.annotate(family=_family_of("account__code")).values("account__kind", "family")
            .annotate(total=Sum("amount_fen")).order_by())
    accounts = _accounts_per_family()
    kinds = {kind: KindBalance(kind=str(kind)) for kind in KIND_ORDER}
    for row in rows:
        kind = kinds.setdefault(row["account__kind"], KindBalance(kind=row["account__kind"]))
        fen = normal_fen(kind.kind, row["total"] or 0)
        kind.fen += fen
        kind.families.append(FamilyBalance(family=row["family"], accounts=accounts.get(row["family"], 0), fen=fen))
    for kind in kinds.values():
        kind.families.sort(key=lambda f: f.family)
    return list(kinds.values())


def _accounts_per_family() -> dict[str, int]:
    rows = LedgerAccount.objects.annotate(family=_family_of("code")).values("family").annotate(n=Count("id")).order_by()
    return {row["family"]: row["n"] for row in rows}


@dataclass(frozen=True)
class JournalFilter:
    """What finance searches by. Days are Beijing calendar days, both ends included."""

    order_no: str = ""
    refund_no: str = ""
    family: str = ""  # an account family ("escrow", "wallet", "clearing:alipay"): all of its accounts
    username: str = ""  # the accounts a user owns (a buyer's wallet, a supplier's three)
    day_from: date | None = None
    day_to: date | None = None

    def as_query(self) -> dict:
        """The filter as URL parameters (for the pager and the CSV link): only what is set."""
        values = {"order_no": self.order_no, "refund_no": self.refund_no, "family": self.family,
                  "username": self.username,
                  "day_from": self.day_from.isoformat() if self.day_from else "",
                  "day_to": self.day_to.isoformat() if self.day_to else ""}
        return {k: v for k, v in values.items() if v}


def beijing_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=BEIJING)


def _matching(criteria: JournalFilter):
    journals = Journal.objects.all()
    if criteria.order_no:
        journals = journals.filter(order__order_no=criteria.order_no)
    if criteria.refund_no:
        # A refund's money moves in the journal named after it (aftersales.payouts: "refund:<refund_no>").
        journals = journals.filter(reference=f"refund:{criteria.refund_no}")
    if criteria.family or criteria.username:
        accounts = LedgerAccount.objects.all()
        if criteria.family:
            accounts = accounts.filter(Q(code=criteria.family) | Q(code__startswith=criteria.family + ":"))
        if criteria.username:
            accounts = accounts.filter(owner__username=criteria.username)
        # The accounts' ids first, as literals: told "account 1", PostgreSQL knows escrow is in one journal of
        # five and walks the journals newest first, stopping at a page; told "the accounts named escrow" it
        # guessed a few hundred postings and hashed all 200,000 of them before sorting (4.6 s a page at a million
        # journals). A family of many accounts (every wallet) stays a subquery.
        ids = list(accounts.values_list("id", flat=True)[: MANY_ACCOUNTS + 1])
        chosen = ids if len(ids) <= MANY_ACCOUNTS else accounts.values("id")
        journals = journals.filter(Exists(Posting.objects.filter(journal_id=OuterRef("id"), account_id__in=chosen)))
    if criteria.day_from:
        journals = journals.filter(at__gte=beijing_midnight(criteria.day_from))
    if criteria.day_to:
        journals = journals.filter(at__lt=beijing_midnight(criteria.day_to + timedelta(days=1)))
    return journals


def _with_postings(journals):
    return journals.select_related("order").prefetch_related("postings__account__owner")


def journals_page(criteria: JournalFilter, *, before: int | None = None,
                  limit: int = JOURNALS_PAGE) -> tuple[list[Journal], int | None]:
    """A page of matching journals, newest first, older than journal `before`; and the next page's `before`.

    Keyset paging on the id: page 1,000 costs what page 1 costs, and a journal posted while finance reads
    never shifts a line onto two pages.
    """
    journals = _matching(criteria)
    if before is not None:
        journals = journals.filter(id__lt=before)
    rows = list(_with_postings(journals.order_by("-id"))[: limit + 1])
    more, rows = len(rows) > limit, rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


@dataclass(frozen=True)
class PostingLine:
    """One posting with what its journal and account say, as plain values (the CSV reads millions of these)."""

    journal_id: int
    at: datetime
    kind: str
    reference: str
    order_no: str | None
    account_code: str
    owner: str | None  # the account owner's user name
    fen: int


def posting_lines(criteria: JournalFilter, *, chunk: int = 2000):
    """Every posting of the matching journals, oldest journal first, as plain values streamed from one query.

    One query read through a server-side cursor (PostgreSQL; SQLite fetches in chunks): the rows arrive as
    they are sent and never sit in memory together. Model instances and prefetching cost a millisecond a
    journal, and paging by journal id re-planned the search for every page (five minutes for 400,000 lines).
    """
    fields = ("journal_id", "journal__at", "journal__kind", "journal__reference", "journal__order__order_no",
              "account__code", "account__owner__username", "amount_fen")
    rows = (Posting.objects.filter(journal_id__in=_matching(criteria).values("id"))
            .order_by("journal_id", "-amount_fen", "id").values_list(*fields))
    for row in rows.iterator(chunk_size=chunk):
        yield PostingLine(*row)
