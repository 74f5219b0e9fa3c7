"""How a time is shown to a person: always Beijing time (Asia/Shanghai), whatever the server's zone.

The database and `clock.now()` hold aware UTC datetimes. Formatting one with strftime prints UTC
digits that a buyer reads as Beijing time — eight hours early — so every text a person reads
(站内信, SMS, e-mail, eligibility reasons) goes through `for_person`, which writes what the pages
write ("Y-m-d H:i"), and every machine-readable document (dossier, records, API) through
`iso_beijing`, so one file never mixes +00:00 and +08:00.
"""

from datetime import date, datetime
from zoneinfo import ZoneInfo

BEIJING = ZoneInfo("Asia/Shanghai")


def in_beijing(moment: datetime) -> datetime:
    if moment.tzinfo is None:  # a naive time has no meaning under USE_TZ; refusing beats guessing
        raise ValueError("a naive datetime cannot be shown to a person")
    return moment.astimezone(BEIJING)


def for_person(moment: datetime | date, *, with_time: bool = True) -> str:
    """'2026-11-25 00:54' (or '2026-11-25' without the time), in Beijing time, as the pages show it."""
    if not isinstance(moment, datetime):  # a calendar date has no zone
        return f"{moment:%Y-%m-%d}"
    local = in_beijing(moment)
    return f"{local:%Y-%m-%d %H:%M}" if with_time else f"{local:%Y-%m-%d}"


def iso_beijing(moment: datetime | None) -> str | None:
    """ISO 8601 with the +08:00 offset, for documents a machine checks and a person may read."""
    return in_beijing(moment).isoformat() if moment is not None else None
