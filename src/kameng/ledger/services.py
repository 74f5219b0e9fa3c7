"""The double-entry book. Every money movement goes through `journal_post`.

Sign convention: debit is positive, credit negative; each journal sums to zero.
Balances are sums of postings. A wallet also keeps its sum as it goes (`LedgerAccount.running_fen`),
changed here in the same transaction as its postings and checked against them by `book_check`.
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, Sum

from kameng.core import clock, compiled, locks
from kameng.core.errors import Conflict
from kameng.core.money import Money

from .models import AccountKind, Journal, LedgerAccount, Posting

CREDIT_NORMAL = {AccountKind.LIABILITY, AccountKind.INCOME}


class Accounts:
    """Codes of the platform's accounts, in one place."""

    ESCROW = "escrow"  # paid for orders not yet delivered (liability to buyers)
    COMMISSION = "commission"  # the platform's commission income
    PROMOTIONS = "promotions"  # platform-funded credit (demo grants, goodwill)

    @staticmethod
    def clearing(channel: str) -> str:
        return f"clearing:{channel}"  # money held for us by a payment gateway

    @staticmethod
    def wallet(user_id: int) -> str:
        return f"wallet:{user_id}"

    @staticmethod
    def payable(supplier_id: int) -> str:
        return f"payable:{supplier_id}"  # the supplier's sales still inside their refund window ("pending")

    @staticmethod
    def available(supplier_id: int) -> str:
        return f"available:{supplier_id}"  # matured sales the supplier may withdraw (kameng.ledger.supplier_money)

    @staticmethod
    def withdrawing(supplier_id: int) -> str:
        return f"withdrawals_pending:{supplier_id}"  # requested withdrawals awaiting finance

    @staticmethod
    def deposit(supplier_id: int) -> str:
        return f"deposit:{supplier_id}"  # the supplier's deposit (保证金), owed back to it (ledger.supplier_terms)

    BANK_PAYOUTS = "clearing:bank"  # the platform's bank account, out of which withdrawals are paid


def keeps_running_balance(code: str) -> bool:
    """Wallets are read on the hot path under their own lock; shared accounts would serialize purchases."""
    return code.startswith("wallet:")


def _kind_for(code: str) -> str:
    prefix = code.split(":", 1)[0]
    return {
        "clearing": AccountKind.ASSET,
        "wallet": AccountKind.LIABILITY,
        "payable": AccountKind.LIABILITY,
        "available": AccountKind.LIABILITY,
        "withdrawals_pending": AccountKind.LIABILITY,
        "deposit": AccountKind.LIABILITY,
        "escrow": AccountKind.LIABILITY,
        "commission": AccountKind.INCOME,
        "refund_fees": AccountKind.INCOME,
        "promotions": AccountKind.EXPENSE,
        "losses": AccountKind.EXPENSE,
    }[prefix]


# code -> id of accounts known to be committed. Accounts are never deleted, so an id, once
# committed, is valid for ever; ids are cached only on commit so a rollback cannot leave a stale one.
_committed_ids: dict[str, int] = {}


def forget_cached_accounts() -> None:
    """For tests that empty the tables between them; in service, accounts are never deleted."""
    _committed_ids.clear()


def _remember(code: str, account_id: int) -> None:
    transaction.on_commit(lambda: _committed_ids.__setitem__(code, account_id))


def account(code: str) -> LedgerAccount:
    found = LedgerAccount.objects.filter(code=code).first()
    if found is None:
        owner_id = int(code.split(":", 1)[1]) if code.startswith(("wallet:", "payable:", "available:", "withdrawals_pending:", "deposit:")) else None
        try:
            with transaction.atomic():
                found = LedgerAccount.objects.create(code=code, kind=_kind_for(code), owner_id=owner_id,
                                                     running_fen=0 if keeps_running_balance(code) else None)
        except IntegrityError:  # created by a concurrent transaction
            found = LedgerAccount.objects.get(code=code)
    _remember(code, found.id)
    return found


def account_ids(codes: list[str]) -> dict[str, int]:
    ids = {code: _committed_ids[code] for code in codes if code in _committed_ids}
    missing = [code for code in codes if code not in ids]
    if missing:
        for code, account_id in LedgerAccount.objects.filter(code__in=missing).values_list("code", "id"):
            ids[code] = account_id
            _remember(code, account_id)
        for code in missing:
            if code not in ids:
                ids[code] = account(code).id
    return ids


@dataclass(frozen=True)
class Line:
    code: str
    fen: int  # + debit, - credit


def journal_post(*, reference: str, kind: str, lines: list[Line], order=None, payment=None, memo: str = "",
                 running_moved: frozenset[str] = frozenset()) -> Journal:
    """Post a balanced journal once. A second post with the same reference is refused by the database.

    `running_moved`: wallets whose running balance the caller already moved by exactly their line in
    this transaction (`wallet_spend`, which checks and moves it in one statement).
    """
    lines = [line for line in lines if line.fen != 0]
    if sum(line.fen for line in lines) != 0:
        raise ValueError(f"unbalanced journal {reference}: {lines}")
    ids = account_ids([line.code for line in lines])
    with transaction.atomic(savepoint=False):  # inside the caller's transaction; no savepoint needed
        [journal] = compiled.insert([Journal(
            reference=reference, kind=kind, at=clock.now(), order=order, payment=payment, memo=memo[:200]
        )])
        compiled.insert([Posting(journal=journal, account_id=ids[line.code], amount_fen=line.fen) for line in lines])
        for line in lines:
            if keeps_running_balance(line.code) and line.code not in running_moved:
                locks.update_locked(LedgerAccount.objects.filter(id=ids[line.code]),
                                    running_fen=F("running_fen") + line.fen)
    return journal


def balance(code: str) -> Money:
    """The balance in the account's normal direction (a wallet's balance is what we owe the buyer)."""
    row = LedgerAccount.objects.filter(code=code).first()
    if row is None:
        return Money.zero()
    if row.running_fen is not None:
        total = row.running_fen
    else:
        total = row.postings.aggregate(total=Sum("amount_fen"))["total"] or 0
    return Money(-total if row.kind in CREDIT_NORMAL else total)


def wallet_lock(user_id: int) -> LedgerAccount:
    """Lock a buyer's wallet account row so two spends cannot both see the same balance.

    Ledger accounts come late in the codebase's one lock order (kameng.core.locks): after the order
    and refund rows the money is for, before stock.
    """
    code = Accounts.wallet(user_id)
    locked = locks.lock_first(LedgerAccount.objects.filter(code=code))
    if locked is None:
        account(code)
        locked = locks.lock_one(LedgerAccount.objects.filter(code=code))
    return locked


def wallet_debit_check(*, user_id: int, amount: Money) -> None:
    """Under the wallet's lock: its running balance, one row, however long the buyer's history."""
    available = Money(-wallet_lock(user_id).running_fen)
    if available < amount:
        raise Conflict(f"wallet balance {available} is less than {amount}", code="INSUFFICIENT_BALANCE")


# Written in SQL: it runs on every wallet purchase (kameng.core.compiled says why the ORM's build is avoided there).
_SPEND_SQL = (f"UPDATE {LedgerAccount._meta.db_table} SET running_fen = running_fen + %s "
              "WHERE code = %s AND running_fen <= %s")


def wallet_spend(*, user_id: int, amount: Money) -> str:
    """Take `amount` out of a buyer's wallet in ONE statement: lock, check and move its running balance.

    `UPDATE … SET running_fen = running_fen + amount WHERE running_fen + amount <= 0`: the row lock is
    taken by the write itself, so no other spend can slip between the check and the debit. The caller
    must post the matching wallet line in this transaction with `running_moved={code}` (the returned
    code), or `kameng check-ledger` reports the drift. INSUFFICIENT_BALANCE changes nothing.
    """
    code = Accounts.wallet(user_id)
    moved = locks.update_locked_sql(LedgerAccount, _SPEND_SQL, [amount.fen, code, -amount.fen])
    if moved != 1:
        running = LedgerAccount.objects.filter(code=code).values_list("running_fen", flat=True).first()
        available = Money(-(running or 0))
        raise Conflict(f"wallet balance {available} is less than {amount}", code="INSUFFICIENT_BALANCE")
    return code
