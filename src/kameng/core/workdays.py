"""Deadlines in Chinese working days (法定节假日 and 调休 make-up working weekends).

`chinesecalendar` knows the State Council's published calendar; for dates beyond the years it
covers, Monday–Friday is assumed and a warning is logged once per year.
"""

import logging
from datetime import date, datetime, timedelta
from functools import lru_cache

from django.utils import timezone

logger = logging.getLogger(__name__)


@lru_cache(maxsize=4096)
def is_workday(day: date) -> bool:
    import chinese_calendar

    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        _warn_outside_calendar(day.year)
        return day.weekday() < 5


@lru_cache(maxsize=64)
def _warn_outside_calendar(year: int) -> None:
    logger.warning("the Chinese holiday calendar does not cover %s: counting Monday to Friday as working days", year)


def add_workdays(start: datetime, workdays: int) -> datetime:
    """The moment `workdays` working days after `start`, at the same local time of day.

    Friday 15:00 + 1 → Monday 15:00; a request made during a holiday counts from the next working day.
    """
    local = timezone.localtime(start)
    day = local.date()
    remaining = workdays
    while remaining > 0:
        day += timedelta(days=1)
        if is_workday(day):
            remaining -= 1
    return local.replace(year=day.year, month=day.month, day=day.day)
