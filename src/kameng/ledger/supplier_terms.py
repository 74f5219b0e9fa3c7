"""A supplier's terms with the platform: its commission rate and its deposit (保证金).

- The commission rate is per supplier (none set: the setting KAMENG_COMMISSION_RATE). It is read once
  per purchase and copied onto the order, so a change applies to new orders only; past orders keep the
  rate they were sold at (orders.policies.commission_rate reads it).
- A deposit is money the supplier lodges with the platform: finance records it through the ledger
  (journal `deposit_lodged`: the bank account up, `deposit:<id>` owed back to the supplier). A chargeback
  larger than what the supplier has `available` draws the rest from the deposit
  (supplier_money.chargeback_lines), and the journal names both accounts, so the statement says which.

Finance and admin set rates and record deposits (the API; the finance pages call the same functions).
"""

import secrets
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import transaction
from django.db.models import OuterRef, Subquery

from kameng.accounts.models import Role, User
from kameng.core import clock
from kameng.core.errors import Forbidden, Invalid, NotFound
from kameng.core.money import InvalidAmount, Money

from .models import CommissionRateChange, Journal, SupplierTerms
from .services import Accounts, Line, balance, journal_post

DEPOSIT_LODGED = "deposit_lodged"
MAX_RATE = Decimal("0.5")  # a commission above half the sale is a typo, not a term
MAX_DEPOSIT = Money(10_000_000_000)  # ¥100,000,000: more is a typo (and stays far inside the ledger's 64-bit fen)


def default_rate() -> Decimal:
    return Decimal(settings.KAMENG_COMMISSION_RATE)


def commission_rate_of(supplier_id: int) -> Decimal:
    """The supplier's rate now (for a new sale, or to show it)."""
    rate = SupplierTerms.objects.filter(supplier_id=supplier_id).values_list("commission_rate", flat=True).first()
    return default_rate() if rate is None else rate


def rate_subquery(supplier_field: str = "supplier_id") -> Subquery:
    """The supplier's current rate as a subquery, to read with the product in the purchase's one query."""
    return Subquery(SupplierTerms.objects.filter(supplier_id=OuterRef(supplier_field)).values("commission_rate")[:1])


def rate_at_sale(product) -> Decimal:
    """The rate to copy onto a new order of `product`: read with the product (`supplier_rate` annotation)
    where the purchase did so, otherwise looked up."""
    if hasattr(product, "supplier_rate"):
        return default_rate() if product.supplier_rate is None else Decimal(product.supplier_rate)
    return commission_rate_of(product.supplier_id)


def rate_percent(rate: Decimal) -> str:
    """0.05 → "5", 0.0525 → "5.25": a rate as a person reads it."""
    return format((rate * 100).normalize(), "f")


def _finance(actor) -> None:
    if actor.role not in (Role.FINANCE, Role.ADMIN):
        raise Forbidden("only finance or an admin sets a supplier's terms", code="ROLE_FORBIDDEN")


def _supplier(supplier_id) -> User:
    supplier = User.objects.filter(id=supplier_id, role=Role.SUPPLIER).first() if isinstance(supplier_id, int) \
        else None
    if supplier is None:
        raise NotFound("no such supplier", code="SUPPLIER_NOT_FOUND")
    return supplier


def terms_visible(*, actor, supplier_id) -> User:
    """Finance reads any supplier's terms."""
    _finance(actor)
    return _supplier(supplier_id)


def parse_rate(value) -> Decimal:
    """A rate as a decimal string ("0.05"): 0 ≤ rate ≤ MAX_RATE, at most 4 places; never a float."""
    if not isinstance(value, str):
        raise Invalid('commission_rate is a decimal string, e.g. "0.05"', code="INVALID_RATE")
    try:
        rate = Decimal(value.strip())
    except InvalidOperation as exc:
        raise Invalid('commission_rate is a decimal string, e.g. "0.05"', code="INVALID_RATE") from exc
    if not rate.is_finite() or rate < 0 or rate > MAX_RATE or rate.as_tuple().exponent < -4:
        raise Invalid(f"commission_rate is between 0 and {MAX_RATE}, at most 4 decimal places", code="INVALID_RATE")
    return rate


def commission_rate_set(*, actor, supplier_id, rate, note: str = "") -> SupplierTerms:
    """Set a supplier's rate for its new orders; the change is recorded with who made it."""
    _finance(actor)
    rate = parse_rate(rate)
    supplier = _supplier(supplier_id)
    now = clock.now()
    with transaction.atomic():
        previous = commission_rate_of(supplier.id)
        terms, _ = SupplierTerms.objects.update_or_create(supplier=supplier,
                                                          defaults={"commission_rate": rate, "updated_at": now})
        CommissionRateChange.objects.create(supplier=supplier, previous_rate=previous, commission_rate=rate, at=now,
                                            by=actor, note=(note or "")[:200])
    return terms


def parse_deposit_amount(amount) -> Money:
    """A deposit in yuan, more than 0 and at most MAX_DEPOSIT (the finance page checks it before asking to
    confirm)."""
    try:
        money = Money.parse(amount)
    except InvalidAmount as exc:
        raise Invalid(f"amount: {exc}", code="INVALID_AMOUNT") from exc
    if money.fen <= 0 or money > MAX_DEPOSIT:
        raise Invalid(f"amount is more than 0 and at most {MAX_DEPOSIT}", code="INVALID_AMOUNT")
    return money


def deposit_lodge(*, actor, supplier_id, amount, note: str = "") -> Journal:
    """Record a deposit the supplier paid into the platform's bank account."""
    _finance(actor)
    money = parse_deposit_amount(amount)
    supplier = _supplier(supplier_id)
    with transaction.atomic():
        # Each lodging is its own journal (a retried request is answered once through its Idempotency-Key).
        return journal_post(reference=f"deposit:{supplier.id}:{secrets.token_hex(8)}", kind=DEPOSIT_LODGED,
                            lines=[Line(Accounts.BANK_PAYOUTS, money.fen), Line(Accounts.deposit(supplier.id), -money.fen)],
                            memo=(note or "deposit lodged by the supplier")[:200])


def deposit_of(supplier_id: int) -> Money:
    return balance(Accounts.deposit(supplier_id))
