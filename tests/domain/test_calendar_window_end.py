"""The end of the current working window (``BusinessCalendar.working_time_ends``): when a
covered incident raised in working time is paged if nobody has acknowledged it by then."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from itilflow.domain.calendar import BusinessCalendar

CPH = ZoneInfo("Europe/Copenhagen")


def local(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=CPH)


def calendar(working_hours: str = "mon-fri 08:00-16:00", closed_days: str = "",
             holidays: str = "DK") -> BusinessCalendar:
    return BusinessCalendar.from_settings(timezone="Europe/Copenhagen",
                                          working_hours=working_hours, holidays=holidays,
                                          closed_days=closed_days)


@pytest.mark.parametrize(("instant", "ends"), [
    (local(2026, 11, 24, 10, 0), local(2026, 11, 24, 16, 0)),     # a Tuesday morning
    (local(2026, 11, 24, 8, 0), local(2026, 11, 24, 16, 0)),      # the window's first instant
    (local(2026, 11, 24, 15, 59, 59), local(2026, 11, 24, 16, 0)),
    (local(2026, 11, 24, 16, 0), None),                           # closed from 16:00
    (local(2026, 11, 24, 20, 0), None),                           # an evening
    (local(2026, 11, 28, 10, 0), None),                           # a Saturday
    (local(2026, 12, 25, 10, 0), None),                           # Christmas Day (a holiday)
])
def test_the_end_of_the_working_day(instant, ends):
    found = calendar().working_time_ends(instant)
    assert found == (ends.astimezone(UTC) if ends else None)
    if found is not None:
        assert found.tzinfo is not None and found.utcoffset().total_seconds() == 0


def test_a_closure_from_noon_ends_the_window_at_noon():
    cal = calendar(closed_days="2026-06-05 from 12:00")
    assert cal.working_time_ends(local(2026, 6, 5, 11, 39)) == local(2026, 6, 5, 12, 0)
    assert cal.working_time_ends(local(2026, 6, 5, 12, 0)) is None
    assert cal.working_time_ends(local(2026, 6, 4, 11, 39)) == local(2026, 6, 4, 16, 0)


def test_a_lunch_break_ends_the_morning_window():
    cal = calendar("mon-fri 08:00-12:00, mon-fri 12:30-16:00")
    assert cal.working_time_ends(local(2026, 11, 24, 9, 0)) == local(2026, 11, 24, 12, 0)
    assert cal.working_time_ends(local(2026, 11, 24, 13, 0)) == local(2026, 11, 24, 16, 0)


def test_windows_that_meet_across_midnight_are_one_stretch():
    cal = calendar("mon-fri 00:00-24:00", holidays="")
    # Tuesday 10:00: open through to Friday midnight
    assert cal.working_time_ends(local(2026, 11, 24, 10, 0)) == local(2026, 11, 28, 0, 0)


def test_across_a_dst_change():
    # Saturday 31 October 2026 to Sunday: the clocks go back at 03:00 on 25 October 2026;
    # a window over the night of the change still ends at 16:00 local wall-clock time
    cal = calendar("mon-sun 08:00-16:00", holidays="")
    assert cal.working_time_ends(local(2026, 10, 25, 9, 0)) == local(2026, 10, 25, 16, 0)
    assert cal.working_time_ends(local(2026, 3, 29, 9, 0)) == local(2026, 3, 29, 16, 0)


@pytest.mark.parametrize("hours", ["mon-sun 00:00-24:00", ""])
def test_always_open_or_never_open_has_no_end(hours):
    assert calendar(hours, holidays="").working_time_ends(local(2026, 11, 24, 10, 0)) is None


def test_naive_instants_are_refused():
    with pytest.raises(ValueError):
        calendar().working_time_ends(datetime(2026, 11, 24, 10, 0))


def test_a_holiday_ends_an_always_open_week():
    cal = calendar("mon-sun 00:00-24:00")           # Danish holidays: 25 December is closed
    assert cal.working_time_ends(local(2026, 12, 20, 10, 0)) == local(2026, 12, 25, 0, 0)
