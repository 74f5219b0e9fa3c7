"""A buyer's wallet history (钱包流水), read from the book itself: every posting on the wallet account.

There is no second record to drift from the ledger: a line is a posting, its time and kind are its
journal's, its order is the journal's order and its refund the one the journal's reference names.
The balance after each line is the running sum, computed once per page (one aggregate up to the page's
newest line, then subtracted line by line), so it costs one query whatever the history's length.
"""

from dataclasses import dataclass

from django.db.models import Sum
from django.utils.translation import gettext_lazy as _

from kameng.core.money import Money

from .models import LedgerAccount, Posting
from .services import Accounts

PAGE = 50
MAX_PAGE = 200

# What a person reads for each kind of journal that touches a wallet (the catalogue of wallet labels).
# A kind that both adds and takes (a payment: a recharge in, a purchase out) is told apart by direction.
_LABELS = {
    ("payment_captured", "in"): _("充值"),
    ("payment_captured", "out"): _("购买商品"),
    ("order_settled", "out"): _("购买商品"),  # a wallet purchase delivered at once: one journal, no escrow
    ("refund", "in"): _("退款到余额"),
    ("promotion", "in"): _("平台赠送"),
    ("compensation", "in"): _("延迟发货补偿"),
    ("late_delivery_compensation", "in"): _("延迟发货补偿"),
}
_FALLBACK = {"in": _("入账"), "out": _("支出")}


def wallet_label(kind: str, fen: int) -> str:
    """The label of a wallet line; an unknown kind reads as a plain credit or debit, never as its code."""
    direction = "in" if fen > 0 else "out"
    return str(_LABELS.get((kind, direction), _FALLBACK[direction]))


@dataclass(frozen=True)
class WalletLine:
    id: int
    at: object
    kind: str
    label: str
    fen: int  # + into the wallet, - out of it (the buyer's view, not the book's sign)
    balance_after_fen: int
    order_no: str | None
    refund_no: str | None

    @property
    def amount(self) -> str:
        return f"{'+' if self.fen > 0 else '-'}{Money(abs(self.fen))}"

    @property
    def amount_display(self) -> str:
        return f"{'+' if self.fen > 0 else '-'}¥{Money(abs(self.fen))}"

    @property
    def balance_after(self) -> str:
        return str(Money(self.balance_after_fen))


def wallet_history(*, user, before: int | None = None, limit: int = PAGE) -> tuple[list[WalletLine], int | None]:
    """A page of the buyer's wallet lines, newest first, older than line `before`; and the next page's `before`."""
    limit = max(1, min(int(limit), MAX_PAGE))
    account_id = LedgerAccount.objects.filter(code=Accounts.wallet(user.id)).values_list("id", flat=True).first()
    if account_id is None:
        return [], None
    postings = Posting.objects.filter(account_id=account_id)
    if before is not None:
        postings = postings.filter(id__lt=before)
    rows = list(postings.select_related("journal", "journal__order").order_by("-id")[: limit + 1])
    more, rows = len(rows) > limit, rows[:limit]
    if not rows:
        return [], None
    # A wallet is a liability: credits (negative) are what the buyer holds.
    held = -(Posting.objects.filter(account_id=account_id, id__lte=rows[0].id).aggregate(total=Sum("amount_fen"))["total"] or 0)
    lines = []
    for posting in rows:
        fen = -posting.amount_fen
        journal = posting.journal
        reference = journal.reference
        lines.append(WalletLine(
            id=posting.id, at=journal.at, kind=journal.kind, label=wallet_label(journal.kind, fen), fen=fen,
            balance_after_fen=held, order_no=journal.order.order_no if journal.order_id else None,
            refund_no=reference.split(":", 1)[1] if reference.startswith("refund:") else None,
        ))
        held -= fen
    return lines, rows[-1].id if more else None


def wallet_lines_all(*, user, chunk: int = 2000):
    """Every line, oldest first, read in chunks (the export): never the whole history in memory."""
    account_id = LedgerAccount.objects.filter(code=Accounts.wallet(user.id)).values_list("id", flat=True).first()
    if account_id is None:
        return
    held, after = 0, 0
    while True:
        # Plain values: a whole order (its snapshot and terms) per line would be read only for its number.
        rows = list(Posting.objects.filter(account_id=account_id, id__gt=after).order_by("id")
                    .values_list("id", "amount_fen", "journal__at", "journal__kind", "journal__reference",
                                 "journal__order__order_no")[:chunk])
        if not rows:
            return
        for posting_id, amount_fen, at, kind, reference, order_no in rows:
            fen = -amount_fen
            held += fen
            yield WalletLine(
                id=posting_id, at=at, kind=kind, label=wallet_label(kind, fen), fen=fen, balance_after_fen=held,
                order_no=order_no, refund_no=reference.split(":", 1)[1] if reference.startswith("refund:") else None,
            )
        after = rows[-1][0]
