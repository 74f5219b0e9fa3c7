from datetime import datetime
from zoneinfo import ZoneInfo

from kameng.core.workdays import add_workdays, is_workday

SH = ZoneInfo("Asia/Shanghai")


def test_a_weekend_is_skipped():
    friday = datetime(2025, 3, 14, 15, 0, tzinfo=SH)
    assert add_workdays(friday, 1) == datetime(2025, 3, 17, 15, 0, tzinfo=SH)
    assert add_workdays(friday, 3) == datetime(2025, 3, 19, 15, 0, tzinfo=SH)


def test_national_day_holidays_are_skipped_and_make_up_saturdays_count():
    # 2025: 1–8 October are holidays; Saturday 11 October is a make-up working day.
    assert not is_workday(datetime(2025, 10, 3).date())
    assert is_workday(datetime(2025, 10, 11).date())
    sept_30 = datetime(2025, 9, 30, 10, 0, tzinfo=SH)
    assert add_workdays(sept_30, 1) == datetime(2025, 10, 9, 10, 0, tzinfo=SH)
    assert add_workdays(sept_30, 3) == datetime(2025, 10, 11, 10, 0, tzinfo=SH)


def test_beyond_the_calendar_monday_to_friday_is_assumed(caplog):
    friday = datetime(2099, 1, 2, 9, 0, tzinfo=SH)
    assert add_workdays(friday, 1) == datetime(2099, 1, 5, 9, 0, tzinfo=SH)
    assert "does not cover 2099" in caplog.text
