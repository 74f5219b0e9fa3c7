"""The platform's time. Every rule reads time here, never from `datetime.now()`.

With the sandbox on, an offset stored in the database (the test clock) is added to real time,
so tests and demos can move every deadline forward — like a payment provider's test clocks.
"""

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

# The offset read once for a request or a worker round, so one request sees one clock (and does not
# ask the database for it a dozen times). Inside `pinned()` it is read lazily, on the first `now()`:
# a request that never asks the time never reads it, and with the sandbox off it is never read at all.
_UNREAD = object()
_pinned: ContextVar = ContextVar("kameng_clock_offset", default=None)

# With a shared cache (settings CACHES["shared"], Redis) the offset is kept there too, so a request
# reads it from memory instead of PostgreSQL; `advance` — the only way the platform moves the clock —
# replaces it before and after its transaction commits.
_CACHE_KEY = "kameng:testclock"


def real_now() -> datetime:
    return timezone.now()


def _shared_cache():
    from django.core.cache import caches
    from django.core.cache.backends.dummy import DummyCache

    cache = caches["shared"]
    return None if isinstance(cache, DummyCache) else cache


def _stored_offset() -> timedelta:
    if not settings.KAMENG_SANDBOX:
        return timedelta(0)
    cache = _shared_cache()
    if cache is not None:
        seconds = cache.get(_CACHE_KEY)
        if seconds is not None:
            return timedelta(seconds=seconds)
    from kameng.core.models import TestClock

    seconds = TestClock.objects.filter(id=1).values_list("offset_seconds", flat=True).first() or 0
    from django.db import connection

    if cache is not None and not connection.in_atomic_block:  # only a committed value is shared
        cache.add(_CACHE_KEY, seconds, timeout=60)  # add: never overwrites what an advance just wrote
    return timedelta(seconds=seconds)


def shared_keys() -> list[str]:
    """The clock's cache key when this request has yet to read it: for a caller's `get_many` (the token
    lookup) to fetch it in the same round trip, then `prime` with what came back."""
    if settings.KAMENG_SANDBOX and _pinned.get() is _UNREAD:
        return [_CACHE_KEY]
    return []


def prime(found: dict) -> None:
    if _CACHE_KEY in found and _pinned.get() is _UNREAD:
        _pinned.set(timedelta(seconds=found[_CACHE_KEY]))


def offset() -> timedelta:
    pinned = _pinned.get()
    if pinned is _UNREAD:
        pinned = _stored_offset()
        _pinned.set(pinned)
    return pinned if pinned is not None else _stored_offset()


@contextmanager
def pinned():
    """Read the test clock once for the block (a request, a worker round), when first asked."""
    token = _pinned.set(_UNREAD)
    try:
        yield
    finally:
        _pinned.reset(token)


class PinClockMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with pinned():
            return self.get_response(request)


def now() -> datetime:
    return real_now() + offset()


def advance(*, seconds: int) -> datetime:
    """Move the test clock forward (sandbox only). Time never goes back."""
    from django.db import transaction
    from django.db.models import F

    from kameng.core.models import TestClock

    if seconds < 0:
        raise ValueError("the test clock only moves forward")
    cache = _shared_cache()
    with transaction.atomic():
        TestClock.objects.get_or_create(id=1)
        TestClock.objects.filter(id=1).update(offset_seconds=F("offset_seconds") + seconds)
        if cache is not None:
            cache.delete(_CACHE_KEY)
            transaction.on_commit(lambda: cache.delete(_CACHE_KEY))
    if _pinned.get() is not None:
        _pinned.set(_stored_offset())
    return now()


def is_recent(moment: datetime, *, tolerance: timedelta) -> bool:
    """Whether a timestamp from outside (a gateway notification) is fresh by real or platform time."""
    return abs(real_now() - moment) <= tolerance or abs(now() - moment) <= tolerance
