"""The CAB view and the change calendar as pages of the workspace (``changes.cab_view`` and
``changes.change_calendar``, the functions behind ``GET /api/v1/changes/cab`` and
``/changes/calendar``). The services keep to what the viewer may see; these pages only print.
Neither shows a single ticket, so neither is a ticket read of the access log."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request

from itilflow.domain.errors import NotFound, ValidationError
from itilflow.runtime import db, runtime, utcnow
from itilflow.services import changes, directory
from itilflow.web.common import STAFF_ROLES, actor, register_error_pages, require_roles
from itilflow.web.i18n import _, strftime
from itilflow.web.tickets import _iso_time

bp = Blueprint("change_pages", __name__, url_prefix="/changes")
register_error_pages(bp)

#: the calendar's period when none is asked for: from today, this many days
DEFAULT_DAYS = 28


def _instant(raw: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(raw) if isinstance(raw, str) and raw else None
    except ValueError:
        return None


def _words() -> dict[str, Any]:
    """What both pages' templates print with: the parties in the ticket page's words, a
    warning's instants and a day, in local time."""
    return {"party_the": {"customer": _("the customer"), "provider": "SIT",
                          "supplier": _("the supplier")},
            "iso_time": _iso_time,
            "day_label": lambda day: strftime(datetime(day.year, day.month, day.day),
                                              "%d %b %Y")}


def _items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each item with its window as datetimes (the template prints them in local time)."""
    return [dict(i, start_at=_instant(i.get("planned_start")), end_at=_instant(i.get("planned_end")))
            for i in items]


@bp.get("/cab")
@require_roles(*STAFF_ROLES)
def cab():
    """Changes awaiting approval or emergency authorisation, earliest window first."""
    items = _items(changes.cab_view(db(), runtime().rules, actor()))
    return render_template("changes/cab.html", items=items, **_words())


def _local_day(raw: str | None, zone: ZoneInfo) -> tuple[str, datetime | None]:
    """A ``date`` input as typed, and its local midnight (None: not a date)."""
    try:
        day = date.fromisoformat(raw or "")
    except ValueError:
        return raw or "", None
    return day.isoformat(), datetime(day.year, day.month, day.day, tzinfo=zone)


@bp.get("/calendar")
@require_roles(*STAFF_ROLES)
def calendar():
    """Changes whose planned window overlaps the period (``from`` to ``to``, whole local days,
    both included), optionally of one system, cancelled and rejected ones if asked for."""
    zone = ZoneInfo(runtime().settings.timezone)
    args = request.args
    today = utcnow().astimezone(zone).date()
    start_text, start = _local_day(args.get("from") or today.isoformat(), zone)
    end_text, end = _local_day(
        args.get("to") or (today + timedelta(days=DEFAULT_DAYS - 1)).isoformat(), zone)
    system = (args.get("system") or "").strip()[:100] or None
    include_inactive = args.get("include_inactive") == "on"
    errors: dict[str, list[str]] = {}
    if start is None:
        errors["start"] = ["A date, e.g. 2026-12-01."]
    if end is None:
        errors["end"] = ["A date, e.g. 2026-12-01."]
    items: list[dict[str, Any]] = []
    if not errors:
        try:
            items = _items(changes.change_calendar(
                db(), runtime().rules, actor(), start=start.isoformat(),
                end=(end + timedelta(days=1)).isoformat(), system=system,
                include_inactive=include_inactive))
        except ValidationError as exc:
            errors = exc.errors or {"end": [exc.message]}
        except NotFound:  # the period is valid: it is the system
            errors = {"system": ["No such system that you may see."]}
    days: dict[date, list[dict[str, Any]]] = {}
    for item in items:
        when = item["start_at"].astimezone(zone).date() if item["start_at"] else None
        days.setdefault(max(when, start.date()) if when and start else when, []).append(item)
    return render_template(
        "changes/calendar.html", days=days, count=len(items), errors=errors,
        systems=list(directory.visible_systems(db(), actor())),
        args={"from": start_text, "to": end_text, "system": system or "",
              "include_inactive": include_inactive},
        timezone=runtime().settings.timezone, **_words()), 422 if errors else 200
