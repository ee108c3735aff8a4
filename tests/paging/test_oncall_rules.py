"""On-call schedules, pure: rotation across weeks and both DST nights, overrides, iCal with
RRULE, and the input checks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from itilflow.domain.oncall import (
    Override,
    Rotation,
    Schedule,
    ScheduleError,
    clean_person,
    on_call_at,
    parse_handover,
    parse_ics,
    who_is_on_call,
    zone_of,
)

CPH = "Europe/Copenhagen"
PEOPLE = ("alice@sit.test", "bob@sit.test", "Carl Ravn")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def weekly(people=PEOPLE, handover="mon 08:00", weeks=1, start=date(2026, 3, 2)) -> Schedule:
    day, minute = parse_handover(handover)
    return Schedule(CPH, rotation=Rotation(tuple(people), day, minute, weeks, start))


def test_rotation_hands_over_weekly_in_order_and_wraps():
    s = weekly()
    # Monday 2 March 2026 08:00 CET = 07:00 UTC: alice takes the first shift
    assert who_is_on_call(s, utc(2026, 3, 2, 7, 0)) == "alice@sit.test"
    assert who_is_on_call(s, utc(2026, 3, 9, 6, 59)) == "alice@sit.test"
    assert who_is_on_call(s, utc(2026, 3, 9, 7, 0)) == "bob@sit.test"
    assert who_is_on_call(s, utc(2026, 3, 18, 12, 0)) == "Carl Ravn"
    assert who_is_on_call(s, utc(2026, 3, 23, 7, 0)) == "alice@sit.test"   # wraps round
    # before the first handover the rotation runs backwards: the last person has it
    assert who_is_on_call(s, utc(2026, 3, 2, 6, 59)) == "Carl Ravn"
    found = on_call_at(s, utc(2026, 3, 10, 0, 0))
    assert (found.source, found.start, found.end) == ("rotation", utc(2026, 3, 9, 7, 0),
                                                      utc(2026, 3, 16, 7, 0))


def test_rotation_of_two_weeks():
    s = weekly(people=("alice@sit.test", "bob@sit.test"), weeks=2)
    assert who_is_on_call(s, utc(2026, 3, 10, 12, 0)) == "alice@sit.test"   # week 2 of alice
    assert who_is_on_call(s, utc(2026, 3, 16, 6, 59)) == "alice@sit.test"
    assert who_is_on_call(s, utc(2026, 3, 16, 7, 0)) == "bob@sit.test"
    assert who_is_on_call(s, utc(2026, 3, 30, 6, 0)) == "alice@sit.test"   # CEST now: 08:00 = 06:00Z


def test_handover_stays_0800_local_across_spring_forward():
    # 29 March 2026 02:00 CET -> 03:00 CEST. Monday 23 March 08:00 = 07:00Z; 30 March 08:00 = 06:00Z
    s = weekly(start=date(2026, 3, 23))
    assert who_is_on_call(s, utc(2026, 3, 23, 7, 0)) == "alice@sit.test"
    assert who_is_on_call(s, utc(2026, 3, 29, 1, 30)) == "alice@sit.test"   # the DST night itself
    assert who_is_on_call(s, utc(2026, 3, 30, 5, 59)) == "alice@sit.test"   # 07:59 CEST
    assert who_is_on_call(s, utc(2026, 3, 30, 6, 0)) == "bob@sit.test"      # 08:00 CEST
    assert on_call_at(s, utc(2026, 3, 25)).end == utc(2026, 3, 30, 6, 0)    # a 167-hour shift


def test_handover_stays_0800_local_across_fall_back():
    # 25 October 2026 03:00 CEST -> 02:00 CET. Monday 19 Oct 08:00 = 06:00Z; 26 Oct 08:00 = 07:00Z
    s = weekly(start=date(2026, 10, 19))
    assert who_is_on_call(s, utc(2026, 10, 19, 6, 0)) == "alice@sit.test"
    assert who_is_on_call(s, utc(2026, 10, 25, 0, 30)) == "alice@sit.test"  # 02:30 CEST
    assert who_is_on_call(s, utc(2026, 10, 25, 1, 30)) == "alice@sit.test"  # 02:30 CET
    assert who_is_on_call(s, utc(2026, 10, 26, 6, 30)) == "alice@sit.test"  # 07:30 CET
    assert who_is_on_call(s, utc(2026, 10, 26, 7, 0)) == "bob@sit.test"     # 08:00 CET
    found = on_call_at(s, utc(2026, 10, 22))
    assert found.end - found.start == timedelta(hours=169)


def test_handover_on_another_weekday_and_time():
    s = weekly(handover="fri 16:30", start=date(2026, 11, 2))   # first handover fri 6 Nov
    assert who_is_on_call(s, utc(2026, 11, 6, 15, 29)) == "Carl Ravn"
    assert who_is_on_call(s, utc(2026, 11, 6, 15, 30)) == "alice@sit.test"
    assert who_is_on_call(s, utc(2026, 11, 13, 15, 30)) == "bob@sit.test"


def test_overrides_win_and_the_last_listed_wins():
    base = weekly()
    s = Schedule(CPH, rotation=base.rotation, overrides=(
        Override("dora@sit.test", utc(2026, 3, 10, 16, 0), utc(2026, 3, 11, 7, 0)),
        Override("Eva", utc(2026, 3, 10, 20, 0), utc(2026, 3, 10, 22, 0)),
    ))
    assert who_is_on_call(s, utc(2026, 3, 10, 15, 59)) == "bob@sit.test"
    assert on_call_at(s, utc(2026, 3, 10, 16, 0)).source == "override"
    assert who_is_on_call(s, utc(2026, 3, 10, 16, 0)) == "dora@sit.test"
    assert who_is_on_call(s, utc(2026, 3, 10, 21, 0)) == "Eva"
    assert who_is_on_call(s, utc(2026, 3, 10, 22, 0)) == "dora@sit.test"
    assert who_is_on_call(s, utc(2026, 3, 11, 7, 0)) == "bob@sit.test"     # end is exclusive


def test_only_overrides_means_nobody_outside_them():
    s = Schedule(CPH, overrides=(Override("Eva", utc(2026, 3, 10, 20, 0),
                                          utc(2026, 3, 10, 22, 0)),))
    assert who_is_on_call(s, utc(2026, 3, 10, 21, 0)) == "Eva"
    assert who_is_on_call(s, utc(2026, 3, 10, 22, 0)) is None
    assert on_call_at(s, utc(2026, 3, 10, 19, 0)) is None


ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//itilflow tests//EN
BEGIN:VEVENT
UID:alice-weeks@sit.test
SUMMARY:alice@sit.test
DTSTART;TZID=Europe/Copenhagen:20261019T080000
DTEND;TZID=Europe/Copenhagen:20261026T080000
RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=10
END:VEVENT
BEGIN:VEVENT
UID:bob-weeks@sit.test
SUMMARY:Vagt
ATTENDEE;CN=Bob:mailto:bob@sit.test
DTSTART;TZID=Europe/Copenhagen:20261026T080000
DTEND;TZID=Europe/Copenhagen:20261102T080000
RRULE:FREQ=WEEKLY;INTERVAL=2
END:VEVENT
BEGIN:VEVENT
UID:xmas@sit.test
SUMMARY:Carl Ravn
DTSTART;VALUE=DATE:20261224
DTEND;VALUE=DATE:20261225
END:VEVENT
END:VCALENDAR
"""


def test_ical_recurring_events_name_the_person_across_dst():
    s = Schedule(CPH, ical=ICS)
    assert who_is_on_call(s, utc(2026, 10, 19, 6, 0)) == "alice@sit.test"       # 08:00 CEST
    assert who_is_on_call(s, utc(2026, 10, 26, 6, 59)) == "alice@sit.test"      # 07:59 CET
    # "Vagt" is no person's name? It is a name: SUMMARY wins when it names someone
    assert who_is_on_call(s, utc(2026, 10, 26, 7, 0)) == "Vagt"
    assert who_is_on_call(s, utc(2026, 11, 2, 7, 0)) == "alice@sit.test"        # 3rd recurrence
    assert who_is_on_call(s, utc(2027, 3, 1, 12, 0)) == "Vagt"
    # the all-day event is local midnight to midnight, and the later start wins
    assert who_is_on_call(s, utc(2026, 12, 23, 22, 59)) != "Carl Ravn"
    assert who_is_on_call(s, utc(2026, 12, 23, 23, 0)) == "Carl Ravn"
    assert who_is_on_call(s, utc(2026, 12, 24, 23, 0)) != "Carl Ravn"
    # COUNT=10 runs out (10 fortnights from 19 Oct): nobody in alice's weeks after that
    assert who_is_on_call(s, utc(2027, 3, 10, 12, 0)) is None


def test_ical_attendee_mailto_when_the_summary_names_nobody():
    ics = ICS.replace("SUMMARY:Vagt", "SUMMARY:On call: the week")
    s = Schedule(CPH, ical=ics)
    assert who_is_on_call(s, utc(2026, 10, 27, 12, 0)) == "bob@sit.test"


def test_overrides_win_over_ical_and_ical_over_rotation():
    rot = weekly(people=("rota@sit.test",), start=date(2026, 10, 5)).rotation
    s = Schedule(CPH, rotation=rot, ical=ICS, overrides=(
        Override("dora@sit.test", utc(2026, 10, 20, 0, 0), utc(2026, 10, 21, 0, 0)),))
    assert who_is_on_call(s, utc(2026, 10, 20, 12, 0)) == "dora@sit.test"
    assert who_is_on_call(s, utc(2026, 10, 21, 12, 0)) == "alice@sit.test"
    assert who_is_on_call(s, utc(2026, 10, 19, 5, 0)) == "rota@sit.test"    # before the iCal


@pytest.mark.parametrize("text, fragment", [
    ("", "iCalendar"),
    ("this is not ical", "Not an iCalendar"),
    ("BEGIN:VCALENDAR\nVERSION:2.0\nEND:VCALENDAR\n", "no VEVENT"),
    ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:Alice\nEND:VEVENT\nEND:VCALENDAR\n", "DTSTART"),
    ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:!!\nDTSTART:20261019T080000Z\nEND:VEVENT\n"
     "END:VCALENDAR\n", "names a person"),
    ("BEGIN:VCALENDAR\nBEGIN:VEVENT\nSUMMARY:Alice\nDTSTART:20261019T080000Z\n"
     "RRULE:FREQ=SOMETIMES\nEND:VEVENT\nEND:VCALENDAR\n", ""),
])
def test_bad_ics_is_refused(text, fragment):
    with pytest.raises(ScheduleError) as exc:
        parse_ics(text)
    assert exc.value.field == "ical" and fragment in exc.value.message


@pytest.mark.parametrize("value, ok", [
    ("alice@sit.test", True), ("Carl Ravn", True), ("Søren Ørsted-Hansen", True),
    ("O'Brien", True), ("", False), ("   ", False), ("alice@", False), ("<script>", False),
    ("1234", False), ("a" * 201, False), (42, False), (None, False), ("x@y.z;drop", False),
])
def test_person_format(value, ok):
    if ok:
        assert clean_person(value) == value
    else:
        with pytest.raises(ScheduleError):
            clean_person(value)


def test_handover_and_override_checks():
    assert parse_handover("mon 08:00") == (0, 480)
    assert parse_handover("Sunday 23:59") == (6, 1439)
    for bad in ("08:00", "mon 24:00", "xyz 08:00", "mon 8", 8, None):
        with pytest.raises(ScheduleError):
            parse_handover(bad)
    with pytest.raises(ScheduleError):
        Override("Eva", utc(2026, 3, 10, 22, 0), utc(2026, 3, 10, 20, 0))
    with pytest.raises(ScheduleError):
        Schedule("Mars/Olympus")


@pytest.mark.parametrize("name", ["Europe", "America", "Mars/Olympus", "../../etc/passwd",
                                  "Europe/", "/", "Europe/Copenhagen/x"])
def test_a_zone_name_that_is_no_zone_is_refused(name):
    with pytest.raises(ScheduleError) as exc:
        zone_of(name)
    assert exc.value.field == "timezone"
