"""On-call schedules, pure: who is on call at an instant.

A schedule is a weekly rotation (people in order, a handover weekday and wall-clock time in the
schedule's time zone, a rotation length in weeks), an optional iCal calendar whose events name
the person on call while they last, and overrides (person, start, end). Overrides win over the
iCal calendar, which wins over the rotation. Handovers are local wall-clock times: a handover at
Monday 08:00 stays 08:00 local across both DST nights.

Nothing here reads the clock or the database: instants are passed in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import icalendar
import recurring_ical_events
from dateutil.rrule import rrulestr

from itilflow.domain.calendar import WEEKDAYS

PERSON_MAX = 200
ICS_MAX_CHARS = 500_000
MAX_PEOPLE = 100
MAX_WEEKS = 52
#: an iCal recurrence may repeat at most this often a day (a shift every half hour)
MAX_EVENTS_A_DAY = 48
TOO_FREQUENT = frozenset({"SECONDLY", "MINUTELY"})
#: ical_on_call looks at no more events than this around an instant
MAX_EVENTS_LOOKED_AT = 4 * MAX_EVENTS_A_DAY + 100
#: a lookup up to a year ahead may run one rule through at most this many occurrences
MAX_EXPANDED = 50_000

_EMAIL = re.compile(r"^[^@\s<>:;,\"']+@[^@\s<>:;,\"']+\.[^@\s<>:;,\"']+$")
#: a name: starts with a letter; letters, digits, spaces, dots, hyphens, apostrophes after
_NAME = re.compile(r"^[^\W\d_][\w .'\-]*$")
_HANDOVER = re.compile(r"^\s*([a-z]{3})[a-z]*\s+(\d{1,2}):(\d{2})\s*$", re.IGNORECASE)


class ScheduleError(ValueError):
    """A schedule's input is not valid; ``field`` names what."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


def clean_person(value: Any, *, field_name: str = "person") -> str:
    """An email address or a plain name (letters first; letters, digits, spaces, . ' -)."""
    if not isinstance(value, str):
        raise ScheduleError(field_name, "A person is an email address or a name.")
    value = " ".join(value.split())
    if not value or len(value) > PERSON_MAX or not (_EMAIL.match(value) or _NAME.match(value)):
        raise ScheduleError(field_name, f"{value[:60]!r} is not an email address or a name.")
    return value


def zone_of(name: Any) -> ZoneInfo:
    if not isinstance(name, str) or not name.strip() or len(name) > 64:
        raise ScheduleError("timezone", "An IANA time zone such as Europe/Copenhagen.")
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a name that is a folder of the zone database ("Europe") or unreadable
        raise ScheduleError("timezone", f"Unknown time zone {name!r}.") from None


def parse_handover(spec: Any) -> tuple[int, int]:
    """``"mon 08:00"`` -> (weekday 0..6, minutes after local midnight)."""
    m = _HANDOVER.match(spec) if isinstance(spec, str) else None
    if m is None:
        raise ScheduleError("rotation.handover", "A weekday and a time such as 'mon 08:00'.")
    day, hours, minutes = m.group(1).lower(), int(m.group(2)), int(m.group(3))
    names = [w[:3].lower() for w in WEEKDAYS]
    if day not in names or hours > 23 or minutes > 59:
        raise ScheduleError("rotation.handover", "A weekday and a time such as 'mon 08:00'.")
    return names.index(day), hours * 60 + minutes


def format_handover(weekday: int, minute: int) -> str:
    return f"{WEEKDAYS[weekday][:3].lower()} {minute // 60:02d}:{minute % 60:02d}"


@dataclass(frozen=True)
class Rotation:
    people: tuple[str, ...]
    handover_weekday: int  # 0 = Monday
    handover_minute: int  # minutes after local midnight
    weeks: int = 1
    #: people[0] takes over at the first handover on or after this (local) date
    start: date = date(2026, 1, 1)

    def __post_init__(self) -> None:
        if not self.people:
            raise ScheduleError("rotation.people", "At least one person.")
        if not 1 <= self.weeks <= MAX_WEEKS:
            raise ScheduleError("rotation.weeks", f"A whole number from 1 to {MAX_WEEKS}.")


@dataclass(frozen=True)
class Override:
    person: str
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ScheduleError("overrides", "start and end need a time zone offset.")
        if self.end <= self.start:
            raise ScheduleError("overrides", "end must be after start.")


@dataclass(frozen=True)
class Schedule:
    timezone: str
    rotation: Rotation | None = None
    overrides: tuple[Override, ...] = ()
    ical: str | None = None
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_zone", zone_of(self.timezone))
        object.__setattr__(self, "overrides", tuple(self.overrides))
        if self.ical is not None:
            parse_ics(self.ical)

    @property
    def zone(self) -> ZoneInfo:
        return self._zone


@dataclass(frozen=True)
class OnCall:
    person: str
    #: override | ical | rotation
    source: str
    start: datetime
    end: datetime | None


# --- the rotation ---------------------------------------------------------------------------

def _utc(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The instant of local wall-clock ``minute`` on ``day`` (a time skipped by DST is read
    with the offset before the change, i.e. an hour later in the new offset)."""
    local = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
    return local.astimezone(UTC)


def _last_handover_day(rotation: Rotation, zone: ZoneInfo, instant: datetime) -> date:
    local_day = instant.astimezone(zone).date()
    day = local_day - timedelta(days=(local_day.weekday() - rotation.handover_weekday) % 7)
    if _utc(day, rotation.handover_minute, zone) > instant:
        day -= timedelta(days=7)
    return day


def rotation_on_call(rotation: Rotation, zone: ZoneInfo, instant: datetime) -> OnCall:
    """Who the rotation has on call at ``instant``, from which handover to which."""
    day = _last_handover_day(rotation, zone, instant)
    anchor = rotation.start + timedelta(days=(rotation.handover_weekday - rotation.start.weekday()) % 7)
    shift = ((day - anchor).days // 7) // rotation.weeks
    first_day = anchor + timedelta(days=7 * rotation.weeks * shift)
    person = rotation.people[shift % len(rotation.people)]
    return OnCall(person, "rotation", _utc(first_day, rotation.handover_minute, zone),
                  _utc(first_day + timedelta(days=7 * rotation.weeks), rotation.handover_minute,
                       zone))


# --- iCal -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Ics:
    calendar: Any
    #: (VEVENT position, DTSTART, occurrences a day) of the rules without a near end
    rates: tuple[tuple[int, datetime, float], ...] = ()


def _event_person(event: Any) -> str | None:
    summary = event.get("SUMMARY")
    if summary is not None:
        try:
            return clean_person(str(summary))
        except ScheduleError:
            pass
    attendees = event.get("ATTENDEE")
    if attendees is None:
        return None
    for attendee in attendees if isinstance(attendees, list) else [attendees]:
        text = str(attendee)
        if text.lower().startswith("mailto:"):
            try:
                return clean_person(text[7:])
            except ScheduleError:
                continue
    return None


def _check_recurrence(event: Any, position: int) -> list[tuple[int, datetime, float]]:
    """Refuse an RRULE repeating more often than MAX_EVENTS_A_DAY a day: an on-call shift lasts
    hours, and every lookup expands the rule from its DTSTART, so a rule of seconds or minutes
    (or hours multiplied by BYMINUTE, BYSECOND) costs minutes of CPU per page. Read from the
    rule's own first occurrences (a bounded count, whatever DTSTART is), not a date range.
    Returns (position, DTSTART, occurrences a day) of each rule that repeats without end soon."""
    rates = []
    rules = event.get("RRULE")
    for rule in rules if isinstance(rules, list) else [] if rules is None else [rules]:
        try:
            freq = str((rule.get("FREQ") or [""])[0]).upper()
            start = event["DTSTART"].dt
            occurrences = [] if not isinstance(start, datetime) else list(  # all-day: one a day
                islice(rrulestr(rule.to_ical().decode(), dtstart=start), MAX_EVENTS_A_DAY + 1))
        except Exception as exc:  # a broken property, or dateutil's ValueError, TypeError ...
            raise ScheduleError("ical", f"The calendar cannot be expanded: {str(exc)[:200]}"
                                ) from None
        if freq in TOO_FREQUENT:
            raise ScheduleError("ical", f"VEVENT {position} repeats {freq.lower()}: at most "
                                        f"{MAX_EVENTS_A_DAY} events a day.")
        if len(occurrences) <= MAX_EVENTS_A_DAY:
            continue  # a COUNT or UNTIL ends it within a few occurrences
        span = occurrences[-1] - occurrences[0]
        if span < timedelta(days=1):
            raise ScheduleError("ical", f"VEVENT {position} repeats more than "
                                        f"{MAX_EVENTS_A_DAY} times a day.")
        rates.append((position, _instant(start, UTC), MAX_EVENTS_A_DAY * 86_400 / span.total_seconds()))
    return rates


def check_ics_reach(text: str, now: datetime) -> None:
    """Refuse a calendar a lookup up to a year from ``now`` would expand more than
    MAX_EXPANDED occurrences of one rule for (each lookup runs a rule from its DTSTART: half-hour
    shifts from 1970 cost seconds per page). ScheduleError (``ical``) naming the VEVENT."""
    for position, start, per_day in parse_ics(text).rates:
        days = (now + timedelta(days=366) - start).total_seconds() / 86_400
        if per_day * days > MAX_EXPANDED:
            raise ScheduleError("ical", f"VEVENT {position} repeats {per_day:.0f} times a day "
                                        f"since {start.date()}: more than {MAX_EXPANDED} "
                                        "occurrences to expand. Start it later.")


@lru_cache(maxsize=64)
def parse_ics(text: str) -> _Ics:
    """Parse and check an iCalendar text: a VCALENDAR whose VEVENTs each have a DTSTART and
    name a person (SUMMARY, or an ATTENDEE mailto). ScheduleError (field ``ical``) otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise ScheduleError("ical", "An iCalendar text (BEGIN:VCALENDAR ...).")
    if len(text) > ICS_MAX_CHARS:
        raise ScheduleError("ical", f"At most {ICS_MAX_CHARS} characters.")
    try:
        calendar = icalendar.Calendar.from_ical(text)
    except Exception as exc:  # the parser raises ValueError, KeyError, IndexError ...
        raise ScheduleError("ical", f"Not an iCalendar text: {str(exc)[:200]}") from None
    if getattr(calendar, "name", None) != "VCALENDAR":
        raise ScheduleError("ical", "Not an iCalendar text: no VCALENDAR.")
    events = list(calendar.walk("VEVENT"))
    if not events:
        raise ScheduleError("ical", "The calendar has no VEVENT.")
    for i, event in enumerate(events, start=1):
        if event.get("DTSTART") is None:
            raise ScheduleError("ical", f"VEVENT {i} has no DTSTART.")
        if _event_person(event) is None:
            raise ScheduleError("ical", f"VEVENT {i}: neither SUMMARY nor an ATTENDEE mailto "
                                        "names a person (an email address or a name).")
    first = min(_instant(event["DTSTART"].dt, UTC) for event in events)
    rates = [rate for i, event in enumerate(events, start=1)
             for rate in _check_recurrence(event, i)]
    try:  # a bad RRULE or date shows here rather than when a page goes out; from the first
        # DTSTART every rule is at most MAX_EVENTS_A_DAY a day, so this window stays small
        recurring_ical_events.of(calendar).between(first, first + timedelta(days=1))
    except Exception as exc:
        raise ScheduleError("ical", f"The calendar cannot be expanded: {str(exc)[:200]}") from None
    return _Ics(calendar, tuple(rates))


def _instant(value: Any, zone: ZoneInfo) -> datetime:
    """An event's DTSTART/DTEND as an aware instant (all-day and floating ones in ``zone``)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=zone) if value.tzinfo is None else value
    return datetime.combine(value, time(0), tzinfo=zone)


def ical_on_call(text: str, zone: ZoneInfo, instant: datetime) -> OnCall | None:
    """The person of the event (recurrences expanded) covering ``instant``; of several, the one
    that started last (ties: the first in the calendar)."""
    calendar = parse_ics(text).calendar
    window = recurring_ical_events.of(calendar).between(instant - timedelta(days=2),
                                                        instant + timedelta(days=2))
    found: list[OnCall] = []
    for event in window[:MAX_EVENTS_LOOKED_AT]:  # the daily cap does not bound RDATEs
        start = _instant(event["DTSTART"].dt, zone)
        end_prop = event.get("DTEND")
        if end_prop is not None:
            end = _instant(end_prop.dt, zone)
        elif not isinstance(event["DTSTART"].dt, datetime):
            end = start + timedelta(days=1)
        else:
            end = start
        person = _event_person(event)
        if person is not None and start <= instant < end:
            found.append(OnCall(person, "ical", start.astimezone(UTC), end.astimezone(UTC)))
    if not found:
        return None
    latest = max(f.start for f in found)
    return next(f for f in found if f.start == latest)


# --- the answer -----------------------------------------------------------------------------

def on_call_at(schedule: Schedule, instant: datetime) -> OnCall | None:
    """Who is on call at ``instant`` and why: the last-listed override covering it, else the
    iCal event covering it, else the rotation; None when none of them has anybody."""
    if instant.tzinfo is None:
        raise ValueError("instant must be time-zone aware")
    for override in reversed(schedule.overrides):
        if override.start <= instant < override.end:
            return OnCall(override.person, "override", override.start.astimezone(UTC),
                          override.end.astimezone(UTC))
    if schedule.ical is not None:
        found = ical_on_call(schedule.ical, schedule.zone, instant)
        if found is not None:
            return found
    if schedule.rotation is not None:
        return rotation_on_call(schedule.rotation, schedule.zone, instant)
    return None


def who_is_on_call(schedule: Schedule, instant: datetime) -> str | None:
    found = on_call_at(schedule, instant)
    return found.person if found else None


def people_of(values: Sequence[Any]) -> tuple[str, ...]:
    """Check a rotation's people list; ScheduleError naming the bad entry."""
    if not isinstance(values, list) or not values or len(values) > MAX_PEOPLE:
        raise ScheduleError("rotation.people", f"A list of 1 to {MAX_PEOPLE} people.")
    return tuple(clean_person(v, field_name=f"rotation.people.{i}") for i, v in enumerate(values))
