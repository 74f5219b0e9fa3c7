"""Token → user without a database query on the hot path, and revocation seen by every process at once.

The cache is Django's cache alias `shared` (settings): Redis when `KAMENG_CACHE_URL` names one, shared
by every `kameng serve` and worker process. Without it the alias is a dummy cache that never keeps
anything, so every request asks the database — slower, never wrong. (A per-process memory cache
would be wrong: a logout in one process would not reach the others.)

An entry is the token's user, stored under the token's digest together with the token's *generation*:
a random value kept under its own key. Every change that must end a token — logout, password change,
any save of the user (a password set in the admin, deactivation, a role change) — replaces the
generations of the user's tokens, so their entries stop matching in every process at the next
request. A generation that expired or was evicted reads as none: a miss, never a stale hit. It is
replaced before the change commits and again after (on_commit), and read before the database read an
entry caches, so an entry from a read that raced the change cannot outlive it.

One round trip on a hit: the entry, its generation and (sandbox) the test clock in one `get_many`.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.cache import caches
from django.db import transaction

from kameng.core import clock

ENTRY_SECONDS = 600  # an entry is re-read from the database at least this often anyway


def _cache():
    return caches["shared"]


def enabled() -> bool:
    """Whether a shared cache is configured (else every lookup goes to the database, in one query)."""
    from django.core.cache.backends.dummy import DummyCache

    return not isinstance(_cache(), DummyCache)


def _entry_key(digest: str) -> str:
    return f"kameng:token:{digest}"


def _generation_key(digest: str) -> str:
    return f"kameng:token-gen:{digest}"


def _generation_seconds() -> int:
    return settings.KAMENG_TOKEN_DAYS * 86400 + 3600  # outlives the token it guards


@dataclass(frozen=True)
class Entry:
    user: object
    generation: str
    created_at: datetime


def cached_user(digest: str, *, oldest: datetime):
    """The user of a token from the cache, or None (a miss: ask the database)."""
    keys = [_entry_key(digest), _generation_key(digest), *clock.shared_keys()]
    found = _cache().get_many(keys)
    clock.prime(found)  # the request's test clock came with it: no read of its own
    entry, generation = found.get(keys[0]), found.get(keys[1])
    if not isinstance(entry, Entry) or generation is None or entry.generation != generation:
        return None
    if entry.created_at <= oldest:
        return None
    return entry.user


def generation_before_read(digest: str) -> str:
    """The generation to store with an entry, read BEFORE the database read it caches."""
    cache = _cache()
    key = _generation_key(digest)
    generation = cache.get(key)
    if generation is None:
        cache.add(key, secrets.token_hex(8), timeout=_generation_seconds())
        generation = cache.get(key)
    return generation or ""


def remember(digest: str, *, user, generation: str, created_at: datetime) -> None:
    if generation:
        _cache().set(_entry_key(digest), Entry(user=user, generation=generation, created_at=created_at),
                     timeout=ENTRY_SECONDS)


def _bump(digests: list[str]) -> None:
    if digests:
        _cache().set_many({_generation_key(d): secrets.token_hex(8) for d in digests}, timeout=_generation_seconds())


def forget_tokens(digests: list[str]) -> None:
    """These tokens' cached entries stop working now, in every process, and again after commit."""
    if not digests or not enabled():
        return
    _bump(digests)
    transaction.on_commit(lambda: _bump(digests))


def forget_user(user_id: int) -> None:
    """Every token of the user (read before any is deleted): its cached entry stops working now."""
    if not enabled():
        return
    from .models import ApiToken

    forget_tokens(list(ApiToken.objects.filter(user_id=user_id).values_list("digest", flat=True)))
