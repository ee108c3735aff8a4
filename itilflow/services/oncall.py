"""On-call schedule use cases: create and list schedules (admin), who is on call now, and the
lookup the paging service makes when a level with a schedule is paged.

Takes a session and ``now``; only flushes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from itilflow.domain import oncall as rules_of_oncall
from itilflow.domain.access import Actor
from itilflow.domain.errors import Conflict, NotFound, ValidationError
from itilflow.domain.oncall import ScheduleError
from itilflow.models.oncall import OncallOverride, OncallSchedule
from itilflow.services import directory, locks, names

NAME_MAX = 100
MAX_OVERRIDES = 500
DEFAULT_TIMEZONE = "Europe/Copenhagen"
#: instants and dates outside these years are refused (no overflow converting time zones)
YEARS = (1970, 2999)


def _instant(value: Any, where: str) -> datetime:
    if not isinstance(value, str) or len(value) > 64:
        raise ScheduleError(where, "An ISO 8601 date-time with an offset.")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ScheduleError(where, "An ISO 8601 date-time with an offset.") from None
    if parsed.tzinfo is None:
        raise ScheduleError(where, "The date-time needs an offset (e.g. +01:00 or Z).")
    if not YEARS[0] <= parsed.year <= YEARS[1]:
        raise ScheduleError(where, f"A year from {YEARS[0]} to {YEARS[1]}.")
    return parsed


def _collect(errors: dict[str, list[str]], check):
    try:
        return check()
    except ScheduleError as exc:
        errors.setdefault(exc.field, []).append(exc.message)
        return None


def _rotation(raw: Any, errors: dict[str, list[str]], today: date
              ) -> rules_of_oncall.Rotation | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        errors["rotation"] = ["An object {people, handover, weeks, start?}."]
        return None
    for name in sorted(set(raw) - {"people", "handover", "weeks", "start"}):
        errors[f"rotation.{name}"] = ["Unknown field."]
    people = _collect(errors, lambda: rules_of_oncall.people_of(raw.get("people")))
    handover = _collect(errors, lambda: rules_of_oncall.parse_handover(raw.get("handover", "mon 08:00")))
    weeks = raw.get("weeks", 1)
    if isinstance(weeks, bool) or not isinstance(weeks, int) or \
            not 1 <= weeks <= rules_of_oncall.MAX_WEEKS:
        errors["rotation.weeks"] = [f"A whole number from 1 to {rules_of_oncall.MAX_WEEKS}."]
        weeks = None
    start = today
    if raw.get("start") is not None:
        try:
            start = date.fromisoformat(raw["start"]) if isinstance(raw["start"], str) else None
        except ValueError:
            start = None
        if start is None or not YEARS[0] <= start.year <= YEARS[1]:
            errors["rotation.start"] = ["A date, YYYY-MM-DD."]
            start = None
    if people is None or handover is None or weeks is None or start is None:
        return None
    return rules_of_oncall.Rotation(people, handover[0], handover[1], weeks, start)


def _overrides(raw: Any, errors: dict[str, list[str]]) -> list[rules_of_oncall.Override]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_OVERRIDES:
        errors["overrides"] = [f"A list of at most {MAX_OVERRIDES} {{person, start, end}}."]
        return []
    found = [_override(item, f"overrides.{i}.", errors) for i, item in enumerate(raw)]
    return [o for o in found if o is not None]


def _override(item: Any, prefix: str, errors: dict[str, list[str]]
              ) -> rules_of_oncall.Override | None:
    """One {person, start, end}; its fields' errors under ``prefix`` + name."""
    if not isinstance(item, dict) or set(item) - {"person", "start", "end"}:
        errors[prefix.rstrip(".") or "_schema"] = ["An object {person, start, end}."]
        return None
    person = _collect(errors, lambda: rules_of_oncall.clean_person(
        item.get("person"), field_name=f"{prefix}person"))
    start = _collect(errors, lambda: _instant(item.get("start"), f"{prefix}start"))
    end = _collect(errors, lambda: _instant(item.get("end"), f"{prefix}end"))
    if start is not None and end is not None and end <= start:
        errors[f"{prefix}end"] = ["end must be after start."]
        return None
    if person is None or start is None or end is None:
        return None
    return rules_of_oncall.Override(person, start, end)


SCHEDULE_FIELDS = frozenset({"name", "timezone", "rotation", "overrides", "ical"})


def _schedule_values(session: Session, data: Any, *, now: datetime,
                     current: OncallSchedule | None) -> dict[str, Any]:
    """The columns of a schedule from the fields given: all of them for a new schedule, only
    those present for a change (``null`` clears rotation or ical). Every bad field is reported
    at once; the result must still name someone (a rotation, an ical calendar or overrides)."""
    if not isinstance(data, dict):
        raise ValidationError("A schedule is a JSON object.", {"_schema": ["A JSON object."]})
    errors: dict[str, list[str]] = {k: ["Unknown field."] for k in sorted(set(data) - SCHEDULE_FIELDS)}
    given = (lambda field: True) if current is None else (lambda field: field in data)
    values: dict[str, Any] = {}
    if given("name"):
        try:
            values["name"] = names.clean_path_name(data.get("name"), "name", max_length=NAME_MAX)
        except ValidationError as exc:
            errors.update(exc.errors)
    tz_name = data.get("timezone", DEFAULT_TIMEZONE if current is None else current.timezone)
    zone = _collect(errors, lambda: rules_of_oncall.zone_of(tz_name))
    if given("timezone") and zone is not None:
        values["timezone"] = tz_name.strip()
    if given("rotation"):
        today = now.astimezone(zone).date() if zone is not None else now.date()
        rotation = _rotation(data.get("rotation"), errors, today)
        values["rotation"] = None if rotation is None else {
            "people": list(rotation.people), "handover_weekday": rotation.handover_weekday,
            "handover_minute": rotation.handover_minute, "weeks": rotation.weeks,
            "start": rotation.start.isoformat()}
    if given("overrides"):
        values["overrides"] = [OncallOverride(person=o.person, start_at=o.start, end_at=o.end)
                               for o in _overrides(data.get("overrides"), errors)]
    if given("ical"):
        ical = values["ical"] = data.get("ical")
        if ical is not None and not isinstance(ical, str):
            errors["ical"] = ["An iCalendar text (BEGIN:VCALENDAR ...)."]
        elif ical is not None:
            _collect(errors, lambda: rules_of_oncall.check_ics_reach(ical, now))
    if errors:
        raise ValidationError("The on-call schedule has invalid fields.", errors)
    after = {field: values[field] if field in values else getattr(current, field, None)
             for field in ("rotation", "ical", "overrides")}
    if after["rotation"] is None and after["ical"] is None and not after["overrides"]:
        raise ValidationError("The on-call schedule has invalid fields.", {
            "_schema": ["A schedule needs a rotation, an ical calendar or overrides."]})
    name = values.get("name")
    if name is not None and (current is None or name != current.name) and session.scalar(
            select(OncallSchedule.id).where(OncallSchedule.name == name)) is not None:
        raise Conflict(f"An on-call schedule named {name!r} exists.", {"name": ["Already exists."]})
    return values


def create_schedule(session: Session, actor: Actor, data: Any, *, now: datetime
                    ) -> OncallSchedule:
    """POST /oncall-schedules (admin): {name, timezone?, rotation?, overrides?, ical?}; at least
    one of rotation, ical and overrides."""
    directory.require_admin(actor)
    schedule = OncallSchedule(**_schedule_values(session, data, now=now, current=None),
                              created_at=now, updated_at=now)
    session.add(schedule)
    session.flush()
    return schedule


def update_schedule(session: Session, actor: Actor, name: Any, data: Any, *, now: datetime
                    ) -> OncallSchedule:
    """PATCH /oncall-schedules/{name} (admin): the fields given replace the schedule's (the
    overrides as a whole list); escalation levels keep pointing at it, and the next page asks
    the changed schedule who is on call. Concurrent changes wait for each other (row lock):
    the last PATCH's list wins whole, and an override added after it is kept."""
    schedule = get_schedule(session, actor, name, for_update=True)
    for field, value in _schedule_values(session, data, now=now, current=schedule).items():
        setattr(schedule, field, value)
    schedule.updated_at = now
    session.flush()
    return schedule


def add_override(session: Session, actor: Actor, name: Any, item: Any, *, now: datetime
                 ) -> OncallSchedule:
    """One more override ("Bo covers for Anne tonight"), the common change of a schedule; the
    ones already over are dropped so the list does not grow without end, and one that is
    already over is refused (422 on ``end``): it would change nobody's night."""
    schedule = get_schedule(session, actor, name, for_update=True)
    errors: dict[str, list[str]] = {}
    added = _override(item, "", errors)
    if added is not None and added.end <= now:
        errors["end"] = ["The override has already ended."]
        added = None
    if added is None:
        raise ValidationError("The override has invalid fields.", errors)
    kept = [o for o in schedule.overrides if o.end_at > now]
    if len(kept) >= MAX_OVERRIDES:
        raise ValidationError("Too many overrides.",
                              {"_schema": [f"At most {MAX_OVERRIDES} overrides to come."]})
    schedule.overrides = [*kept, OncallOverride(person=added.person, start_at=added.start,
                                                end_at=added.end)]
    schedule.updated_at = now
    session.flush()
    return schedule


def list_schedules(session: Session, actor: Actor) -> list[OncallSchedule]:
    directory.require_admin(actor)
    return list(session.scalars(select(OncallSchedule).order_by(OncallSchedule.name)))


def schedule_by_name(session: Session, name: Any, *, for_update: bool = False
                     ) -> OncallSchedule | None:
    """The schedule by name; ``for_update``: its row locked (SQLite: the write lock) until the
    transaction ends, so changes to one schedule run one after the other, each on the list as
    the previous one left it."""
    if not isinstance(name, str) or len(name) > NAME_MAX or "\x00" in name:
        return None
    query = select(OncallSchedule).where(OncallSchedule.name == name)
    if for_update:
        locks.sqlite_write_lock(session)
        query = query.with_for_update(of=OncallSchedule).execution_options(populate_existing=True)
    return session.scalar(query)


def get_schedule(session: Session, actor: Actor, name: Any, *, for_update: bool = False
                 ) -> OncallSchedule:
    directory.require_admin(actor)
    schedule = schedule_by_name(session, name, for_update=for_update)
    if schedule is None:
        raise NotFound("No on-call schedule by that name.")
    return schedule


def to_domain(schedule: OncallSchedule) -> rules_of_oncall.Schedule:
    rot = schedule.rotation
    rotation = None if not rot else rules_of_oncall.Rotation(
        tuple(rot["people"]), rot["handover_weekday"], rot["handover_minute"], rot["weeks"],
        date.fromisoformat(rot["start"]))
    return rules_of_oncall.Schedule(
        timezone=schedule.timezone, rotation=rotation, ical=schedule.ical,
        overrides=tuple(rules_of_oncall.Override(o.person, o.start_at, o.end_at)
                        for o in schedule.overrides))


def on_call(session: Session, schedule_id: int, at: datetime) -> rules_of_oncall.OnCall | None:
    """Who the schedule has on call at ``at`` (None when nobody, or the schedule is gone)."""
    schedule = session.get(OncallSchedule, schedule_id)
    if schedule is None:
        return None
    return rules_of_oncall.on_call_at(to_domain(schedule), at)


def now_json(session: Session, actor: Actor, name: Any, *, at: Any, now: datetime
             ) -> dict[str, Any]:
    """GET /oncall-schedules/{name}/now[?at=ISO]: who is on call, from where, until when."""
    schedule = get_schedule(session, actor, name)
    when = now
    if at is not None:
        try:
            when = _instant(at, "at")
            if schedule.ical is not None:  # not decades of a frequent rule to expand
                rules_of_oncall.check_ics_reach(schedule.ical, when)
        except ScheduleError as exc:
            raise ValidationError("Bad 'at'.", {"at": [exc.message]}) from None
    found = on_call(session, schedule.id, when)
    # in UTC, as since and until: an offset given with seconds (+01:00:30) is no RFC 3339
    return {"schedule": schedule.name, "at": when.astimezone(UTC).isoformat(),
            "on_call": found.person if found else None,
            "source": found.source if found else None,
            "since": found.start.isoformat() if found else None,
            "until": found.end.isoformat() if found and found.end else None}


def schedule_json(schedule: OncallSchedule) -> dict[str, Any]:
    rot = schedule.rotation
    return {
        "id": schedule.id, "name": schedule.name, "timezone": schedule.timezone,
        "rotation": None if not rot else {
            "people": rot["people"],
            "handover": rules_of_oncall.format_handover(rot["handover_weekday"],
                                                        rot["handover_minute"]),
            "weeks": rot["weeks"], "start": rot["start"]},
        "overrides": [{"person": o.person, "start": o.start_at.isoformat(),
                       "end": o.end_at.isoformat()} for o in schedule.overrides],
        "ical": schedule.ical is not None,
        "created_at": schedule.created_at.isoformat(),
        "updated_at": schedule.updated_at.isoformat(),
    }
