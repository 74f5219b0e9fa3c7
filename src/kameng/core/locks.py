"""Row locks, taken in ONE order by the whole codebase, so two services can never deadlock each other.

A deadlock needs two transactions that each hold a row the other wants. If every transaction takes
its locks in the same global order, that cycle cannot form. The order, coarse to fine:

    rank  what                      why here
    0     an Idempotency-Key        a retry waits for the first request with its key, before any row
    1     accounts.User             the buyer: per-buyer limits (unpaid orders) are checked under it
    2     payments.Payment          the gateway's word arrives per payment, before we know the order
    3     orders.Order              THE GATE: every path that changes an order, its refunds, items or
                                    top-up locks the order first, so such paths queue up per order
    4     aftersales.Refund
    5     aftersales.RefundPayout
    6     orders.TopupDispatch
    7     orders.OrderItem          leaves of an order, reached through the order or a refund
    8     ledger.Withdrawal         a supplier's withdrawal: decided before the accounts it moves
    9     ledger.LedgerAccount      wallets: the balance check is taken after the rows it pays for
    10    inventory.ImportBatch     a batch's quarantine: counted and decided after the refund that
                                    proved a key bad was paid, before the batch's keys are touched
    11    catalog.Product           a product's terms and 上架/下架: edited alone today; late, so a path
                                    holding an order or a batch may still take a product off sale
    12    inventory.CardSecret      stock: a shared pool, taken last (and with SKIP LOCKED to reserve)

Within one rank, several rows are locked in primary-key order (`lock_all`). A transaction may take
a lock of the same or a higher rank than the highest it holds, never a lower one; with the setting
`KAMENG_STRICT_LOCK_ORDER` (on in the test suite) a violation raises, otherwise it is logged.

Locks are `SELECT … FOR UPDATE OF <that table>` only: a `select_related` join must not quietly lock
the joined rows too (a refund's join to its order and buyer once locked the order *after* the
refund, against this order — the deadlock this module ends).

Waiting for a lock is bounded by PostgreSQL's `lock_timeout` (settings `KAMENG_DB_LOCK_TIMEOUT`); a
wait that runs out becomes `Busy` (503 `LOCK_TIMEOUT`, try again), never a 500.

SQLite has no row locks: its transactions take the database write lock at BEGIN (IMMEDIATE), which
serializes writers; the calls here then only check the order.
"""

import hashlib
import logging

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections
from django.db.models import Model, QuerySet

from .errors import DomainError

logger = logging.getLogger(__name__)

IDEMPOTENCY_KEY = "idempotency-key"
LOCK_ORDER: tuple[str, ...] = (
    IDEMPOTENCY_KEY,
    "accounts.User",
    "payments.Payment",
    "orders.Order",
    "aftersales.Refund",
    "aftersales.RefundPayout",
    "orders.TopupDispatch",
    "orders.OrderItem",
    "ledger.Withdrawal",
    "ledger.LedgerAccount",
    "inventory.ImportBatch",
    "catalog.Product",
    "inventory.CardSecret",
)
RANK = {name: rank for rank, name in enumerate(LOCK_ORDER)}


class Busy(DomainError):
    """The database could not give us a lock or finish a statement in time: nothing changed, try again."""

    status = 503
    code = "DATABASE_BUSY"
    retry_after = 1


class LockOrderViolation(RuntimeError):
    """A transaction asked for a lock of a lower rank than one it holds: a deadlock waiting to happen."""


# ---- the order check -----------------------------------------------------------------------------


def _scope(connection):
    """The atomic block that is this transaction as far as services go (the test case's own blocks are not)."""
    for block in connection.atomic_blocks:
        if not block._from_testcase:
            return block
    return None


def _check_order(name: str, alias: str = DEFAULT_DB_ALIAS) -> None:
    rank = RANK[name]
    connection = connections[alias]
    scope = _scope(connection)
    if scope is None:
        return
    held = getattr(connection, "_kameng_locks", None)
    if held is None or held[0] is not scope:
        held = (scope, [])
        connection._kameng_locks = held
    taken = held[1]
    higher = [other for other in taken if RANK[other] > rank]
    if higher:
        message = f"lock order violated: {name} (rank {rank}) requested while holding {', '.join(higher)}"
        if getattr(settings, "KAMENG_STRICT_LOCK_ORDER", False):
            raise LockOrderViolation(message)
        logger.error(message)
    if name not in taken:
        taken.append(name)


def _take_place(name: str, alias: str) -> None:
    """Every lock a service takes passes here: its model must have a rank, and the rank must keep the order."""
    if name not in RANK:
        raise LockOrderViolation(f"{name} has no place in the lock order; add it to kameng.core.locks.LOCK_ORDER")
    _check_order(name, alias)


def _name(queryset: QuerySet) -> str:
    return queryset.model._meta.label


# ---- taking locks ----------------------------------------------------------------------------------


def _locking(queryset: QuerySet, **options) -> QuerySet:
    _take_place(_name(queryset), queryset.db)
    return queryset.select_for_update(of=("self",), **options)


def lock_one(queryset: QuerySet) -> Model:
    """Lock exactly one row (DoesNotExist when there is none)."""
    with busy_on_timeout():
        return _locking(queryset).get()


def lock_first(queryset: QuerySet) -> Model | None:
    """Lock the row the query finds, or None."""
    with busy_on_timeout():
        return _locking(queryset.order_by("pk")).first()


def lock_all(queryset: QuerySet) -> list:
    """Lock every row the query finds, in primary-key order (two callers never lock the same set crosswise)."""
    with busy_on_timeout():
        return list(_locking(queryset.order_by("pk")))


def update_locked(queryset: QuerySet, **values) -> int:
    """An UPDATE of the query's rows: it takes their locks as it writes, so it keeps the same order."""
    _take_place(_name(queryset), queryset.db)
    with busy_on_timeout():
        return queryset.update(**values)


def lock_first_compiled(query, *, alias: str = DEFAULT_DB_ALIAS, **values):
    """`lock_first` for a compiled `select_for_update()` read (kameng.core.compiled.Query) on the hot path."""
    _take_place(query.model(alias)._meta.label, alias)
    with busy_on_timeout():
        return query.first(using=alias, **values)


def update_locked_sql(model, sql: str, params: list, *, alias: str = DEFAULT_DB_ALIAS) -> int:
    """`update_locked` for an UPDATE written in SQL on `model`'s table (a hot path that cannot afford the
    ORM's build of it each time): the same place in the lock order, the same 503 on a lock timeout."""
    _take_place(model._meta.label, alias)
    with busy_on_timeout(), connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def lock_key(namespace: str, *parts, alias: str = DEFAULT_DB_ALIAS) -> None:
    """Lock a name that is not a row (an Idempotency-Key) until the transaction ends.

    PostgreSQL: a transaction-level advisory lock on a 64-bit hash of the name (a collision only makes
    two unrelated requests queue, never mixes their results). SQLite: the write lock already serializes.
    """
    _check_order(IDEMPOTENCY_KEY, alias)
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return
    digest = hashlib.blake2b("\x1f".join([namespace, *map(str, parts)]).encode(), digest_size=8).digest()
    with busy_on_timeout(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest, "big", signed=True)])


# ---- waits that run out --------------------------------------------------------------------------

# SQLSTATE → our code. 55P03 lock_not_available (lock_timeout), 57014 query_canceled
# (statement_timeout), 40P01 deadlock_detected, 40001 serialization_failure.
_BUSY_STATES = {
    "55P03": ("LOCK_TIMEOUT", "another request holds what this one needs; try again in a moment"),
    "57014": ("STATEMENT_TIMEOUT", "the database took too long to answer; try again in a moment"),
    "40P01": ("DATABASE_BUSY", "the request collided with another one; try again"),
    "40001": ("DATABASE_BUSY", "the request collided with another one; try again"),
}


def busy_error(exc: BaseException) -> Busy | None:
    """The `Busy` refusal for a database error that only means "not now", else None."""
    if not isinstance(exc, OperationalError):
        return None
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    if sqlstate in _BUSY_STATES:
        code, message = _BUSY_STATES[sqlstate]
        return Busy(message, code=code)
    if "database is locked" in str(exc):  # SQLite's busy timeout ran out
        return Busy("the database is busy; try again in a moment", code="DATABASE_BUSY")
    return None


class busy_on_timeout:
    """Turn a lock or statement timeout raised inside the block into `Busy`."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is not None:
            busy = busy_error(exc)
            if busy is not None:
                raise busy from exc
        return False
