"""The calendar's lookup tables (UTC offsets per day, working intervals per local day, running
totals per year) give exactly what the reference day walk gives."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from itilflow.domain import calendar as calendar_module
from itilflow.domain.calendar import BusinessCalendar, parse_working_hours

CALENDARS = [
    BusinessCalendar(closed_days=frozenset({date(2025, 12, 24), date(2026, 12, 31)})),
    BusinessCalendar.from_settings(timezone="Europe/Copenhagen", working_hours="mon-fri 08:00-16:00",
                                   holidays="DK", closed_days="2026-06-05 from 12:00, "
                                   "2025-12-23 from 07:00, 2027-06-05 from 23:59, 2026-12-24"),
    BusinessCalendar(working_hours=parse_working_hours("mon-sat 07:30-12:00 12:30-17:00")),
    BusinessCalendar(working_hours=parse_working_hours("mon-sun 00:00-24:00")),
    BusinessCalendar(timezone="America/New_York", holiday_country="US",
                     working_hours=parse_working_hours("mon-fri 01:00-03:30 22:00-24:00")),
    BusinessCalendar(timezone="Australia/Lord_Howe", holiday_country=None),
]
INSTANTS = st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2028, 1, 1),
                        timezones=st.just(UTC))


@settings(max_examples=300, deadline=None)
@given(instant=INSTANTS, which=st.integers(0, len(CALENDARS) - 1))
def test_offset_table_agrees_with_the_zone(instant, which):
    cal = CALENDARS[which]
    us = calendar_module._to_us(instant)
    assert cal._offset_us(us) == cal._zone_offset_us(us)


@settings(max_examples=300, deadline=None)
@given(start=INSTANTS, microseconds=st.integers(0, 500 * 86_400 * 1_000_000),
       which=st.integers(0, len(CALENDARS) - 1))
def test_adding_working_time_by_the_tables_agrees_with_the_walk(start, microseconds, which):
    cal = CALENDARS[which]
    start_us = calendar_module._to_us(start)
    by_walk = cal._add_us_by_walk(start_us, microseconds) if microseconds else start_us
    found = cal.add_working_time(start, microseconds / 1_000_000)
    assert calendar_module._to_us(found) == by_walk


@settings(max_examples=300, deadline=None)
@given(start=INSTANTS, span=st.integers(0, 4 * 86_400 * 1_000_000),
       which=st.integers(0, len(CALENDARS) - 1))
def test_short_spans_by_the_tables_agree_with_the_walk(start, span, which):
    cal = CALENDARS[which]
    start_us = calendar_module._to_us(start)
    assert cal._working_us_between(start_us, start_us + span) == \
        cal._walk_us(start_us, start_us + span)


def test_the_dst_nights_of_copenhagen_by_the_tables():
    cal = BusinessCalendar(working_hours=parse_working_hours("mon-sun 00:00-24:00"))
    for night in (datetime(2026, 3, 29, tzinfo=UTC), datetime(2026, 10, 25, tzinfo=UTC)):
        start = night - timedelta(hours=6)
        for hours in range(1, 13):
            assert cal.add_working_time(start, hours * 3600) == start + timedelta(hours=hours)
        assert cal.working_seconds_between(night - timedelta(days=1), night + timedelta(days=1)) \
            == 2 * 86400
