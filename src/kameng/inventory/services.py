"""Writes on stock: imports, reservations, issues, reveals, manual delivery, key rotation."""

import logging
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import connection, transaction

from kameng.accounts.models import User
from kameng.catalog.models import Product
from kameng.catalog.selectors import product_for_manager
from kameng.core import clock, compiled, crypto
from kameng.core.errors import Conflict, Invalid

from .importing import ImportResult, ImportSuperseded, import_lines
from .models import CardSecret, ImportBatch, KeyIssue, RevealRecord, SecretStatus
from .policies import key_problem, normalize_key

logger = logging.getLogger(__name__)


def _stocked_product(*, actor: User, product_id: int) -> Product:
    product = product_for_manager(actor=actor, product_id=product_id)
    if not product.uses_stock:
        raise Conflict("keys are stocked only for card and link products sold from stock", code="PRODUCT_NOT_STOCKED")
    return product


def batch_start(*, actor: User, product: Product, source: str, total_lines: int | None = None) -> ImportBatch:
    return ImportBatch.objects.create(
        product=product, imported_by=actor, source=source, total_lines=total_lines, started_at=clock.now()
    )


def batch_finish(*, batch: ImportBatch, result: ImportResult | None, error: str = "") -> None:
    fields = {"finished_at": clock.now(), "status": ImportBatch.Status.FAILED if error else ImportBatch.Status.DONE}
    if error:
        fields["error"] = error[:200]
    if result is not None:
        fields.update(imported=result.imported, duplicates=result.duplicates, rejected=result.rejected)
    ImportBatch.objects.filter(id=batch.id).update(**fields)
    if result is not None and result.imported:
        from kameng.orders.tasks import deliver_backorders

        deliver_backorders.enqueue(batch.product_id)  # the job row commits with the batch


def keys_import_list(*, actor: User, product_id: int, keys: list) -> ImportResult:
    """The API import: good keys are imported, malformed ones counted and reported by position.

    A rejection names the key's index in the list and the problem, never the key. The request is one
    transaction: the batch, its keys and its counters commit together or not at all.
    """
    product = _stocked_product(actor=actor, product_id=product_id)
    if not isinstance(keys, list) or not keys:
        raise Invalid("keys is a non-empty list of strings", code="INVALID_KEYS")
    if len(keys) > settings.KAMENG_MAX_KEYS_PER_REQUEST:
        raise Invalid(
            f"at most {settings.KAMENG_MAX_KEYS_PER_REQUEST} keys per request; use kameng import-keys for files",
            code="TOO_MANY_KEYS",
        )
    rejections = []
    for position, key in enumerate(keys):
        problem = "not_a_string" if not isinstance(key, str) else key_problem(normalize_key(key))
        if problem:
            rejections.append({"index": position, "problem": problem})
    with transaction.atomic():
        batch = batch_start(actor=actor, product=product, source="api", total_lines=len(keys))
        # Every item goes through as a line (line n is keys[n-1]), so the report numbers them all.
        # One chunk: inside this transaction PostgreSQL's staging table keeps its rows until commit.
        lines = [key if isinstance(key, str) else None for key in keys]
        result = import_lines(batch=batch, lines=lines, chunk_size=len(lines))
        result.rejections = rejections
        batch_finish(batch=batch, result=result)
    return result


def keys_import_stream(
    *,
    actor: User,
    product_id: int,
    lines: Iterable[str],
    source: str,
    progress: Callable[[int], None] | None = None,
    batch: ImportBatch | None = None,
) -> tuple[ImportBatch, ImportResult]:
    """The file import (CLI, page): streams any size; bad lines are counted, good ones imported."""
    product = _stocked_product(actor=actor, product_id=product_id)
    batch = batch or batch_start(actor=actor, product=product, source=source)
    try:
        result = import_lines(batch=batch, lines=lines, progress=progress)
    except ImportSuperseded:
        raise  # another run of this import owns the batch now and will finish it
    except Exception as exc:
        batch_finish(batch=batch, result=None, error=type(exc).__name__)
        raise
    batch_finish(batch=batch, result=result)
    return batch, result


def _take(*, product_id: int, quantity: int, status: str, order_id: int | None) -> list[int]:
    """Move up to `quantity` available keys of a product to `status` in ONE statement; their ids.

    An UPDATE of the rows a sub-select picks, RETURNING what it changed: one round trip where a
    SELECT … FOR UPDATE and an UPDATE took two. PostgreSQL: SKIP LOCKED lets racing buyers take
    different keys instead of queueing on the same ones. The pick is a MATERIALIZED CTE on purpose:
    as a plain `id IN (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)` the planner may run the sub-select
    more than once, each run skipping the rows the last one locked — and update more than n rows.
    SQLite (3.35+ for RETURNING and MATERIALIZED): the immediate transaction already serializes
    writers. The database, not this code, keeps a key from being issued twice (`key_issued_once`).
    """
    table = connection.ops.quote_name(CardSecret._meta.db_table)
    skip_locked = " FOR UPDATE SKIP LOCKED" if connection.features.has_select_for_update_skip_locked else ""
    sql = (
        f"WITH picked AS MATERIALIZED (SELECT id FROM {table} WHERE product_id = %s AND status = %s "
        f"ORDER BY id LIMIT %s{skip_locked}) "
        f"UPDATE {table} SET status = %s, reserved_order_id = %s "
        f"WHERE id IN (SELECT id FROM picked) RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [product_id, SecretStatus.AVAILABLE.value, quantity, status, order_id])
        ids = sorted(row[0] for row in cursor.fetchall())
    if len(ids) > quantity:  # cannot happen with the CTE; refuse (the transaction rolls back) rather than oversell
        raise Conflict("stock changed while taking keys; try again", code="STOCK_CONTENTION")
    return ids


def _give_back(ids: list[int], *, status: str = SecretStatus.AVAILABLE, order=None) -> None:
    """Undo a take (a short one, or keys beyond what the items need): the same rows, as they were."""
    if ids:
        CardSecret.objects.filter(id__in=ids).update(status=status, reserved_order=order)


def secrets_reserve(*, product: Product, order, quantity: int) -> list[int]:
    """Hold `quantity` available keys for an unpaid order; [] (holding none) when stock is short."""
    ids = _take(product_id=product.id, quantity=quantity, status=SecretStatus.RESERVED, order_id=order.id)
    if len(ids) < quantity:
        _give_back(ids)
        return []
    return ids


def secrets_take(*, product: Product, quantity: int) -> list[int]:
    """Take `quantity` available keys straight to issued (a purchase paid in the same transaction).

    [] when stock is short, taking none. The caller records a KeyIssue for each id in this transaction.
    """
    ids = _take(product_id=product.id, quantity=quantity, status=SecretStatus.ISSUED, order_id=None)
    if len(ids) < quantity:
        _give_back(ids)
        return []
    return ids


def secrets_release(*, order) -> int:
    """Give an unpaid order's held keys back to stock."""
    return CardSecret.objects.filter(reserved_order=order, status=SecretStatus.RESERVED).update(
        status=SecretStatus.AVAILABLE, reserved_order=None
    )


def _issue_held(order) -> list[int]:
    """The keys the order holds, issued, in one statement (UPDATE … RETURNING); their ids."""
    table = connection.ops.quote_name(CardSecret._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET status = %s, reserved_order_id = NULL "
            f"WHERE reserved_order_id = %s AND status = %s RETURNING id",
            [SecretStatus.ISSUED.value, order.id, SecretStatus.RESERVED.value],
        )
        return sorted(row[0] for row in cursor.fetchall())


def secrets_issue(*, order, items) -> bool:
    """Issue one key to each item, inside the payment's transaction.

    Uses the keys the order holds; if the hold lapsed (a late payment), takes fresh ones.
    Returns False, issuing nothing (the held keys stay held), when stock cannot cover every item.
    """
    held = _issue_held(order)
    missing = len(items) - len(held)
    if missing > 0:
        fresh = secrets_take(product=order.product, quantity=missing)
        if not fresh:
            _give_back(held, status=SecretStatus.RESERVED, order=order)
            return False
        held += fresh
    chosen = held[: len(items)]
    _give_back(held[len(items):])  # held beyond what the items need: back on sale
    keys_issue_record(ids=chosen, items=items)
    return True


def keys_issue_record(*, ids: list[int], items) -> None:
    """The KeyIssue rows for keys just issued, one statement for all of them."""
    now = clock.now()
    compiled.insert(
        [KeyIssue(secret_id=secret_id, order_item=item, issued_at=now) for secret_id, item in zip(ids, items, strict=True)]
    )


def secret_issue_manual(*, product: Product, item, secret_text: str) -> CardSecret:
    """A supplier's hand-delivered content, stored and issued like any key."""
    secret_text = normalize_key(secret_text)
    problem = key_problem(secret_text)
    if problem:
        raise Invalid(f"the delivered content is malformed ({problem})", code="INVALID_KEYS")
    fingerprint = crypto.fingerprint_of(secret_text)
    if CardSecret.objects.filter(fingerprint=fingerprint).exists():
        raise Conflict("this content was already delivered or stocked on the platform", code="DUPLICATE_KEY")
    now = clock.now()
    secret = CardSecret.objects.create(
        product=product,
        ciphertext=crypto.encrypt(secret_text),
        fingerprint=fingerprint,
        status=SecretStatus.ISSUED,
        created_at=now,
    )
    KeyIssue.objects.create(secret=secret, order_item=item, issued_at=now)
    return secret


def secrets_reveal(*, user: User, items, ip_address: str | None, user_agent: str) -> list[tuple[int, str]]:
    """Decrypt the live key of each item and record the reveal."""
    now = clock.now()
    issues = {
        issue.order_item_id: issue
        for issue in KeyIssue.objects.select_related("secret").filter(order_item__in=items, returned_at__isnull=True)
    }
    revealed = []
    records = []
    for item in items:
        issue = issues.get(item.id)
        if issue is None:
            continue
        revealed.append((item.id, crypto.decrypt(issue.secret.ciphertext)))
        records.append(RevealRecord(order_item=item, user=user, revealed_at=now, ip_address=ip_address, user_agent=user_agent[:300]))
    RevealRecord.objects.bulk_create(records)
    return revealed


def keys_rotate(*, chunk: int = 2000, progress: Callable[[int], None] | None = None) -> int:
    """Re-encrypt every secret not under the newest keyring key. Safe to stop and run again."""
    keyring = crypto.keyring()
    rotated = 0
    last_id = 0
    while True:
        with transaction.atomic():
            rows = list(
                CardSecret.objects.select_for_update()
                .filter(id__gt=last_id)
                .order_by("id")
                .values_list("id", "ciphertext")[:chunk]
            )
            if not rows:
                break
            stale = [(pk, blob) for pk, blob in rows if not keyring.is_current(blob)]
            for pk, blob in stale:
                CardSecret.objects.filter(id=pk).update(ciphertext=keyring.encrypt(keyring.decrypt(blob)))
            rotated += len(stale)
            last_id = rows[-1][0]
        if progress:
            progress(len(rows))
    logger.info("key rotation re-encrypted %d stored keys", rotated)
    return rotated
