"""Streaming key import: any number of keys, constant memory, duplicates found by fingerprint.

Keys are read, checked, encrypted and written in chunks; each chunk commits on its own with the
batch's counters, so a million-key file never sits in memory and progress is visible to others.
PostgreSQL gets COPY into a staging table then INSERT … ON CONFLICT DO NOTHING; SQLite gets
INSERT OR IGNORE. Either way the unique fingerprint decides what is a duplicate.

An import is resumable: a chunk's keys and the batch's counters (`processed` lines included) commit
together, so a run started again after a crash skips the lines already counted and carries on with the
counters where they were: nothing is imported or counted twice. Two runs of one batch at once (a worker
wrongly thought dead) cannot both count: each chunk checks, under the batch's row lock, that the batch is
where this run left it, and the run that finds it moved on stops (`ImportSuperseded`).
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import connection, transaction

from kameng.core import clock, crypto

from .models import CardSecret, ImportBatch, QuarantineState, SecretStatus
from .policies import MAX_KEY_LENGTH, key_problem, normalize_key

CHUNK = 10000

# Printable ASCII is never refused by key_problem (no Cc/Cf/Cs/Co/Cn/Zl/Zp character in it): such keys
# skip its per-character Unicode lookup, which was a third of the import's CPU time on a million keys.
# Anything else still goes through key_problem, so the rules stay in one place.
_PLAIN_KEY = re.compile(rf"[\x20-\x7e]{{1,{MAX_KEY_LENGTH}}}")


def _problem(key: str) -> str | None:
    return None if _PLAIN_KEY.fullmatch(key) else key_problem(key)


class ImportSuperseded(Exception):
    """Another run of the same import moved the batch on; this one stops and leaves the batch to it."""


@dataclass
class ImportResult:
    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    rejected_lines: list[tuple[int, str]] = field(default_factory=list)  # (line number, problem); first 100
    rejections: list[dict] | None = None  # API list imports: every refused key as {"index", "problem"}

    def as_dict(self) -> dict:
        body = {"imported": self.imported, "duplicates": self.duplicates, "rejected": self.rejected}
        if self.rejections:  # only when there are some: a clean import answers the contract's three counts
            body["rejections"] = self.rejections
        return body


def _insert_chunk_postgres(rows: list[tuple], batch_id: int, product_id: int, now, status: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS kameng_key_stage (ciphertext bytea, fingerprint varchar(64)) "
            "ON COMMIT DELETE ROWS"
        )
        raw = cursor.cursor
        with raw.copy("COPY kameng_key_stage (ciphertext, fingerprint) FROM STDIN") as copy:
            for ciphertext, fingerprint in rows:
                copy.write_row((ciphertext, fingerprint))
        cursor.execute(
            f"INSERT INTO {CardSecret._meta.db_table} (product_id, ciphertext, fingerprint, status, batch_id, created_at) "
            "SELECT %s, ciphertext, fingerprint, %s, %s, %s FROM kameng_key_stage "
            "ON CONFLICT (fingerprint) DO NOTHING",
            [product_id, status, batch_id, now],
        )
        return cursor.rowcount


def _insert_chunk_sqlite(rows: list[tuple], batch_id: int, product_id: int, now, status: str) -> int:
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT OR IGNORE INTO {CardSecret._meta.db_table} "
            "(product_id, ciphertext, fingerprint, status, batch_id, created_at) VALUES (%s, %s, %s, %s, %s, %s)",
            [(product_id, ciphertext, fingerprint, status, batch_id, now) for ciphertext, fingerprint in rows],
        )
        return cursor.rowcount


def _insert_chunk(rows, batch_id, product_id, now, status: str = SecretStatus.AVAILABLE) -> int:
    if connection.vendor == "postgresql":
        return _insert_chunk_postgres(rows, batch_id, product_id, now, status)
    return _insert_chunk_sqlite(rows, batch_id, product_id, now, status)


# A batch quarantined (or voided) while its file is still being imported: the rest of its keys join the others.
_STATUS_IN = {QuarantineState.QUARANTINED: SecretStatus.FROZEN, QuarantineState.VOIDED: SecretStatus.VOIDED}


def import_lines(
    *,
    batch: ImportBatch,
    lines: Iterable[str],
    progress: Callable[[int], None] | None = None,
    chunk_size: int = CHUNK,
) -> ImportResult:
    """Import keys line by line into `batch`. Empty or malformed lines are counted as rejected.

    Lines the batch already counted (`batch.processed`) are skipped: a re-run resumes, never re-imports.
    """
    skip = batch.processed
    result = ImportResult(imported=batch.imported, duplicates=batch.duplicates, rejected=batch.rejected)
    keyring = crypto.keyring()
    fingerprint_of = crypto.fingerprinter()
    rows: list[tuple] = []
    pending_lines = 0

    def flush():
        nonlocal rows, pending_lines
        now = clock.now()
        with transaction.atomic():
            where, state = (ImportBatch.objects.select_for_update().filter(id=batch.id)
                            .values_list("processed", "quarantine").get())
            if where != batch.processed:
                raise ImportSuperseded(f"batch {batch.id} is at line {where}, this run at {batch.processed}")
            status = _STATUS_IN.get(state, SecretStatus.AVAILABLE)
            inserted = _insert_chunk(rows, batch.id, batch.product_id, now, status) if rows else 0
            result.imported += inserted
            result.duplicates += len(rows) - inserted
            ImportBatch.objects.filter(id=batch.id).update(
                processed=batch.processed + pending_lines,
                imported=result.imported,
                duplicates=result.duplicates,
                rejected=result.rejected,
            )
            batch.processed += pending_lines
        if progress:
            progress(pending_lines)
        rows = []
        pending_lines = 0

    for number, line in enumerate(lines, start=1):
        if number <= skip:
            continue  # committed by an earlier run of this import
        pending_lines += 1
        key = normalize_key(line)
        problem = _problem(key)
        if problem:
            result.rejected += 1
            if len(result.rejected_lines) < 100:
                result.rejected_lines.append((number, problem))
        else:
            rows.append((keyring.encrypt(key), fingerprint_of(key)))
        if pending_lines >= chunk_size:
            flush()
    if pending_lines or rows:
        flush()
    return result
