"""The platform's time. Every rule reads time here, never from `datetime.now()`.

With the sandbox on, an offset stored in the database (the test clock) is added to real time,
so tests and demos can move every deadline forward — like a payment provider's test clocks.
"""

from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

# The offset read once for a request or a worker round, so one request sees one clock
# (and does not ask the database for it a dozen times).
_pinned: ContextVar[timedelta | None] = ContextVar("kameng_clock_offset", default=None)


def real_now() -> datetime:
    return timezone.now()


def _stored_offset() -> timedelta:
    if not settings.KAMENG_SANDBOX:
        return timedelta(0)
    from kameng.core.models import TestClock

    seconds = TestClock.objects.filter(id=1).values_list("offset_seconds", flat=True).first()
    return timedelta(seconds=seconds or 0)


def offset() -> timedelta:
    pinned = _pinned.get()
    return pinned if pinned is not None else _stored_offset()


@contextmanager
def pinned():
    """Read the test clock once for the block (a request, a worker round)."""
    token = _pinned.set(_stored_offset())
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
    with transaction.atomic():
        TestClock.objects.get_or_create(id=1)
        TestClock.objects.filter(id=1).update(offset_seconds=F("offset_seconds") + seconds)
    if _pinned.get() is not None:
        _pinned.set(_stored_offset())
    return now()


def is_recent(moment: datetime, *, tolerance: timedelta) -> bool:
    """Whether a timestamp from outside (a gateway notification) is fresh by real or platform time."""
    return abs(real_now() - moment) <= tolerance or abs(now() - moment) <= tolerance
