"""Deadlines in Chinese working days (法定节假日 and 调休 make-up working weekends).

The calendar is the `Holiday` table: each year's State Council notice (国务院办公厅关于某年部分节假日安排的
通知), seeded from `chinesecalendar` by a migration and extended by an admin when the next notice is
published, usually late in the year before (Django admin 节假日安排, or `kameng holidays import FILE`).

A year with no entry in the table is unconfirmed: Monday to Friday count as working days, except the
fixed-date statutory holidays of 《全国年节及纪念日放假办法》 (元旦 1 Jan, 劳动节 1–2 May, 国庆节 1–3 Oct),
so New Year's Day is never a working day. Fewer than `KAMENG_CALENDAR_WARN_DAYS` (60) days of confirmed
calendar left is announced loudly: the worker logs it at start and daily, admins see it on the admin
index, `kameng holidays status` prints it.

Deadlines are computed on hot paths, so the table is held in memory per process: reloaded when this
process changes it (signals) and at least every `RELOAD_SECONDS` (another process's change).
"""

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.utils import timezone

logger = logging.getLogger(__name__)

RELOAD_SECONDS = 60
DEFAULT_WARN_DAYS = 60
FIXED_STATUTORY_HOLIDAYS = {(1, 1): "元旦", (5, 1): "劳动节", (5, 2): "劳动节",
                            (10, 1): "国庆节", (10, 2): "国庆节", (10, 3): "国庆节"}
HOLIDAY, WORKDAY = "holiday", "workday"


@dataclass(frozen=True)
class Calendar:
    days: dict = field(default_factory=dict)  # date → HOLIDAY or WORKDAY, as the notices say
    years: frozenset = frozenset()  # the years with a notice entered

    def is_confirmed(self, day: date) -> bool:
        return day.year in self.years

    def is_workday(self, day: date) -> bool:
        kind = self.days.get(day)
        if kind is not None:
            return kind == WORKDAY
        if day.year not in self.years and (day.month, day.day) in FIXED_STATUTORY_HOLIDAYS:
            return False
        return day.weekday() < 5

    def confirmed_through(self, today: date) -> date | None:
        """The last day of the unbroken run of confirmed years that starts with this one (None: not even this year)."""
        year = today.year
        while year in self.years:
            year += 1
        return date(year - 1, 12, 31) if year > today.year else None


_lock = threading.Lock()
_loaded: tuple[float, Calendar] | None = None


def calendar() -> Calendar:
    global _loaded
    loaded = _loaded
    if loaded is not None and time.monotonic() - loaded[0] < RELOAD_SECONDS:
        return loaded[1]
    with _lock:
        if _loaded is None or time.monotonic() - _loaded[0] >= RELOAD_SECONDS:
            _loaded = (time.monotonic(), _load())
        return _loaded[1]


def _load() -> Calendar:
    from .models import Holiday

    days = dict(Holiday.objects.values_list("date", "kind"))
    return Calendar(days=days, years=frozenset(day.year for day in days))


def forget() -> None:
    """Drop this process's copy: the next deadline reads the table again."""
    global _loaded
    _loaded = None


def table_changed(**_) -> None:
    """Signal receiver: forget now, and again once the change commits (a reload in between saw the old rows)."""
    from django.db import transaction

    forget()
    transaction.on_commit(forget)


def is_workday(day: date) -> bool:
    cal = calendar()
    if not cal.is_confirmed(day):
        _warn_unconfirmed_year(day.year)
    return cal.is_workday(day)


_warned_years: set[int] = set()


def _warn_unconfirmed_year(year: int) -> None:
    if year not in _warned_years:
        _warned_years.add(year)
        logger.warning("the holiday calendar for %s is not confirmed: counting Monday to Friday as working days, "
                       "but never 元旦, 劳动节 1–2 May or 国庆节 1–3 October", year)


def add_workdays(start: datetime, workdays: int) -> datetime:
    """The moment `workdays` working days after `start`, at the same local time of day.

    Friday 15:00 + 1 → Monday 15:00; a request made during a holiday counts from the next working day.
    """
    local = timezone.localtime(start)
    cal = calendar()
    day = local.date()
    remaining = workdays
    while remaining > 0:
        day += timedelta(days=1)
        if not cal.is_confirmed(day):
            _warn_unconfirmed_year(day.year)
        if cal.is_workday(day):
            remaining -= 1
    return local.replace(year=day.year, month=day.month, day=day.day)


def running_out_warning(today: date | None = None) -> str | None:
    """The warning to show while fewer than KAMENG_CALENDAR_WARN_DAYS of confirmed calendar remain, else None."""
    from . import clock

    today = today or timezone.localdate(clock.now())
    warn_days = int(getattr(settings, "KAMENG_CALENDAR_WARN_DAYS", DEFAULT_WARN_DAYS))
    through = calendar().confirmed_through(today)
    left = (through - today).days if through else -1
    if left >= warn_days:
        return None
    unconfirmed = (through.year + 1) if through else today.year
    known = f"节假日安排只确认到 {through:%Y-%m-%d}（还剩 {left} 天）" if through else f"{today.year} 年的节假日安排尚未录入"
    return (f"{known}：{unconfirmed} 年的放假安排未确认，该年除元旦、劳动节、国庆节的固定假日外按周一至周五计算工作日，"
            f"审核与到账期限可能不准。国务院办公厅发布通知后，请在后台“节假日安排”或用 "
            f"`kameng holidays import` 录入。 (The holiday calendar is confirmed only through "
            f"{through or 'no date'}; {unconfirmed} is unconfirmed.)")


def warn_if_running_out() -> str | None:
    """Log the running-out warning (worker start, daily); returns it."""
    message = running_out_warning()
    if message:
        logger.warning("HOLIDAY CALENDAR: %s", message)
    return message
