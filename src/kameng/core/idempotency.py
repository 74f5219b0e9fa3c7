"""`Idempotency-Key`: the same key with the same body returns the first answer; another body, 409.

The record is written in the same transaction as the work, so a request that failed leaves no
record and can be retried; two racing requests with one key do the work once (the loser's insert
hits the unique constraint, its transaction rolls back, and it answers with the winner's result).
"""

import hashlib
import json
from collections.abc import Callable

from django.db import IntegrityError, transaction

from kameng.core import clock
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
    if existing:
        return _replay(existing, request_hash)
    try:
        with transaction.atomic():
            status, response = work()
            IdempotencyRecord.objects.create(
                user=user, key=key, endpoint=endpoint, request_hash=request_hash,
                status_code=status, response=response, created_at=clock.now(),
            )
            return status, response
    except IntegrityError:
        existing = IdempotencyRecord.objects.filter(user=user, key=key).first()
        if existing is None:
            raise
        return _replay(existing, request_hash)
