"""`Idempotency-Key`: the same key with the same body returns the first answer; another body, 409.

The work and its record commit in one transaction, so a request that failed leaves no record and
can be retried. Racing retries with one key queue on a lock on the key (the first place in the
codebase's lock order, kameng.core.locks), taken before the work: the first does the work, the
others wait for its commit and then find its record and answer with it — the first answer, not a
409 from redoing work that is already done (refund already open, last key already sold).
"""

import hashlib
import json
from collections.abc import Callable

from django.db import transaction

from kameng.core import clock, locks
from kameng.core.errors import Conflict, Invalid

from .models import IdempotencyRecord

MAX_KEY_LENGTH = 255


def _hash(endpoint: str, body) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{endpoint}\n{canonical}".encode()).hexdigest()


def _replay(record: IdempotencyRecord, request_hash: str) -> tuple[int, dict]:
    if record.request_hash != request_hash:
        raise Conflict(
            "this Idempotency-Key was used with a different request", code="IDEMPOTENCY_KEY_REUSED"
        )
    return record.status_code, record.response


def run_idempotent(*, user, key: str | None, endpoint: str, body, work: Callable[[], tuple[int, dict]]) -> tuple[int, dict]:
    if not key:
        return work()
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise Invalid("Idempotency-Key is at most 255 printable characters", code="INVALID_IDEMPOTENCY_KEY")
    request_hash = _hash(endpoint, body)
    existing = IdempotencyRecord.objects.filter(user=user, key=key).first()
    if existing:  # the common retry: answered without waiting for anything
        return _replay(existing, request_hash)
    with transaction.atomic():
        locks.lock_key("idempotency", user.pk, key)  # a racing retry waits here for the first to commit
        existing = IdempotencyRecord.objects.filter(user=user, key=key).first()
        if existing:
            return _replay(existing, request_hash)
        status, response = work()
        IdempotencyRecord.objects.create(
            user=user, key=key, endpoint=endpoint, request_hash=request_hash,
            status_code=status, response=response, created_at=clock.now(),
        )
        return status, response
