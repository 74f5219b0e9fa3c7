"""Chinese working days from the holiday table (节假日安排) the admin extends each year."""

import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from kameng.core import holidays
from kameng.core.models import Holiday
from kameng.core.workdays import add_workdays, is_workday, running_out_warning

SH = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(make_user):
    from django.test import Client

    client = Client()
    client.force_login(make_user("admin"))
    return client

# A notice for 2027 as the State Council might publish it (the test's own, not the real one).
NOTICE_2027 = """\
# 国务院办公厅关于2027年部分节假日安排的通知
2027-01-01~2027-01-03,休,元旦
2027-02-06~2027-02-13,休,春节
2027-02-20,班,春节
"""


def test_a_weekend_is_skipped():
    friday = datetime(2025, 3, 14, 15, 0, tzinfo=SH)
    assert add_workdays(friday, 1) == datetime(2025, 3, 17, 15, 0, tzinfo=SH)
    assert add_workdays(friday, 3) == datetime(2025, 3, 19, 15, 0, tzinfo=SH)


def test_national_day_holidays_are_skipped_and_make_up_saturdays_count():
    # 2025: 1–8 October are holidays; Saturday 11 October is a make-up working day (seeded from the library).
    assert not is_workday(date(2025, 10, 3))
    assert is_workday(date(2025, 10, 11))
    sept_30 = datetime(2025, 9, 30, 10, 0, tzinfo=SH)
    assert add_workdays(sept_30, 1) == datetime(2025, 10, 9, 10, 0, tzinfo=SH)
    assert add_workdays(sept_30, 3) == datetime(2025, 10, 11, 10, 0, tzinfo=SH)


def test_new_years_day_is_never_a_working_day_even_before_the_notice(caplog):
    """Bug: beyond chinesecalendar's last year (2026) Monday–Friday were all working days, so a request on
    2026-12-31 got 2027-01-05 as a three-working-day deadline, counting New Year's Day."""
    from kameng.core import workdays

    workdays._warned_years.discard(2027)  # warned once per process: an earlier test may have used 2027 already
    assert not Holiday.objects.filter(date__year=2027).exists()
    assert not is_workday(date(2027, 1, 1))
    assert not is_workday(date(2027, 5, 1)) and not is_workday(date(2027, 10, 1))
    with caplog.at_level(logging.WARNING):
        assert add_workdays(datetime(2026, 12, 31, 10, 0, tzinfo=SH), 3) == datetime(2027, 1, 6, 10, 0, tzinfo=SH)
    assert "2027 is not confirmed" in caplog.text


def test_the_admins_notice_for_the_next_year_sets_the_deadlines(tmp_path):
    request = datetime(2026, 12, 31, 10, 0, tzinfo=SH)
    before_new_year, before_spring_festival = add_workdays(request, 3), add_workdays(datetime(2027, 2, 5, 10, tzinfo=SH), 1)
    assert before_spring_festival == datetime(2027, 2, 8, 10, 0, tzinfo=SH)  # unconfirmed: Monday counts

    notice = tmp_path / "2027.txt"
    notice.write_text(NOTICE_2027, encoding="utf-8")
    with notice.open(encoding="utf-8") as lines:
        result = holidays.holidays_import(lines)
    assert (result.added, result.years) == (12, (2027,))

    assert add_workdays(request, 3) == before_new_year == datetime(2027, 1, 6, 10, 0, tzinfo=SH)
    # Spring Festival off from 6 to 13 February; Saturday the 20th is a make-up working day.
    assert add_workdays(datetime(2027, 2, 5, 10, tzinfo=SH), 1) == datetime(2027, 2, 15, 10, 0, tzinfo=SH)
    assert add_workdays(datetime(2027, 2, 19, 10, tzinfo=SH), 1) == datetime(2027, 2, 20, 10, 0, tzinfo=SH)


def test_a_change_in_the_admin_is_seen_at_once(admin_client):
    assert is_workday(date(2027, 3, 1))  # cached: a Monday
    response = admin_client.post("/admin/core/holiday/add/", {"date": "2027-03-01", "kind": "holiday", "name": "测试"})
    assert response.status_code == 302, response.content[:500]
    assert not is_workday(date(2027, 3, 1))
    Holiday.objects.filter(date=date(2027, 3, 1)).delete()
    assert is_workday(date(2027, 3, 1))


def test_the_calendar_is_read_once_not_per_deadline(django_assert_num_queries):
    add_workdays(datetime(2026, 5, 1, tzinfo=SH), 3)
    with django_assert_num_queries(0):
        for day in range(1, 29):
            add_workdays(datetime(2026, 2, day, 10, tzinfo=SH), 15)


def test_a_loud_warning_before_the_calendar_runs_out(admin_client, caplog):
    from kameng.core.worker import _check_the_calendar

    assert running_out_warning(date(2026, 6, 1)) is None
    warning = running_out_warning(date(2026, 11, 23))  # 38 days of confirmed calendar left
    assert "2026-12-31" in warning and "2027 年的放假安排未确认" in warning and "38" in warning
    assert "kameng holidays import" in warning

    page = admin_client.get("/admin/").content.decode()
    assert 'id="holiday-calendar-warning"' in page and "2027 年的放假安排未确认" in page
    assert "节假日安排" in page  # the table is one click away
    holidays_page = admin_client.get("/admin/core/holiday/?date__year=2026").content.decode()
    assert "2027 年的放假安排未确认" in holidays_page and "国庆节" in holidays_page

    with caplog.at_level(logging.WARNING):
        checked_on = _check_the_calendar(None)  # what the worker does as it starts, then daily
        _check_the_calendar(checked_on)  # not twice the same day
    assert caplog.text.count("HOLIDAY CALENDAR") == 1 and "2027" in caplog.text

    holidays.holidays_import(NOTICE_2027.splitlines())
    assert running_out_warning(date(2026, 11, 23)) is None
    assert 'id="holiday-calendar-warning"' not in admin_client.get("/admin/").content.decode()


def test_a_bad_notice_file_changes_nothing():
    from kameng.core.errors import Invalid

    with pytest.raises(Invalid, match="line 2"):
        holidays.holidays_import(["2027-01-01,休,元旦", "2027-13-01,休,坏日期"])
    with pytest.raises(Invalid, match="line 1"):
        holidays.holidays_import(["2027-01-01,sleep"])
    assert not Holiday.objects.filter(date__year=2027).exists()


def test_the_command_line_enters_a_notice(tmp_path, capsys):
    from kameng.cli import main

    notice = tmp_path / "2027.csv"
    notice.write_text(NOTICE_2027, encoding="utf-8")
    assert main(["holidays", "import", str(notice)]) == 0
    assert "added: 12" in capsys.readouterr().out
    assert main(["holidays", "add", "2027-10-01", "holiday", "国庆节"]) == 0
    assert not is_workday(date(2027, 2, 8)) and Holiday.objects.get(date=date(2027, 10, 1)).name == "国庆节"
    assert main(["holidays", "list", "--year", "2027"]) == 0
    assert "2027-02-20,workday,春节" in capsys.readouterr().out
    assert main(["holidays", "add", "2027-10-02", "nap"]) == 2


@pytest.mark.django_db(transaction=True)
def test_a_flushed_database_gets_the_librarys_calendar_back():
    """Transactional tests flush every table between tests; the seeded notices come back like content types."""
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0)
    assert Holiday.objects.filter(date__year=2026).count() > 30
    assert not is_workday(date(2025, 10, 3)) and is_workday(date(2025, 10, 11))
