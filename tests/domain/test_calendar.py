"""The business calendar: parsing, the working-time decision table, DST, holidays, arithmetic."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from itilflow.domain import calendar as calendar_module
from itilflow.domain.calendar import (
    BusinessCalendar,
    parse_closed_days,
    parse_closures,
    parse_working_hours,
)
from itilflow.domain.errors import ConfigError

CPH = ZoneInfo("Europe/Copenhagen")
ALWAYS = "mon-sun 00:00-24:00"


def local(*parts: int) -> datetime:
    """An instant given as Copenhagen wall-clock time."""
    return datetime(*parts, tzinfo=CPH)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def calendar(working_hours: str = "mon-fri 08:00-16:00", **settings: str) -> BusinessCalendar:
    return BusinessCalendar.from_settings(
        timezone=settings.get("timezone", "Europe/Copenhagen"),
        working_hours=working_hours,
        holidays=settings.get("holidays", "DK"),
        closed_days=settings.get("closed_days", ""),
    )


# -- parsing ------------------------------------------------------------------------------------


def test_default_hours_are_weekdays_eight_to_four() -> None:
    week = parse_working_hours("mon-fri 08:00-16:00")
    assert week == {**{day: [(480, 960)] for day in range(5)}, 5: [], 6: []}
    assert BusinessCalendar().working_hours == {day: tuple(w) for day, w in week.items()}


def test_parse_lists_single_days_and_several_windows() -> None:
    week = parse_working_hours(
        "Mon-Thu 08:00-16:00, fri 08:00-15:30, sat 09:00-12:00 13:00-14:00,sun 10:00-11:00"
    )
    assert week[0] == week[3] == [(480, 960)]
    assert week[4] == [(480, 930)]
    assert week[5] == [(540, 720), (780, 840)]
    assert week[6] == [(600, 660)]


def test_parse_joins_touching_windows() -> None:
    assert parse_working_hours("mon 08:00-12:00, mon 12:00-16:00")[0] == [(480, 960)]


def test_parse_always_and_never() -> None:
    assert parse_working_hours(ALWAYS) == {day: [(0, 1440)] for day in range(7)}
    assert parse_working_hours("") == {day: [] for day in range(7)}
    assert parse_working_hours("   ") == {day: [] for day in range(7)}


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("mon-fri", "'mon-fri'"),
        ("mon-fri 8-16", "'mon-fri 8-16'"),
        ("mon-fry 08:00-16:00", "'fry'"),
        ("fri-mon 08:00-16:00", "runs backwards"),
        ("mon 16:00-08:00", "16:00-08:00"),
        ("mon 08:00-08:00", "08:00-08:00"),
        ("mon 08:60-16:00", "08:60"),
        ("mon 08:00-24:30", "24:30"),
        ("mon 25:00-26:00", "25:00"),
        ("mon-fri 08:00-16:00,", "empty entry"),
        ("mon-fri 08:00-16:00, fri 08:00-15:30", "fri windows 08:00-15:30 and 08:00-16:00 overlap"),
    ],
)
def test_parse_rejects_bad_specs_naming_the_bad_part(spec: str, named: str) -> None:
    with pytest.raises(ConfigError, match="working hours") as raised:
        parse_working_hours(spec)
    assert named in str(raised.value)


def test_closed_days_parse_and_reject_bad_dates() -> None:
    assert parse_closed_days("") == frozenset()
    assert parse_closed_days("2026-12-24, 2026-12-31") == {date(2026, 12, 24), date(2026, 12, 31)}
    for bad in ("2026-13-01", "24/12/2026", "20261224", "tomorrow"):
        with pytest.raises(ConfigError, match=f"closed days: '{bad}'"):
            parse_closed_days(f"2026-12-31,{bad}")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"timezone": "Europe/Kopenhagen"}, "unknown time zone 'Europe/Kopenhagen'"),
        ({"holidays": "XX"}, "no holiday calendar for country 'XX'"),
        ({"closed_days": "2026-02-30"}, "'2026-02-30'"),
    ],
)
def test_from_settings_rejects_bad_settings(settings: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        calendar(**settings)


# -- is_working_time: the decision table --------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "working"),
    [
        (local(2026, 3, 4, 10, 0), True),  # Wednesday 10:00
        (local(2026, 3, 4, 7, 59, 59), False),
        (local(2026, 3, 4, 8, 0), True),  # half-open windows: the start is in
        (local(2026, 3, 4, 15, 59, 59, 999999), True),
        (local(2026, 3, 4, 16, 0), False),  # ... and the end is out
        (local(2026, 3, 7, 10, 0), False),  # Saturday
        (local(2026, 3, 8, 10, 0), False),  # Sunday
        (local(2026, 4, 2, 10, 0), False),  # Maundy Thursday
        (local(2026, 4, 3, 10, 0), False),  # Good Friday
        (local(2026, 4, 6, 10, 0), False),  # Easter Monday
        (local(2026, 5, 14, 10, 0), False),  # Ascension Day
        (local(2026, 5, 25, 10, 0), False),  # Whit Monday
        (local(2026, 12, 25, 10, 0), False),  # Christmas Day
        (local(2026, 12, 26, 10, 0), False),  # Second Day of Christmas (a Saturday anyway)
        (local(2027, 1, 1, 10, 0), False),  # New Year's Day
        (local(2026, 5, 1, 10, 0), True),  # 1 May: not a public holiday in Denmark
        (local(2026, 6, 5, 10, 0), True),  # Constitution Day: only an observance
        (local(2026, 12, 24, 10, 0), True),  # Christmas Eve: closed only if configured
        (local(2026, 12, 31, 10, 0), True),  # New Year's Eve: likewise
        (utc(2026, 3, 4, 7, 0), True),  # 08:00 CET
        (utc(2026, 3, 4, 6, 59, 59), False),
        (utc(2026, 7, 1, 6, 0), True),  # 08:00 CEST
        (utc(2026, 7, 1, 14, 0), False),  # 16:00 CEST
    ],
)
def test_is_working_time(instant: datetime, working: bool) -> None:
    assert BusinessCalendar().is_working_time(instant) is working


def test_store_bededag_is_a_working_day_from_2024() -> None:
    cal = BusinessCalendar()
    # Great Prayer Day was abolished as a public holiday by law from 2024.
    assert cal.holiday_name(date(2023, 5, 5)) == "Great Prayer Day"
    assert not cal.is_working_day(date(2023, 5, 5))
    assert cal.holiday_name(date(2024, 4, 26)) is None
    assert cal.is_working_day(date(2024, 4, 26))
    assert cal.is_working_time(local(2024, 4, 26, 10, 0))
    assert cal.is_working_day(date(2026, 5, 1))  # its 2026 date would have been 1 May


def test_holiday_names_are_english_and_countries_are_configurable() -> None:
    assert BusinessCalendar().holiday_name(date(2026, 4, 3)) == "Good Friday"
    assert BusinessCalendar().holiday_name(date(2026, 4, 7)) is None
    no_holidays = calendar(holidays="")
    assert no_holidays.holiday_country is None
    assert no_holidays.is_working_time(local(2026, 12, 25, 10, 0))
    assert calendar(holidays="se").is_working_time(local(2026, 1, 6, 10, 0)) is False


def test_closed_days_are_closed() -> None:
    cal = calendar(closed_days="2026-12-24,2026-12-31")
    assert not cal.is_working_day(date(2026, 12, 24))
    assert not cal.is_working_time(local(2026, 12, 24, 10, 0))
    assert not cal.is_working_time(local(2026, 12, 31, 10, 0))
    assert cal.is_working_time(local(2026, 12, 30, 10, 0))
    assert cal.holiday_name(date(2026, 12, 24)) is None


def test_a_day_closed_from_noon_works_until_noon() -> None:
    """Constitution Day (Friday 5 June 2026) at a state employer: closed from 12:00. The
    afternoon is after hours (a P1 on a system with vagtordning pages), business clocks stop
    at noon and go on on Monday."""
    cal = calendar(closed_days="2026-12-24, 2026-06-05 from 12:00")
    assert cal.is_working_day(date(2026, 6, 5))
    assert cal.is_working_time(local(2026, 6, 5, 11, 59, 59))
    assert not cal.is_working_time(local(2026, 6, 5, 12, 0))
    assert not cal.is_working_time(local(2026, 6, 5, 15, 0))
    assert cal.is_working_time(local(2026, 6, 4, 15, 0))  # the day before is a whole day
    assert cal.working_seconds_between(local(2026, 6, 5, 0, 0), local(2026, 6, 6, 0, 0)) == 4 * 3600
    assert cal.add_working_time(local(2026, 6, 5, 11, 0), 2 * 3600) == local(2026, 6, 8, 9, 0)
    assert cal.next_working_instant(local(2026, 6, 5, 13, 0)) == local(2026, 6, 8, 8, 0)
    # closed from before the day's first window: closed all day
    early = calendar(closed_days="2026-06-05 from 07:00")
    assert not early.is_working_time(local(2026, 6, 5, 9, 0))


def test_closures_parse_whole_and_partial_days() -> None:
    days, partial = parse_closures("2026-12-24, 2026-06-05 from 12:00, 2026-06-05 from 9:30")
    assert days == {date(2026, 12, 24)}
    assert dict(partial) == {date(2026, 6, 5): 9 * 60 + 30}  # the earlier closing wins
    whole, partial = parse_closures("2026-12-24 from 12:00, 2026-12-24")
    assert whole == {date(2026, 12, 24)} and not partial  # closed all day says more
    for bad in ("2026-06-05 from 24:00", "2026-06-05 from noon", "2026-06-05 12:00",
                "2026-06-05 from 12:60"):
        with pytest.raises(ConfigError, match="closed days"):
            parse_closures(bad)


def test_always_and_never() -> None:
    always, never = calendar(ALWAYS), calendar("")
    for instant in (local(2026, 3, 7, 3, 0), local(2026, 12, 25, 23, 59), utc(2026, 3, 29, 1)):
        assert never.is_working_time(instant) is False
    # Holidays close even an always-open schedule; without holidays it is truly always.
    assert always.is_working_time(local(2026, 3, 7, 3, 0))
    assert not always.is_working_time(local(2026, 12, 25, 12, 0))
    assert calendar(ALWAYS, holidays="").is_working_time(local(2026, 12, 25, 12, 0))
    assert never.next_working_instant(utc(2026, 3, 4, 10)) is None
    assert never.add_working_time(utc(2026, 3, 4, 10), 60) is None
    assert never.working_seconds_between(utc(2026, 1, 1), utc(2027, 1, 1)) == 0
    assert not never.has_working_time


def test_naive_instants_are_refused() -> None:
    cal = BusinessCalendar()
    with pytest.raises(ValueError, match="naive"):
        cal.is_working_time(datetime(2026, 3, 4, 10, 0))
    with pytest.raises(ValueError, match="naive"):
        cal.working_seconds_between(datetime(2026, 3, 4, 10, 0), utc(2026, 3, 5))


# -- DST ----------------------------------------------------------------------------------------


def test_spring_forward_night() -> None:
    cal = calendar(ALWAYS, holidays="")
    start, end = local(2026, 3, 29, 0, 0), local(2026, 3, 30, 0, 0)
    assert cal.working_seconds_between(start, end) == 23 * 3600
    # 01:59:59 CET is followed by 03:00:00 CEST: one second apart in real time.
    before = utc(2026, 3, 29, 0, 59, 59)
    assert before.astimezone(CPH).hour == 1
    assert cal.working_seconds_between(before, utc(2026, 3, 29, 1, 0)) == 1
    assert cal.is_working_time(utc(2026, 3, 29, 1, 0))
    # A window that lies in the skipped hour is shortened to what exists of it.
    night = calendar("sun 02:30-03:30", holidays="")
    assert night.working_seconds_between(start, end) == 30 * 60
    assert night.next_working_instant(start) == utc(2026, 3, 29, 1, 0)  # 03:00 CEST


def test_fall_back_night() -> None:
    cal = calendar(ALWAYS, holidays="")
    start, end = local(2026, 10, 25, 0, 0), local(2026, 10, 26, 0, 0)
    assert cal.working_seconds_between(start, end) == 25 * 3600
    # The repeated hour 02:00-03:00 is in a 02:00-03:00 window twice.
    night = calendar("sun 02:00-03:00", holidays="")
    assert night.working_seconds_between(start, end) == 2 * 3600
    assert night.is_working_time(utc(2026, 10, 25, 0, 30))  # 02:30 CEST
    assert night.is_working_time(utc(2026, 10, 25, 1, 30))  # 02:30 CET
    assert not night.is_working_time(utc(2026, 10, 25, 2, 0))  # 03:00 CET
    assert night.add_working_time(start, 3600 + 60) == utc(2026, 10, 25, 1, 1)


def test_business_days_around_dst_keep_wall_clock_hours() -> None:
    cal = BusinessCalendar()
    # Friday before spring forward 08:00 CET = 07:00 UTC; the Monday after, 08:00 CEST = 06:00.
    assert cal.next_working_instant(local(2026, 3, 27, 17, 0)) == utc(2026, 3, 30, 6, 0)
    assert cal.working_seconds_between(local(2026, 3, 27, 15, 0), local(2026, 3, 30, 9, 0)) == (
        2 * 3600
    )
    assert cal.working_seconds_between(local(2026, 10, 23, 15, 0), local(2026, 10, 26, 9, 0)) == (
        2 * 3600
    )


# -- next_working_instant -----------------------------------------------------------------------


def test_next_working_instant_is_the_instant_itself_in_working_time() -> None:
    instant = local(2026, 3, 4, 10, 15, 30)
    result = BusinessCalendar().next_working_instant(instant)
    assert result == instant and result.tzinfo is UTC


@pytest.mark.parametrize(
    ("instant", "expected"),
    [
        (local(2026, 3, 6, 17, 0), utc(2026, 3, 9, 7, 0)),  # Friday evening -> Mon 08:00 CET
        (local(2026, 6, 5, 16, 0), utc(2026, 6, 8, 6, 0)),  # Friday 16:00 -> Mon 08:00 CEST
        (local(2026, 3, 4, 7, 0), utc(2026, 3, 4, 7, 0)),  # early morning -> 08:00 same day
        (local(2026, 4, 1, 16, 30), utc(2026, 4, 7, 6, 0)),  # before Easter -> Tuesday after
        (local(2026, 4, 2, 18, 0), utc(2026, 4, 7, 6, 0)),  # Maundy Thursday evening
        (local(2026, 12, 23, 16, 0), utc(2026, 12, 24, 7, 0)),  # Christmas Eve is working
    ],
)
def test_next_working_instant_skips_evenings_weekends_and_holidays(
    instant: datetime, expected: datetime
) -> None:
    assert BusinessCalendar().next_working_instant(instant) == expected


def test_next_working_instant_skips_closed_days() -> None:
    cal = calendar(closed_days="2026-12-24,2026-12-28,2026-12-31")
    assert cal.next_working_instant(local(2026, 12, 23, 16, 0)) == utc(2026, 12, 29, 7, 0)


# -- working_seconds_between and add_working_time -----------------------------------------------


def test_working_seconds_across_a_weekend() -> None:
    cal = BusinessCalendar()
    assert cal.working_seconds_between(local(2026, 3, 6, 14, 0), local(2026, 3, 9, 10, 0)) == (
        4 * 3600
    )
    assert cal.working_seconds_between(local(2026, 3, 7, 0, 0), local(2026, 3, 9, 0, 0)) == 0
    assert cal.working_seconds_between(local(2026, 3, 9, 10), local(2026, 3, 6, 14)) == 0


def test_working_seconds_over_a_month_and_a_year() -> None:
    cal = BusinessCalendar()
    # March 2026: 22 weekdays, no holidays. April: 22 weekdays minus 3 Easter holidays.
    assert cal.working_seconds_between(local(2026, 3, 1), local(2026, 4, 1)) == 22 * 8 * 3600
    assert cal.working_seconds_between(local(2026, 4, 1), local(2026, 5, 1)) == 19 * 8 * 3600
    # 2026: 261 weekdays, of which 7 are public holidays (26 Dec falls on a Saturday).
    assert cal.working_seconds_between(local(2026, 1, 1), local(2027, 1, 1)) == 254 * 8 * 3600


def test_working_seconds_with_fractions() -> None:
    cal = BusinessCalendar()
    start = local(2026, 3, 4, 15, 59, 59, 500000)
    assert cal.working_seconds_between(start, local(2026, 3, 5, 8, 0, 0, 250000)) == 0.75


def test_add_working_time_over_evenings_weekends_and_easter() -> None:
    cal = BusinessCalendar()
    assert cal.add_working_time(local(2026, 3, 4, 10), 3600) == local(2026, 3, 4, 11)
    # Used up exactly at 16:00: due at 16:00, not at the next morning.
    assert cal.add_working_time(local(2026, 3, 4, 10), 6 * 3600) == local(2026, 3, 4, 16)
    assert cal.add_working_time(local(2026, 3, 6, 15), 2 * 3600) == local(2026, 3, 9, 9)
    assert cal.add_working_time(local(2026, 4, 1, 15), 2 * 3600) == local(2026, 4, 7, 9)
    # Starting out of hours, the time starts counting at the next window.
    assert cal.add_working_time(local(2026, 3, 7, 12), 60) == local(2026, 3, 9, 8, 1)
    assert cal.add_working_time(local(2026, 3, 7, 12), 0) == local(2026, 3, 7, 12)
    with pytest.raises(ValueError, match="negative"):
        cal.add_working_time(local(2026, 3, 7, 12), -1)


@pytest.mark.parametrize(
    "hours", ["mon-fri 08:00-16:00", "mon-thu 08:00-16:00, fri 08:00-15:30", ALWAYS]
)
@pytest.mark.parametrize(
    "start",
    [
        local(2026, 3, 27, 9, 17, 3),  # the Friday before spring forward
        local(2026, 10, 23, 15, 0),  # the Friday before fall back
        local(2026, 3, 29, 1, 30),  # inside the spring-forward night
        utc(2026, 10, 25, 0, 45),  # the first 02:45 of the fall-back night
        local(2026, 3, 31, 23, 0),  # before Easter
    ],
)
@pytest.mark.parametrize("seconds", [1, 59.5, 3600, 8 * 3600, 3 * 8 * 3600 + 123, 40 * 86400])
def test_add_working_time_round_trips(hours: str, start: datetime, seconds: float) -> None:
    cal = calendar(hours)
    due = cal.add_working_time(start, seconds)
    assert due is not None and due.tzinfo is UTC
    assert cal.working_seconds_between(start, due) == seconds
    # The due instant is the first one at which that much time has passed.
    assert cal.working_seconds_between(start, due - timedelta(microseconds=1)) < seconds


def test_results_are_utc() -> None:
    cal = BusinessCalendar()
    for result in (
        cal.next_working_instant(local(2026, 3, 6, 17)),
        cal.add_working_time(local(2026, 3, 6, 15), 7200),
    ):
        assert result is not None and result.utcoffset() == timedelta(0)


def test_calendars_compare_and_hash_by_settings() -> None:
    assert calendar() == BusinessCalendar()
    assert hash(calendar()) == hash(BusinessCalendar())
    assert calendar(closed_days="2026-12-24") != BusinessCalendar()


@settings(max_examples=300, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)
    ),
    microseconds=st.integers(min_value=0, max_value=90 * 86_400 * 1_000_000),
    hours=st.sampled_from(["mon-fri 08:00-16:00", "mon-sat 07:30-12:00 12:30-17:00", ALWAYS]),
)
def test_add_working_time_inverts_working_seconds_between(
    start: datetime, microseconds: int, hours: str
) -> None:
    cal = calendar(hours)
    seconds = microseconds / 1_000_000
    due = cal.add_working_time(start, seconds)
    assert due is not None and due >= start
    assert cal.working_seconds_between(start, due) == pytest.approx(seconds, abs=1e-6)
    if seconds:
        assert cal.is_working_time(due - timedelta(microseconds=1))
        assert cal.next_working_instant(start) <= due


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2027, 12, 31),
                       timezones=st.just(UTC)),
    span=st.floats(min_value=0, max_value=900 * 86400),
)
def test_long_spans_use_year_totals_and_agree_with_the_day_walk(start, span):
    calendar = BusinessCalendar(closed_days=frozenset({date(2025, 12, 24), date(2026, 12, 31)}))
    end = start + timedelta(seconds=span)
    start_us, end_us = calendar_module._to_us(start), calendar_module._to_us(end)
    assert calendar._working_us_between(start_us, end_us) == calendar._walk_us(start_us, end_us)
