"""A supplier's money: pending sales mature into `available`, chargebacks, withdrawals paid once.

Three accounts per supplier, all liabilities of the platform to it:

    payable:<id>              "pending": a delivered sale (less commission) settles here at once, and a
                              refund or late-delivery charge inside the refund window is taken from here;
    available:<id>            a sale moves here once its order's refund window (the snapshot's
                              `refund_policy.refund_window_hours` after delivery) has passed with no refund
                              open: the sweep `supplier_sales_matured` (journal `mature:<order_no>`, once);
    withdrawals_pending:<id>  what the supplier asked to withdraw, reserved at once (journal
                              `withdrawal:<id>`) and paid from the bank by finance (`withdrawal-paid:<id>`)
                              or given back to `available` (`withdrawal-rejected:<id>`).

A chargeback after maturity (an appeal upheld, a late refund) draws from `available` — the sale is no
longer pending — and may leave it negative: the supplier then owes the platform, and can withdraw nothing
until later sales cover it. `supplier_account` says which account a charge on an order goes to.

The withdrawal check takes the lock of the supplier's `available` account row (kameng.core.locks, as
ledger.services.wallet_lock does for wallets), so two requests at once are decided one after the other.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Max, Sum
from django.utils.translation import gettext_lazy as _

from kameng.accounts.models import Role
from kameng.core import clock, locks
from kameng.core.errors import Conflict, Forbidden, Invalid, NotFound
from kameng.core.money import InvalidAmount, Money

from .models import Journal, LedgerAccount, Posting, Withdrawal, WithdrawalStatus
from .services import Accounts, Line, account, balance, journal_post

MATURED = "supplier_matured"
CHARGEBACK_KINDS = ("refund", "late_delivery_compensation")


def _mature_reference(order_no: str) -> str:
    return f"mature:{order_no}"


def supplier_account(order) -> str:
    """The supplier account a charge on this order is taken from: pending until it matured, then available."""
    supplier_id = order.snapshot["supplier_id"]
    if Journal.objects.filter(reference=_mature_reference(order.order_no)).exists():
        return Accounts.available(supplier_id)
    return Accounts.payable(supplier_id)


def chargeback_lines(order, fen: int) -> list[Line]:
    """The supplier's side of a charge of `fen` on this order (a refund it bears).

    Inside the refund window the sale is still pending and pays for it. After maturity the charge comes
    from `available` as far as it goes, the rest from the supplier's deposit (保证金, ledger.supplier_terms)
    as far as that goes, and only what is left makes `available` negative (the supplier owes the platform).
    Both accounts appear in the one journal, so the statement says what the deposit paid. Decided under the
    lock of the supplier's `available` row (as withdrawals are): two chargebacks at once never both spend
    the same balance or the same deposit. The caller holds the order's and refund's locks.
    """
    code = supplier_account(order)
    supplier_id = order.snapshot["supplier_id"]
    if fen <= 0 or code != Accounts.available(supplier_id):
        return [Line(code, fen)]
    held = available_lock(supplier_id)
    available = -(Posting.objects.filter(account_id=held.id).aggregate(total=Sum("amount_fen"))["total"] or 0)
    deposit = -(Posting.objects.filter(account__code=Accounts.deposit(supplier_id))
                .aggregate(total=Sum("amount_fen"))["total"] or 0)
    from_available = max(0, min(fen, available))
    from_deposit = max(0, min(fen - from_available, deposit))
    return [Line(code, fen - from_deposit), Line(Accounts.deposit(supplier_id), from_deposit)]


# ---- maturity ---------------------------------------------------------------------------------------


def _held_per_order():
    """order id → supplier code and fen still pending on that order (only orders with something pending)."""
    return (Posting.objects.filter(account__code__startswith="payable:", journal__order__isnull=False)
            .values("journal__order_id", "account__code").annotate(total=Sum("amount_fen")).exclude(total=0))


def _due_at(order, supplier_code: str):
    from kameng.catalog.policies import RefundPolicy

    window = RefundPolicy.from_stored(order.snapshot["refund_policy"]).refund_window_hours
    start = order.delivered_at or Journal.objects.filter(
        order=order, postings__account__code=supplier_code).aggregate(at=Max("at"))["at"]
    return start + timedelta(hours=window) if start else None


def _has_open_refund(order) -> bool:
    from kameng.aftersales.models import OPEN_STATUSES, Refund

    return Refund.objects.filter(order_id=order.id, status__in=OPEN_STATUSES).exists()


def sales_mature_due() -> int:
    """Move each order's pending sale to `available` once its refund window is over; how many moved."""
    from kameng.orders.locking import lock_order
    from kameng.orders.models import Order

    now = clock.now()
    done = 0
    for row in list(_held_per_order()):
        order = Order.objects.filter(id=row["journal__order_id"]).first()
        due = order and _due_at(order, row["account__code"])
        if due is None or due > now or _has_open_refund(order):
            continue
        with transaction.atomic():
            order = lock_order(order.id)  # the gate: a refund charging this order waits, or went first
            if _has_open_refund(order):
                continue
            code = row["account__code"]
            held = Posting.objects.filter(account__code=code, journal__order=order).aggregate(
                total=Sum("amount_fen"))["total"] or 0
            if held == 0:
                continue
            reference = _mature_reference(order.order_no)
            earlier = Journal.objects.filter(order=order, kind=MATURED).count()
            if earlier:  # something reached pending after maturity; move it too, under its own reference
                reference = f"{reference}:{earlier + 1}"
            supplier_id = int(code.split(":", 1)[1])
            journal_post(reference=reference, kind=MATURED, order=order,
                         # `held` is the pending credit (negative): debit pending by it, credit available.
                         lines=[Line(code, -held), Line(Accounts.available(supplier_id), held)],
                         memo="refund window over: the sale can be withdrawn")
            done += 1
    return done


# ---- balance and statement --------------------------------------------------------------------------


@dataclass(frozen=True)
class SupplierBalance:
    available: Money
    pending: Money
    withdrawing: Money
    withdrawn: Money
    chargebacks: Money
    deposit: Money


def supplier_balance(supplier) -> SupplierBalance:
    codes = [Accounts.payable(supplier.id), Accounts.available(supplier.id), Accounts.deposit(supplier.id)]
    charged = Posting.objects.filter(account__code__in=codes, journal__kind__in=CHARGEBACK_KINDS,
                                     amount_fen__gt=0).aggregate(total=Sum("amount_fen"))["total"] or 0
    paid = Withdrawal.objects.filter(supplier=supplier, status=WithdrawalStatus.PAID).aggregate(
        total=Sum("amount_fen"))["total"] or 0
    return SupplierBalance(
        available=balance(Accounts.available(supplier.id)), pending=balance(Accounts.payable(supplier.id)),
        withdrawing=balance(Accounts.withdrawing(supplier.id)), withdrawn=Money(paid), chargebacks=Money(charged),
        deposit=balance(Accounts.deposit(supplier.id)),
    )


# What a supplier reads for each line of its statement (流水): (journal kind, account prefix, direction).
_LABELS = {
    ("order_settled", "payable", "in"): _("销售收入（售后期内，待结算）"),
    ("refund", "payable", "in"): _("部分退款后的销售收入（待结算）"),
    ("refund", "payable", "out"): _("退款扣回"),
    ("refund", "available", "out"): _("退款扣回（已结算后）"),
    ("refund", "available", "in"): _("退款冲回"),
    ("refund", "deposit", "out"): _("退款扣回（可提现不足，从保证金扣除）"),
    ("deposit_lodged", "deposit", "in"): _("缴纳保证金"),
    ("late_delivery_compensation", "payable", "out"): _("迟发补偿扣款"),
    ("late_delivery_compensation", "available", "out"): _("迟发补偿扣款"),
    (MATURED, "available", "in"): _("售后期满，转入可提现"),
    (MATURED, "available", "out"): _("售后期满后的扣回"),
    ("withdrawal_requested", "available", "out"): _("申请提现"),
    ("withdrawal_rejected", "available", "in"): _("提现被驳回，退回可提现"),
}
_FALLBACK = {"in": _("入账"), "out": _("扣款")}
ACCOUNT_NAMES = {"payable": _("待结算"), "available": _("可提现"), "deposit": _("保证金")}


def statement_label(kind: str, prefix: str, fen: int) -> str:
    direction = "in" if fen > 0 else "out"
    return str(_LABELS.get((kind, prefix, direction), _FALLBACK[direction]))


@dataclass(frozen=True)
class StatementLine:
    id: int
    at: object
    kind: str
    label: str
    account: str  # 待结算 / 可提现 (a label)
    fen: int  # + to the supplier, - from it
    order_no: str | None

    @property
    def amount_display(self) -> str:
        return f"{'+' if self.fen > 0 else '-'}¥{Money(abs(self.fen))}"


def supplier_statement(supplier, *, limit: int = 100) -> list[StatementLine]:
    """The supplier's lines, newest first: every posting on its pending and available accounts.

    A maturity moves money between the two; only its arrival in `available` is a line the supplier needs.
    """
    codes = [Accounts.payable(supplier.id), Accounts.available(supplier.id), Accounts.deposit(supplier.id)]
    rows = (Posting.objects.filter(account__code__in=codes).exclude(journal__kind=MATURED, account__code=codes[0])
            .select_related("journal", "journal__order", "account").order_by("-id")[:limit])
    lines = []
    for posting in rows:
        prefix = posting.account.code.split(":", 1)[0]
        fen = -posting.amount_fen  # liabilities: a credit is money the supplier holds
        journal = posting.journal
        lines.append(StatementLine(
            id=posting.id, at=journal.at, kind=journal.kind, label=statement_label(journal.kind, prefix, fen),
            account=str(ACCOUNT_NAMES[prefix]), fen=fen,
            order_no=journal.order.order_no if journal.order_id else None))
    return lines


# ---- withdrawals --------------------------------------------------------------------------------------


def parse_withdrawal_amount(value) -> Money:
    try:
        amount = Money.parse(value)
    except InvalidAmount as exc:
        raise Invalid(f"amount: {exc}", code="INVALID_AMOUNT") from exc
    if amount.fen <= 0:
        raise Invalid("amount must be more than 0", code="INVALID_AMOUNT")
    return amount


def available_lock(supplier_id: int) -> LedgerAccount:
    """Lock the supplier's `available` account row: withdrawals queue here, one decided after the other."""
    code = Accounts.available(supplier_id)
    locked = locks.lock_first(LedgerAccount.objects.filter(code=code))
    if locked is None:
        account(code)
        locked = locks.lock_one(LedgerAccount.objects.filter(code=code))
    return locked


def withdrawal_request(*, supplier, amount) -> Withdrawal:
    if supplier.role != Role.SUPPLIER:
        raise Forbidden("only suppliers withdraw", code="ROLE_FORBIDDEN")
    money = parse_withdrawal_amount(amount)
    with transaction.atomic():
        held = available_lock(supplier.id)
        # Read under the lock: a request that waited sees what the one before it reserved.
        available = -(Posting.objects.filter(account_id=held.id).aggregate(total=Sum("amount_fen"))["total"] or 0)
        if money.fen > available:
            raise Conflict(f"available balance {Money(available)} is less than {money}", code="INSUFFICIENT_AVAILABLE")
        withdrawal = Withdrawal.objects.create(supplier=supplier, amount_fen=money.fen, requested_at=clock.now())
        journal_post(reference=f"withdrawal:{withdrawal.id}", kind="withdrawal_requested",
                     lines=[Line(Accounts.available(supplier.id), money.fen),
                            Line(Accounts.withdrawing(supplier.id), -money.fen)],
                     memo="reserved for a withdrawal awaiting finance")
    return withdrawal


def _is_finance(user) -> bool:
    return user.role in (Role.FINANCE, Role.ADMIN)


def _decide(*, actor, withdrawal_id: int, approve: bool, note: str = "") -> tuple[Withdrawal, bool]:
    """Pay or reject once; (the withdrawal, whether this call decided it)."""
    if not _is_finance(actor):
        raise NotFound("no such withdrawal", code="WITHDRAWAL_NOT_FOUND")
    with transaction.atomic():
        withdrawal = locks.lock_first(Withdrawal.objects.filter(id=withdrawal_id))
        if withdrawal is None:
            raise NotFound("no such withdrawal", code="WITHDRAWAL_NOT_FOUND")
        wanted = WithdrawalStatus.PAID if approve else WithdrawalStatus.REJECTED
        if withdrawal.status == wanted:
            return withdrawal, False  # asked twice: the same answer, nothing moves again
        if withdrawal.status != WithdrawalStatus.REQUESTED:
            raise Conflict(f"the withdrawal is already {withdrawal.status}", code="WITHDRAWAL_ALREADY_DECIDED")
        supplier_id = withdrawal.supplier_id
        if approve:
            journal_post(reference=f"withdrawal-paid:{withdrawal.id}", kind="withdrawal_paid",
                         lines=[Line(Accounts.withdrawing(supplier_id), withdrawal.amount_fen),
                                Line(Accounts.BANK_PAYOUTS, -withdrawal.amount_fen)],
                         memo="paid to the supplier's bank account")
        else:
            journal_post(reference=f"withdrawal-rejected:{withdrawal.id}", kind="withdrawal_rejected",
                         lines=[Line(Accounts.withdrawing(supplier_id), withdrawal.amount_fen),
                                Line(Accounts.available(supplier_id), -withdrawal.amount_fen)],
                         memo="withdrawal rejected: back to available")
        withdrawal.status = wanted
        withdrawal.decided_at = clock.now()
        withdrawal.decided_by = actor
        withdrawal.note = (note or "")[:200]
        withdrawal.save(update_fields=["status", "decided_at", "decided_by", "note"])
    return withdrawal, True


def withdrawal_approve(*, actor, withdrawal_id: int) -> Withdrawal:
    return _decide(actor=actor, withdrawal_id=withdrawal_id, approve=True)[0]


def withdrawal_reject(*, actor, withdrawal_id: int, note: str) -> Withdrawal:
    if not (note or "").strip():
        if not _is_finance(actor):
            raise NotFound("no such withdrawal", code="WITHDRAWAL_NOT_FOUND")
        raise Invalid("say why the withdrawal is rejected", code="NOTE_REQUIRED")
    return _decide(actor=actor, withdrawal_id=withdrawal_id, approve=False, note=note.strip())[0]


def withdrawals_for_finance(*, actor, status: str | None = None, limit: int = 100):
    if not _is_finance(actor):
        raise Forbidden("only finance reads withdrawals", code="ROLE_FORBIDDEN")
    rows = Withdrawal.objects.select_related("supplier", "decided_by").order_by("-id")
    if status is not None:
        if status not in WithdrawalStatus.values:
            raise Invalid(f"status is one of {', '.join(WithdrawalStatus.values)}", code="INVALID_STATUS")
        rows = rows.filter(status=status)
    return list(rows[:limit])


def withdrawals_of(supplier, *, limit: int = 50):
    return list(Withdrawal.objects.filter(supplier=supplier).select_related("decided_by").order_by("-id")[:limit])

