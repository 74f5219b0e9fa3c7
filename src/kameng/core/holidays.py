"""Entering the State Council's holiday notices: one day at a time, or a whole notice from a file.

A file has one line per day or range: `2027-01-01,holiday,元旦` or `2027-02-06~2027-02-14,休,春节`
(kind `holiday`/`休`/`放假` or `workday`/`班`/`上班`; `#` starts a comment). A file is taken whole or
not at all; `replace` first removes the other entries of the years it covers (a corrected notice).
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction

from kameng.core import clock
from kameng.core.errors import Invalid

KINDS = {"holiday": "holiday", "休": "holiday", "放假": "holiday", "workday": "workday", "班": "workday", "上班": "workday"}
MAX_RANGE_DAYS = 31
# chinesecalendar's English names, as the notices call them.
LIBRARY_NAMES = {"New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节",
                 "Labour Day": "劳动节", "Dragon Boat Festival": "端午节", "National Day": "国庆节",
                 "Mid-autumn Festival": "中秋节", "Anti-Fascist 70th Day": "抗战胜利70周年纪念日"}


@dataclass
class ImportResult:
    added: int = 0
    changed: int = 0
    removed: int = 0
    years: tuple = ()


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise Invalid(f"not a date (YYYY-MM-DD): {text.strip()[:20]!r}", code="INVALID_HOLIDAY") from None


def _kind(text: str) -> str:
    kind = KINDS.get(text.strip().lower())
    if kind is None:
        raise Invalid(f"the kind is holiday (休) or workday (班), not {text.strip()[:20]!r}", code="INVALID_HOLIDAY")
    return kind


def parse_line(line: str) -> list[tuple[date, str, str]]:
    """One line of a holiday file → its days; an empty or comment line → none."""
    text = line.split("#", 1)[0].strip()
    if not text:
        return []
    parts = [part.strip() for part in text.replace("，", ",").split(",")]
    if len(parts) not in (2, 3):
        raise Invalid("a line is DATE[~DATE],KIND[,NAME]", code="INVALID_HOLIDAY")
    first, _, last = parts[0].replace("～", "~").partition("~")
    start, end = _day(first), _day(last) if last else _day(first)
    if not 0 <= (end - start).days < MAX_RANGE_DAYS:
        raise Invalid(f"a range runs forward and spans at most {MAX_RANGE_DAYS} days", code="INVALID_HOLIDAY")
    kind, name = _kind(parts[1]), (parts[2] if len(parts) == 3 else "")[:40]
    return [(start + timedelta(days=n), kind, name) for n in range((end - start).days + 1)]


def holiday_set(*, day: date, kind: str, name: str = "") -> bool:
    """Enter one day; True when it is new."""
    from .models import Holiday

    _, created = Holiday.objects.update_or_create(
        date=day, defaults={"kind": _kind(kind), "name": name[:40]})
    return created


def holiday_remove(*, day: date) -> bool:
    from .models import Holiday

    return Holiday.objects.filter(date=day).delete()[0] > 0


def holidays_import(lines, *, replace: bool = False) -> ImportResult:
    """A whole notice, all or nothing. Raises Invalid naming the first bad line."""
    from .models import Holiday

    days: dict[date, tuple[str, str]] = {}
    for number, line in enumerate(lines, 1):
        try:
            for day, kind, name in parse_line(line):
                days[day] = (kind, name)
        except Invalid as exc:
            raise Invalid(f"line {number}: {exc.message}", code=exc.code) from None
    result = ImportResult(years=tuple(sorted({day.year for day in days})))
    with transaction.atomic():
        if replace:
            result.removed = Holiday.objects.filter(date__year__in=result.years).exclude(date__in=days).delete()[0]
        existing = {row.date: row for row in Holiday.objects.filter(date__in=days)}
        for day, (kind, name) in sorted(days.items()):
            row = existing.get(day)
            if row is None:
                Holiday.objects.create(date=day, kind=kind, name=name)
                result.added += 1
            elif (row.kind, row.name) != (kind, name):
                row.kind, row.name = kind, name
                row.save()
                result.changed += 1
    return result


def library_days() -> list[tuple[date, str, str]]:
    """Everything the installed `chinesecalendar` knows (its years are the published notices)."""
    try:
        from chinese_calendar import constants
    except ImportError:
        return []
    days = [(day, "holiday", LIBRARY_NAMES.get(str(name), str(name))) for day, name in constants.holidays.items()]
    days += [(day, "workday", LIBRARY_NAMES.get(str(name), str(name))) for day, name in constants.workdays.items()]
    return sorted(days)


def seed_from_library(model=None) -> int:
    """Fill an empty table from the library (the data migration; and after a flush, like contenttypes)."""
    if model is None:
        from .models import Holiday as model
    if model.objects.exists():
        return 0
    now = clock.now()
    rows = [model(date=day, kind=kind, name=name[:40], changed_at=now) for day, kind, name in library_days()]
    model.objects.bulk_create(rows, batch_size=500)
    return len(rows)


def seed_after_migrate(sender=None, apps=None, using="default", **kwargs) -> None:
    """post_migrate: an empty holiday table (a flushed database) is filled from the library again."""
    if apps is None:  # flush sends no migration state: the installed models are the state
        from django.apps import apps
    try:
        model = apps.get_model("core", "Holiday")
    except LookupError:  # not migrated that far
        return
    if seed_from_library(model):
        from .workdays import forget

        forget()
