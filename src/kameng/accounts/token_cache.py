"""Token → user without a database query on the hot path, and revocation seen by every process at once.

The cache is Django's cache alias `shared` (settings): Redis when `KAMENG_CACHE_URL` names one, shared
by every `kameng serve` and worker process. Without it the alias is a dummy cache that never keeps
anything, so every request asks the database — slower, never wrong. (A per-process memory cache
would be wrong: a logout in one process would not reach the others.)

An entry is the token's user, stored under the token's digest together with the user's *generation*:
a random value kept under its own key. Every change that must end a token — logout, password change,
any save of the user (a password set in the admin, deactivation, a role change) — replaces the
generation, so every entry cached for that user stops matching in every process at the next request.
A generation that was evicted reads as none, which is a miss, never a stale hit. The generation is
replaced before the change commits and again after (on_commit), so an entry cached from a read that
raced the change cannot outlive it.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.core.cache import caches
from django.db import transaction

ENTRY_SECONDS = 600  # an entry is re-read from the database at least this often anyway


def _cache():
    return caches["shared"]


def enabled() -> bool:
    """Whether a shared cache is configured (else every lookup goes to the database, in one query)."""
    from django.core.cache.backends.dummy import DummyCache

    return not isinstance(_cache(), DummyCache)


def _entry_key(digest: str) -> str:
    return f"kameng:token:{digest}"


def _generation_key(user_id: int) -> str:
    return f"kameng:user-gen:{user_id}"


@dataclass(frozen=True)
class Entry:
    user: object
    generation: str
    created_at: datetime


def cached_user(digest: str, *, oldest: datetime):
    """The user of a token from the cache, or None (a miss: ask the database)."""
    cache = _cache()
    entry = cache.get(_entry_key(digest))
    if not isinstance(entry, Entry) or entry.created_at <= oldest:
        return None
    if cache.get(_generation_key(entry.user.pk)) != entry.generation:
        return None  # the user changed, logged out or was evicted since: ask the database
    return entry.user


def generation_before_read(user_id: int) -> str:
    """The generation to store with an entry, read BEFORE the database read it caches."""
    cache = _cache()
    key = _generation_key(user_id)
    generation = cache.get(key)
    if generation is None:
        cache.add(key, secrets.token_hex(8), timeout=None)
        generation = cache.get(key)
    return generation or ""


def remember(digest: str, *, user, generation: str, created_at: datetime) -> None:
    if generation:
        _cache().set(_entry_key(digest), Entry(user=user, generation=generation, created_at=created_at),
                     timeout=ENTRY_SECONDS)


def _bump(user_id: int) -> None:
    _cache().set(_generation_key(user_id), secrets.token_hex(8), timeout=None)


def forget_user(user_id: int) -> None:
    """Every cached token of the user stops working now, in every process, and again after commit."""
    _bump(user_id)
    transaction.on_commit(lambda: _bump(user_id))
