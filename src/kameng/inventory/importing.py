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

from .models import CardSecret, ImportBatch, ImportProblem, LineProblem, QuarantineState, SecretStatus
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
    batch_id: int | None = None  # the import's report (ImportProblem rows, inventory.selectors.import_report)

    def as_dict(self) -> dict:
        body = {"imported": self.imported, "duplicates": self.duplicates, "rejected": self.rejected}
        if self.rejections:  # only when there are some: a clean import answers the contract's three counts
            body["rejections"] = self.rejections
        return body


_STAGE = "kameng_key_lines_stage"  # per connection; its rows live until the transaction ends


def _insert_chunk_postgres(rows: list[tuple], numbers: list[int], batch_id: int, product_id: int, now,
                           status: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {_STAGE} (ciphertext bytea, fingerprint varchar(64), line integer) "
            "ON COMMIT DELETE ROWS"
        )
        cursor.execute(f"DELETE FROM {_STAGE}")  # an earlier chunk of the same transaction is not this one
        raw = cursor.cursor
        with raw.copy(f"COPY {_STAGE} (ciphertext, fingerprint, line) FROM STDIN") as copy:
            for (ciphertext, fingerprint), number in zip(rows, numbers, strict=True):
                copy.write_row((ciphertext, fingerprint, number))
        cursor.execute(
            f"INSERT INTO {CardSecret._meta.db_table} (product_id, ciphertext, fingerprint, status, batch_id, created_at) "
            f"SELECT %s, ciphertext, fingerprint, %s, %s, %s FROM {_STAGE} "
            "ON CONFLICT (fingerprint) DO NOTHING",
            [product_id, status, batch_id, now],
        )
        return cursor.rowcount


def _duplicate_lines_postgres(batch_id: int) -> list[tuple[int, str]]:
    """The chunk's skipped lines in one query: staged rows whose fingerprint is stored with another ciphertext."""
    with connection.cursor() as cursor:
        # One index probe per staged line (LATERAL … LIMIT 1 is never turned into a hash join): the cost
        # follows the chunk, not the size of the stock table, whose scan a hash join would repeat per chunk.
        cursor.execute(
            f"SELECT k.line, x.batch_id FROM {_STAGE} k CROSS JOIN LATERAL ("
            f"SELECT s.batch_id, s.ciphertext FROM {CardSecret._meta.db_table} s "
            "WHERE s.fingerprint = k.fingerprint LIMIT 1) x WHERE x.ciphertext <> k.ciphertext"
        )
        return [(line, LineProblem.DUPLICATE_IN_IMPORT if owner == batch_id else LineProblem.ALREADY_ON_PLATFORM)
                for line, owner in cursor.fetchall()]


def _insert_chunk_sqlite(rows: list[tuple], numbers: list[int], batch_id: int, product_id: int, now,
                         status: str) -> int:
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT OR IGNORE INTO {CardSecret._meta.db_table} "
            "(product_id, ciphertext, fingerprint, status, batch_id, created_at) VALUES (%s, %s, %s, %s, %s, %s)",
            [(product_id, ciphertext, fingerprint, status, batch_id, now) for ciphertext, fingerprint in rows],
        )
        return cursor.rowcount


def _insert_chunk(rows, numbers, batch_id, product_id, now, status: str = SecretStatus.AVAILABLE) -> int:
    if connection.vendor == "postgresql":
        return _insert_chunk_postgres(rows, numbers, batch_id, product_id, now, status)
    return _insert_chunk_sqlite(rows, numbers, batch_id, product_id, now, status)


# A batch quarantined (or voided) while its file is still being imported: the rest of its keys join the others.
_STATUS_IN = {QuarantineState.QUARANTINED: SecretStatus.FROZEN, QuarantineState.VOIDED: SecretStatus.VOIDED}
_LOOKUP_SLICE = 500  # fingerprints per query when a chunk had duplicates (well under any database's bind limit)


def _duplicate_lines(rows: list[tuple], numbers: list[int], batch_id: int) -> list[tuple[int, str]]:
    """Which of a chunk's rows the insert skipped, as (line, problem): only asked when some were skipped
    (SQLite; PostgreSQL asks its staging table in one query, `_duplicate_lines_postgres`).

    A stored row is this chunk's own when its ciphertext is the one we just wrote (encryption is
    randomized, so two writes of one key never share a ciphertext); any other row with the fingerprint
    was there before: from earlier in this import (the batch's own) or from any other import.
    """
    fingerprints = list({fingerprint for _, fingerprint in rows})
    stored = {}
    for start in range(0, len(fingerprints), _LOOKUP_SLICE):
        found = CardSecret.objects.filter(fingerprint__in=fingerprints[start:start + _LOOKUP_SLICE])
        for fingerprint, ciphertext, owner in found.values_list("fingerprint", "ciphertext", "batch_id"):
            stored[fingerprint] = (bytes(ciphertext), owner)
    problems = []
    for (ciphertext, fingerprint), number in zip(rows, numbers, strict=True):
        kept, owner = stored.get(fingerprint, (None, None))
        if kept == bytes(ciphertext):
            continue  # this line is the stocked one
        ours = owner == batch_id  # the stocked one came from earlier in this same import
        problems.append((number, LineProblem.DUPLICATE_IN_IMPORT if ours else LineProblem.ALREADY_ON_PLATFORM))
    return problems


class _ProblemRuns:
    """Writes a chunk's problem lines as runs of consecutive lines with one reason, continuing the last
    run of the previous chunk when it goes on (a re-imported file is one row, however long)."""

    def __init__(self, batch_id: int):
        self.batch_id = batch_id
        self.last: ImportProblem | None = None

    def write(self, problems: list[tuple[int, str]]) -> None:
        if not problems:
            return
        problems.sort()
        runs: list[ImportProblem] = []
        last, extended = self.last, False
        for number, problem in problems:
            current = runs[-1] if runs else last
            if current is not None and current.problem == problem and current.last_line + 1 == number:
                current.last_line = number
                extended = extended or current is last
                continue
            runs.append(ImportProblem(batch_id=self.batch_id, first_line=number, last_line=number, problem=problem))
        if extended:
            ImportProblem.objects.filter(id=last.id).update(last_line=last.last_line)
        if runs:
            ImportProblem.objects.bulk_create(runs)
            self.last = runs[-1]
            if self.last.pk is None:  # a backend that does not return ids from a bulk insert
                self.last = ImportProblem.objects.filter(batch_id=self.batch_id).order_by("-first_line").first()


def import_lines(
    *,
    batch: ImportBatch,
    lines: Iterable[str | None],
    progress: Callable[[int], None] | None = None,
    chunk_size: int = CHUNK,
) -> ImportResult:
    """Import keys line by line into `batch`. Empty or malformed lines are counted as rejected, and so is
    None (an API list item that is not text). Every line not stocked is reported by number (ImportProblem).

    Lines the batch already counted (`batch.processed`) are skipped: a re-run resumes, never re-imports.
    """
    skip = batch.processed
    result = ImportResult(imported=batch.imported, duplicates=batch.duplicates, rejected=batch.rejected,
                          batch_id=batch.id)
    keyring = crypto.keyring()
    fingerprint_of = crypto.fingerprinter()
    rows: list[tuple] = []
    numbers: list[int] = []  # the line number of each row
    rejected: list[tuple[int, str]] = []  # this chunk's malformed lines
    runs = _ProblemRuns(batch.id)
    pending_lines = 0

    def flush():
        nonlocal rows, numbers, rejected, pending_lines
        now = clock.now()
        with transaction.atomic():
            where, state = (ImportBatch.objects.select_for_update().filter(id=batch.id)
                            .values_list("processed", "quarantine").get())
            if where != batch.processed:
                raise ImportSuperseded(f"batch {batch.id} is at line {where}, this run at {batch.processed}")
            status = _STATUS_IN.get(state, SecretStatus.AVAILABLE)
            inserted = _insert_chunk(rows, numbers, batch.id, batch.product_id, now, status) if rows else 0
            result.imported += inserted
            result.duplicates += len(rows) - inserted
            # The report commits with the chunk: a resumed run neither loses nor repeats a line of it.
            duplicates = []
            if inserted < len(rows):
                duplicates = (_duplicate_lines_postgres(batch.id) if connection.vendor == "postgresql"
                              else _duplicate_lines(rows, numbers, batch.id))
            runs.write(rejected + duplicates)
            ImportBatch.objects.filter(id=batch.id).update(
                processed=batch.processed + pending_lines,
                imported=result.imported,
                duplicates=result.duplicates,
                rejected=result.rejected,
            )
            batch.processed += pending_lines
        if progress:
            progress(pending_lines)
        rows, numbers, rejected = [], [], []
        pending_lines = 0

    for number, line in enumerate(lines, start=1):
        if number <= skip:
            continue  # committed by an earlier run of this import
        pending_lines += 1
        if line is None:  # an API list item that is not text
            key, problem = "", LineProblem.NOT_A_STRING
        else:
            key = normalize_key(line)
            problem = _problem(key)
        if problem:
            result.rejected += 1
            rejected.append((number, problem))
            if len(result.rejected_lines) < 100:
                result.rejected_lines.append((number, problem))
        else:
            rows.append((keyring.encrypt(key), fingerprint_of(key)))
            numbers.append(number)
        if pending_lines >= chunk_size:
            flush()
    if pending_lines or rows:
        flush()
    return result
