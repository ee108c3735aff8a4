"""Change management use cases: standard changes from templates, normal changes approved by the A
of every affected layer, emergency changes, consultations (what waits on whom), planned windows,
the change calendar, overlap and freeze warnings, the CAB view and the outcomes for the report.

Services flush and never commit; the caller (request or job) commits once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, aliased

from itilflow.domain import access
from itilflow.domain.access import Actor
from itilflow.domain.errors import (
    Conflict,
    DomainError,
    InvalidTransition,
    NotFound,
    NotPermitted,
    ValidationError,
)
from itilflow.domain.parties import Layer, Party, Role
from itilflow.models import Consultation, Organisation, System, Ticket, User
from itilflow.models.change import ChangeTemplate, ChangeWindow, FreezePeriod
from itilflow.services import directory, tickets
from itilflow.services.fields import clean_text, parse_instant
from itilflow.services.history import append_event
from itilflow.services.rules import Rules

CHANGE_TYPES = ("standard", "normal", "emergency")
#: states in which a change no longer occupies its window
INACTIVE_STATES = frozenset({"cancelled", "rejected"})
TEMPLATE_KEY_MAX = 60  # the column's length (models.change.ChangeTemplate.key)
#: a planned window longer than this is warned about (``window_sanity``)
WINDOW_WARN_DAYS = 31
#: the kinds of warning worked out again whenever they are shown (the window's overlaps and
#: freezes); the others (``window``, ``outside_window``) are kept as recorded
LIVE_WARNING_KINDS = frozenset({"overlap", "freeze"})
#: the triggers that start a change's work in production
IMPLEMENT_TRIGGERS = frozenset({"implement", "install_in_production", "emergency_install"})
CALENDAR_MAX_DAYS = 400
CONFIG_ROLES = frozenset({Role.ADMIN, Role.SIT_MANAGER})


# --- input helpers ------------------------------------------------------------------------

def _instant(value: Any, name: str) -> datetime:
    # the calendar's years: a window in year 1 would be stored but never shown, and an offset
    # at the calendar's edge (0001-01-01T00:00+14:00) would overflow converting to UTC
    return parse_instant(value, name)


def _layers(value: Any, primary: Layer | None) -> list[Layer]:
    """The affected layers, the primary one first; an unknown layer is a 422."""
    if value is None:
        value = []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("affected_layers must be a list of layers.",
                              {"affected_layers": ["A list of layer names."]})
    layers = [primary] if primary else []
    for raw in value:
        try:
            layer = Layer(raw)
        except ValueError:
            raise ValidationError("Unknown layer.", {"affected_layers": [
                "Must be some of: " + ", ".join(layer.value for layer in Layer) + "."]}) from None
        if layer not in layers:
            layers.append(layer)
    return layers


def _require_config_role(actor_ctx: Actor) -> None:
    if actor_ctx.role not in CONFIG_ROLES:
        raise NotPermitted("Only admins and SIT managers configure change templates and freezes.")


# --- templates ----------------------------------------------------------------------------

def create_template(session: Session, rules: Rules, actor_ctx: Actor, data: dict, *,
                    now: datetime) -> ChangeTemplate:
    """A pre-approved standard change: ``{key, name, activity, layer, description?}``."""
    _require_config_role(actor_ctx)
    errors: dict[str, list[str]] = {}
    key = data.get("key")
    if not isinstance(key, str) or not directory.KEY_RE.match(key) or \
            len(key) > TEMPLATE_KEY_MAX:
        errors["key"] = [f"Lower-case letters, digits, '-' and '_', at most {TEMPLATE_KEY_MAX} "
                         "characters."]
    name = description = None
    try:
        name = clean_text(data.get("name"), "name", required=True, max_length=200)
        description = clean_text(data.get("description"), "description", required=False) or ""
    except ValidationError as exc:
        errors.update(exc.errors)
    activity = data.get("activity")
    if not isinstance(activity, str) or activity not in rules.matrix.activities:
        errors["activity"] = ["Must be an activity of the matrix, e.g. patch_management."]
        activity = None
    elif activity in _ticket_activities(rules):
        errors["activity"] = ["Incidents and problems have workflows of their own: not a "
                              "change's activity."]
        activity = None
    try:
        layer = tickets._layer(data.get("layer"), required=True)
    except ValidationError as exc:
        errors.update(exc.errors)
        layer = None
    if activity is not None and layer is not None and not _has_doer(rules, activity, layer):
        # e.g. backup on the application layer: taken through the OS or the middleware
        # (footnote 6), nobody is R there, so no standard change can do it
        errors["activity"] = ["Nobody is responsible (R) for this activity on this layer."]
    if errors:
        raise ValidationError("The template has invalid fields.", errors)
    if session.scalar(select(ChangeTemplate).where(ChangeTemplate.key == key)) is not None:
        raise Conflict(f"A template {key!r} exists already.", {"key": ["Already taken."]})
    template = ChangeTemplate(key=key, name=name, activity=activity, layer=layer.value,
                              description=description, active=True, created_at=now)
    session.add(template)
    session.flush()
    return template


def _ticket_activities(rules: Rules) -> set[str]:
    """The rows the incident and problem workflows work under (incident_management,
    problem_management): no standard change's row. (The request workflow's default row,
    ``restore``, is a row a change may well do.)"""
    return {wf.activity for kind, wf in rules.workflows.items() if kind in ("incident",
                                                                          "problem")}


def _has_doer(rules: Rules, activity: str, layer: Layer) -> bool:
    """Whether some party is R (unconditionally) of the activity's row on the layer."""
    cell = rules.matrix.cell(activity, layer)
    return any(role.has("R") and not role.on_request for role in cell.roles.values())


def list_templates(session: Session, *, include_inactive: bool = False) -> list[ChangeTemplate]:
    query = select(ChangeTemplate).order_by(ChangeTemplate.key)
    if not include_inactive:
        query = query.where(ChangeTemplate.active.is_(True))
    return list(session.scalars(query))


def set_template_active(session: Session, actor_ctx: Actor, key: Any, active: bool
                        ) -> ChangeTemplate:
    """Retire or re-activate a template; an unknown key is a 404."""
    _require_config_role(actor_ctx)
    template = session.scalar(select(ChangeTemplate).where(ChangeTemplate.key == key)) \
        if isinstance(key, str) and "\x00" not in key else None
    if template is None:
        raise NotFound(f"No change template {key!r}.")
    template.active = bool(active)
    session.flush()
    return template


def template_as_dict(rules: Rules, template: ChangeTemplate) -> dict[str, Any]:
    cell = rules.matrix.cell(template.activity, template.layer)
    return {"key": template.key, "name": template.name, "activity": template.activity,
            "layer": template.layer, "description": template.description,
            "active": template.active, "raci": cell.as_codes()}


def _template(session: Session, key: Any) -> ChangeTemplate:
    template = session.scalar(select(ChangeTemplate).where(ChangeTemplate.key == key)) \
        if isinstance(key, str) else None
    if template is None or not template.active:
        raise ValidationError("Unknown change template.", {"template": ["No such template."]})
    return template


# --- freeze periods -----------------------------------------------------------------------

def create_freeze_period(session: Session, actor_ctx: Actor, data: dict, *, now: datetime
                         ) -> FreezePeriod:
    """``{name, starts_at, ends_at, customer?, system?, reason?}``; no customer and no system:
    a freeze for everyone."""
    _require_config_role(actor_ctx)
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    checks = {
        "name": lambda: clean_text(data.get("name"), "name", required=True, max_length=200),
        "reason": lambda: clean_text(data.get("reason"), "reason", required=False) or "",
        "starts_at": lambda: _instant(data.get("starts_at"), "starts_at"),
        "ends_at": lambda: _instant(data.get("ends_at"), "ends_at"),
    }
    for name, check in checks.items():
        try:
            values[name] = check()
        except ValidationError as exc:
            errors.update(exc.errors)
    customer_id = system_id = None
    if data.get("customer") is not None:
        org = session.scalar(select(Organisation).where(Organisation.name == data["customer"])) \
            if isinstance(data["customer"], str) else None
        if org is None or org.kind != "customer":
            errors["customer"] = ["No such customer."]
        else:
            customer_id = org.id
    if data.get("system") is not None:
        system = session.scalar(select(System).where(System.key == data["system"])) \
            if isinstance(data["system"], str) else None
        if system is None:
            errors["system"] = ["No such system."]
        elif customer_id is not None and customer_id != system.customer_id:
            # a freeze for one customer's system names that customer or none: silently
            # storing it under the system's owner would freeze another customer's changes
            errors["system"] = ["The system belongs to another customer."]
        elif "customer" not in errors:
            system_id, customer_id = system.id, system.customer_id
    if not errors and values["ends_at"] <= values["starts_at"]:
        errors["ends_at"] = ["Must be after starts_at."]
    if errors:
        raise ValidationError("The freeze period has invalid fields.", errors)
    period = FreezePeriod(name=values["name"], reason=values["reason"],
                          starts_at=values["starts_at"], ends_at=values["ends_at"],
                          customer_id=customer_id, system_id=system_id, created_at=now)
    session.add(period)
    session.flush()
    return period


def list_freeze_periods(session: Session, actor_ctx: Actor, *, start: Any = None,
                        end: Any = None) -> list[FreezePeriod]:
    """The freezes the actor's organisation is subject to (all, for SIT), optionally overlapping
    ``[start, end)``."""
    query = select(FreezePeriod).order_by(FreezePeriod.starts_at, FreezePeriod.id)
    if start is not None:
        query = query.where(FreezePeriod.ends_at > _instant(start, "start"))
    if end is not None:
        query = query.where(FreezePeriod.starts_at < _instant(end, "end"))
    if not (actor_ctx.is_provider_staff or actor_ctx.role is Role.ADMIN):
        if actor_ctx.role is Role.SUPPLIER_AGENT:
            query = query.where(or_(FreezePeriod.customer_id.is_(None),
                                    FreezePeriod.system_id.in_(actor_ctx.system_ids or [-1])))
        else:
            query = query.where(or_(FreezePeriod.customer_id.is_(None),
                                    FreezePeriod.customer_id == actor_ctx.organisation_id))
    return list(session.scalars(query))


def delete_freeze_period(session: Session, actor_ctx: Actor, period_id: Any) -> None:
    _require_config_role(actor_ctx)
    period = session.get(FreezePeriod, period_id) if isinstance(period_id, int) and \
        0 < period_id <= tickets.MAX_ID else None
    if period is None:
        raise NotFound("No such freeze period.")
    session.delete(period)
    session.flush()


def freeze_as_dict(period: FreezePeriod) -> dict[str, Any]:
    return {"id": period.id, "name": period.name, "reason": period.reason,
            "starts_at": period.starts_at.isoformat(), "ends_at": period.ends_at.isoformat(),
            "customer_id": period.customer_id, "system_id": period.system_id}


# --- warnings: overlaps and freezes ---------------------------------------------------------

def window_warnings(session: Session, rules: Rules, *, system: System, start: datetime,
                    end: datetime, exclude_ticket_id: int | None = None) -> list[dict[str, Any]]:
    """Warnings, never refusals: other live changes on the same system whose windows overlap,
    and freeze periods (global, the customer's or the system's) that the window touches."""
    warnings: list[dict[str, Any]] = []
    query = (
        select(Ticket, ChangeWindow)
        .join(ChangeWindow, ChangeWindow.ticket_id == Ticket.id)
        .where(ChangeWindow.system_id == system.id, ChangeWindow.planned_start < end,
               ChangeWindow.planned_end > start, Ticket.state.not_in(INACTIVE_STATES),
               Ticket.closed_at.is_(None))
        .order_by(ChangeWindow.planned_start)
    )
    if exclude_ticket_id is not None:
        query = query.where(Ticket.id != exclude_ticket_id)
    for other, window in session.execute(query):
        warnings.append(_overlap_warning(rules, other, window, system))
    freezes = session.scalars(
        select(FreezePeriod).where(
            FreezePeriod.starts_at < end, FreezePeriod.ends_at > start,
            or_(and_(FreezePeriod.customer_id.is_(None), FreezePeriod.system_id.is_(None)),
                and_(FreezePeriod.customer_id == system.customer_id,
                     FreezePeriod.system_id.is_(None)),
                FreezePeriod.system_id == system.id))
        .order_by(FreezePeriod.starts_at))
    for period in freezes:
        warnings.append(_freeze_warning(period))
    return warnings


def window_sanity(start: datetime, end: datetime, *, now: datetime) -> list[dict[str, Any]]:
    """Warnings about the window itself, as it is planned at ``now``: it starts in the past
    (or is over already), or it is longer than ``WINDOW_WARN_DAYS``.

    Warnings, not refusals, as overlaps and freezes are: a change is sometimes recorded after
    the fact (an emergency change written up once the fire is out), and a long migration may
    rightly plan weeks; whoever assesses and approves the change sees the warning (the CAB view
    shows it) and decides. What is never a window, a date outside the calendar's years, is
    refused by ``parse_instant``. The warning is kept as recorded (``details["warnings"]``):
    "in the past" is about the moment the window was planned."""
    warnings: list[dict[str, Any]] = []
    if end <= now:
        warnings.append({"kind": "window", "reason": "past",
                         "message": "The planned window is over already."})
    elif start < now:
        warnings.append({"kind": "window", "reason": "started",
                         "message": "The planned window has started already."})
    if end - start > timedelta(days=WINDOW_WARN_DAYS):
        warnings.append({"kind": "window", "reason": "long", "days": (end - start).days,
                         "message": f"The planned window is longer than {WINDOW_WARN_DAYS} "
                                    "days."})
    return warnings


def current_warnings(session: Session, rules: Rules,
                     rows: list[tuple[Ticket, ChangeWindow | None]]
                     ) -> dict[int, list[dict[str, Any]]]:
    """The warnings of each change as of now, by ticket id: the overlaps and freezes of its
    window worked out again (other changes may have been planned since, or cancelled, and
    freezes added), then the warnings kept as recorded (the window's sanity, an implementation
    outside the window). Two queries for all the changes together, not two per change."""
    result: dict[int, list[dict[str, Any]]] = {ticket.id: [] for ticket, _ in rows}
    windows = [(ticket, window) for ticket, window in rows if window is not None]
    if windows:
        ids = [ticket.id for ticket, _ in windows]
        mine, theirs = aliased(ChangeWindow), aliased(ChangeWindow)
        other = aliased(Ticket)
        overlaps = session.execute(
            select(mine.ticket_id, other, theirs)
            .join(theirs, and_(theirs.system_id == mine.system_id,
                               theirs.planned_start < mine.planned_end,
                               theirs.planned_end > mine.planned_start,
                               theirs.ticket_id != mine.ticket_id))
            .join(other, other.id == theirs.ticket_id)
            .where(mine.ticket_id.in_(ids), other.state.not_in(INACTIVE_STATES),
                   other.closed_at.is_(None))
            .order_by(theirs.planned_start, theirs.ticket_id))
        by_id = {ticket.id: window for ticket, window in windows}
        by_ticket = {ticket.id: ticket for ticket, _ in windows}
        for ticket_id, found, window in overlaps:
            result[ticket_id].append(
                _overlap_warning(rules, found, window, by_ticket[ticket_id].system))
        begin = min(w.planned_start for w in by_id.values())
        finish = max(w.planned_end for w in by_id.values())
        freezes = list(session.scalars(
            select(FreezePeriod).where(
                FreezePeriod.starts_at < finish, FreezePeriod.ends_at > begin,
                or_(and_(FreezePeriod.customer_id.is_(None), FreezePeriod.system_id.is_(None)),
                    and_(FreezePeriod.customer_id.in_(sorted({w.customer_id for w in by_id.values()})),
                         FreezePeriod.system_id.is_(None)),
                    FreezePeriod.system_id.in_(sorted({w.system_id for w in by_id.values()}))))
            .order_by(FreezePeriod.starts_at, FreezePeriod.id)))
        for ticket_id, window in by_id.items():
            for period in freezes:
                if not (period.starts_at < window.planned_end and
                        period.ends_at > window.planned_start):
                    continue
                if period.system_id is not None and period.system_id != window.system_id:
                    continue
                if period.system_id is None and period.customer_id is not None and \
                        period.customer_id != window.customer_id:
                    continue
                result[ticket_id].append(_freeze_warning(period))
    for ticket, _ in rows:
        result[ticket.id] += [w for w in (ticket.details or {}).get("warnings", [])
                              if w.get("kind") not in LIVE_WARNING_KINDS]
    return result


def _overlap_warning(rules: Rules, other: Ticket, window: ChangeWindow, system: System
                     ) -> dict[str, Any]:
    number = tickets.number_of(rules, other)
    return {"kind": "overlap", "ticket": number, "title": other.title,
            "planned_start": window.planned_start.isoformat(),
            "planned_end": window.planned_end.isoformat(),
            "message": f"Overlaps {number} ({other.title}) on {system.key}."}


def _freeze_warning(period: FreezePeriod) -> dict[str, Any]:
    return {"kind": "freeze", "freeze_id": period.id, "name": period.name,
            "starts_at": period.starts_at.isoformat(), "ends_at": period.ends_at.isoformat(),
            "message": f"In the freeze period {period.name!r}."}


def change_warnings(session: Session, rules: Rules, actor_ctx: Actor, ticket_ref: Any
                    ) -> list[dict[str, Any]]:
    """The warnings of a change as of now (other changes may have been planned since)."""
    ticket = tickets.get_ticket(session, rules, actor_ctx, ticket_ref)
    window = session.get(ChangeWindow, ticket.id)
    if window is None:
        return []
    return current_warnings(session, rules, [(ticket, window)])[ticket.id]


# --- submit -------------------------------------------------------------------------------

def may_raise(rules: Rules, actor_ctx: Actor, activity: str, layer: Layer) -> bool:
    """Only the party that is R of the change's row on a layer raises a change there (an
    application or middleware change is the customer's, an OS or infrastructure change SIT's)."""
    return actor_ctx.party is rules.matrix.cell(activity, layer).responsible()


def layers_raised_by(rules: Rules, actor_ctx: Actor, activity: str = "change_management"
                     ) -> list[Layer]:
    """The layers on which the actor may raise a change (for a form to offer only those)."""
    return [layer for layer in Layer if may_raise(rules, actor_ctx, activity, layer)]


def submit_change(session: Session, rules: Rules, actor: User, actor_ctx: Actor, data: dict,
                  *, now: datetime, idempotency_key: str | None = None) -> Ticket:
    """Raise a change: ``{system, environment, layer, change_type, title, description,
    planned_start, planned_end, template?, affected_layers?}``.

    With ``template`` it is a standard change of that template: pre-approved, its activity and
    layer from the template. A standard change names an active template: the template is what
    pre-approves it (without one it would skip every approval), so a standard change without
    one is a 422 on ``template``. Only the R of the change's row on its layer may raise it. A
    normal change records the A of each affected layer as its approvers, an emergency change
    the A who authorises it (``authorise_emergency``, kept in its approvals). An
    overlapping change on the system, a freeze period, a window that has started already or
    is longer than ``WINDOW_WARN_DAYS`` (``window_sanity``) is a warning kept on the ticket
    (``details["warnings"]``), not a refusal. The same ``idempotency_key`` gives back the change
    it raised the first time."""
    tickets._require_staff(actor_ctx)
    key = tickets._one_time_key(idempotency_key)
    earlier = tickets._submitted_before(session, actor_ctx, actor, "change", key)
    if earlier is not None:
        return earlier
    if not isinstance(data, dict):
        raise ValidationError("Expected an object.")
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    template = None
    if data.get("template") is not None:
        try:
            template = _template(session, data.get("template"))
        except ValidationError as exc:
            errors.update(exc.errors)
    change_type = data.get("change_type") or ("standard" if data.get("template") else None)
    if change_type not in CHANGE_TYPES:
        errors["change_type"] = ["Must be one of: standard, normal, emergency."]
    elif data.get("template") is not None and change_type != "standard":
        errors["change_type"] = ["A change from a template is a standard change."]
    elif change_type == "standard" and data.get("template") is None:
        errors["template"] = ["A standard change is pre-approved by its template: choose one, "
                              "or raise a normal change."]
    checks = {
        "title": lambda: clean_text(
            data.get("title") or (template.name if template else None), "title", required=True,
            max_length=tickets.TITLE_MAX),
        "description": lambda: clean_text(
            data.get("description") or (template.description if template else None),
            "description", required=False) or "",
        "layer": lambda: tickets._layer(
            data.get("layer") or (template.layer if template else None), required=True),
        "system": lambda: tickets._system_and_env(session, actor_ctx, data.get("system"),
                                                  data.get("environment")),
        "planned_start": lambda: _instant(data.get("planned_start"), "planned_start"),
        "planned_end": lambda: _instant(data.get("planned_end"), "planned_end"),
    }
    for name, check in checks.items():
        try:
            values[name] = check()
        except ValidationError as exc:
            errors.update(exc.errors)
    if data.get("template") is not None and template is None:
        # an unknown or retired template: its error alone, not also those of the fields the
        # template would have filled in
        for name in ("title", "layer"):
            if not data.get(name):
                errors.pop(name, None)
    if template is not None and values.get("layer") is not None and \
            values["layer"].value != template.layer:
        errors["layer"] = [f"The template {template.key!r} is for the {template.layer} layer."]
    try:
        affected = _layers(data.get("affected_layers"), values.get("layer"))
    except ValidationError as exc:
        errors.update(exc.errors)
        affected = []
    if "planned_start" in values and "planned_end" in values and \
            values["planned_end"] <= values["planned_start"]:
        errors["planned_end"] = ["Must be after planned_start."]
    if errors:
        raise ValidationError("The change has invalid fields.", errors)
    system, environment = values["system"]
    layer: Layer = values["layer"]
    activity = template.activity if template else "change_management"
    # An application or middleware change is the customer's, an OS or infrastructure change
    # SIT's: only the party that is R of the change's row on that layer may raise it.
    if not may_raise(rules, actor_ctx, activity, layer):
        words = access.layer_words(layer)  # "An operating system change is raised by SIT."
        raise NotPermitted(f"{'An' if words[0] in 'aeiou' else 'A'} {words} change is raised by "
                           + ("SIT." if rules.matrix.cell(activity, layer).responsible()
                              is Party.PROVIDER else "the customer (or its supplier)."))
    # a normal change waits for the A of every affected layer; an emergency change is
    # authorised at once by its own A (authorise_emergency), nobody else is asked
    approvers = [] if change_type == "standard" else \
        [rules.matrix.cell(activity, layer).accountable.value] if change_type == "emergency" \
        else list(dict.fromkeys(rules.matrix.cell(activity, other).accountable.value
                                for other in affected))
    start, end = values["planned_start"], values["planned_end"]
    warnings = window_warnings(session, rules, system=system, start=start, end=end) + \
        window_sanity(start, end, now=now)
    details = {
        "change_type": change_type,
        "planned_start": start.isoformat(), "planned_end": end.isoformat(),
        "affected_layers": [v.value for v in affected],
        "approvers": approvers, "approvals": [],
        "template": template.key if template else None,
        "warnings": warnings,
        **({"idempotency_key": key} if key else {}),
    }
    urgency = 1 if change_type == "emergency" else 3
    ticket = tickets._new_ticket(
        session, rules, kind="change", actor=actor, actor_ctx=actor_ctx, system=system,
        environment=environment, layer=layer, title=values["title"],
        description=values["description"], impact=2, urgency=urgency, now=now,
        activity=activity, details=details,
    )
    session.add(ChangeWindow(ticket_id=ticket.id, system_id=system.id,
                             customer_id=system.customer_id, planned_start=start,
                             planned_end=end))
    session.flush()
    return ticket


# --- reschedule ---------------------------------------------------------------------------

#: the states in which a change's window may still be moved: before its implementation starts
RESCHEDULE_STATES = ("new", "assessment", "awaiting_approval", "approved")


def _reschedule_refusal(session: Session, rules: Rules, actor_ctx: Actor, ticket: Ticket
                        ) -> DomainError | None:
    """Why the actor may not move this ticket's window now (None: it may)."""
    if ticket.kind != "change":
        return NotFound("No such change.")
    cell = rules.matrix.cell(ticket.activity, ticket.layer)
    if not access.holds(actor_ctx, tickets.ticket_facts(session, ticket), cell, "R"):
        return NotPermitted(f"Only the {cell.responsible(on_request=ticket.on_request).value}, "
                            "who is responsible for the change, reschedules it.")
    if ticket.state not in RESCHEDULE_STATES:
        return InvalidTransition("A change is rescheduled before its implementation starts.")
    return None


def may_reschedule(session: Session, rules: Rules, actor_ctx: Actor, ticket: Ticket) -> bool:
    """Whether the actor may move the change's window now (the page offers the form)."""
    return _reschedule_refusal(session, rules, actor_ctx, ticket) is None


def reschedule_change(session: Session, rules: Rules, actor: User, actor_ctx: Actor,
                      ticket_ref: Any, data: Any, *, now: datetime) -> Ticket:
    """Move a change's planned window: ``{planned_start, planned_end, comment?}``, by the R of
    the change (whoever may raise it), before its implementation starts (409 after, 403 for
    anyone else). The window is checked as at submission (end after start, the calendar's
    years: 422), and its warnings worked out again for the new window (overlaps, freezes,
    ``window_sanity``), replacing those of the old one; the ones kept as recorded of what
    happened (``outside_window``) stay. A postponed change keeps its approvals; the history's
    ``rescheduled`` event names the old and the new window. A service of its own, not a
    workflow trigger: the new window is a change of the ChangeWindow row, not of the state."""
    ticket = tickets.get_ticket(session, rules, actor_ctx, ticket_ref, for_update=True)
    refusal = _reschedule_refusal(session, rules, actor_ctx, ticket)
    if refusal is not None:
        raise refusal
    if not isinstance(data, dict):
        raise ValidationError("Expected an object.")
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    checks = {
        "planned_start": lambda: _instant(data.get("planned_start"), "planned_start"),
        "planned_end": lambda: _instant(data.get("planned_end"), "planned_end"),
        "comment": lambda: clean_text(data.get("comment"), "comment", required=False),
    }
    for name, check in checks.items():
        try:
            values[name] = check()
        except ValidationError as exc:
            errors.update(exc.errors)
    if not errors and values["planned_end"] <= values["planned_start"]:
        errors["planned_end"] = ["Must be after planned_start."]
    if errors:
        raise ValidationError("The new window has invalid fields.", errors)
    start, end = values["planned_start"], values["planned_end"]
    window = session.get(ChangeWindow, ticket.id)
    if window is None:  # pragma: no cover - every change is raised with its window
        window = ChangeWindow(ticket_id=ticket.id, system_id=ticket.system_id,
                             customer_id=ticket.customer_id, planned_start=start,
                             planned_end=end)
        session.add(window)
    details = dict(ticket.details or {})
    old = {"from_start": details.get("planned_start"), "from_end": details.get("planned_end")}
    if (old["from_start"], old["from_end"]) == (start.isoformat(), end.isoformat()):
        raise ValidationError("The window is unchanged: give a new start or end.", {
            "planned_start": ["The window is unchanged."]})
    window.planned_start, window.planned_end = start, end
    kept = [w for w in details.get("warnings", []) if w.get("kind") == "outside_window"]
    details.update(planned_start=start.isoformat(), planned_end=end.isoformat(),
                   warnings=window_warnings(session, rules, system=ticket.system, start=start,
                                            end=end, exclude_ticket_id=ticket.id)
                   + window_sanity(start, end, now=now) + kept)
    ticket.details = details
    ticket.updated_at = now
    session.flush()
    append_event(session, ticket, kind="rescheduled", actor=actor, now=now, data={
        **old, "planned_start": start.isoformat(), "planned_end": end.isoformat(),
        **({"comment": values["comment"]} if values["comment"] else {}),
        "warnings": [w["message"] for w in details["warnings"]]})
    # those who approved a window, or are asked to, and the I parties hear that it moved
    tickets._notify_informed(session, rules, ticket, event="rescheduled", now=now,
                             deviation=False, actor=actor,
                             targets=("I", "approved", "approvers"), data={
                                 "planned_start": start.isoformat(),
                                 "planned_end": end.isoformat()})
    tickets._after_change(session, rules, ticket, now, "rescheduled")
    session.flush()
    return ticket


# --- consultations and what waits on whom -------------------------------------------------

def _email(session: Session, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = session.get(User, user_id)
    return user.email if user else None


def consultations_of(session: Session, rules: Rules, actor_ctx: Actor, ticket_ref: Any
                     ) -> list[dict[str, Any]]:
    """Every consultation of a ticket, oldest first: stage, party, question, answer, who, when."""
    ticket = tickets.get_ticket(session, rules, actor_ctx, ticket_ref)
    rows = session.scalars(select(Consultation).where(Consultation.ticket_id == ticket.id)
                           .order_by(Consultation.id))
    return [{
        "id": c.id, "stage": c.activity, "party": c.party, "question": c.question,
        "asked_by": _email(session, c.asked_by_id), "asked_at": c.asked_at.isoformat(),
        "answer": c.answer, "answered_by": _email(session, c.answered_by_id),
        "answered_at": c.answered_at.isoformat() if c.answered_at else None,
        "open": c.answered_at is None,
    } for c in rows]


def waiting_on(session: Session, rules: Rules, actor_ctx: Actor, ticket_ref: Any
               ) -> dict[str, Any]:
    """What the ticket waits for, and on whom: open consultations, gated next steps with the C
    parties they still need, and (changes) the approvals still missing per accountable party."""
    ticket = tickets.get_ticket(session, rules, actor_ctx, ticket_ref)
    workflow = rules.workflow(ticket.kind)
    fx = tickets.ticket_facts(session, ticket)
    gates = []
    seen: set[str] = set()
    for spec in workflow.transitions_from(ticket.state, fx.fields):
        if spec.trigger in seen:
            continue
        seen.add(spec.trigger)
        pending = access.waiting_on(rules.matrix, workflow, fx, spec)
        if pending:
            gates.append({"trigger": spec.trigger, "label": spec.label,
                          "activity": spec.activity or ticket.activity,
                          "waiting_on": [p.value for p in pending]})
    open_consultations = [c for c in consultations_of(session, rules, actor_ctx, ticket.id)
                          if c["open"]]
    result: dict[str, Any] = {
        "ticket": tickets.number_of(rules, ticket), "state": ticket.state,
        "responsible_party": ticket.responsible_party,
        "assignee": ticket.assignee.email if ticket.assignee else None,
        "consultations": open_consultations, "gates": gates, "approvals": None,
    }
    if ticket.kind == "change" and (ticket.details or {}).get("change_type") != "standard":
        details = ticket.details or {}
        approve = next((s for s in workflow.transitions if s.gate == "approvals"), None)
        pending = access.approvals_pending(rules.matrix, fx, approve.activity if approve else None)
        result["approvals"] = {
            "required": details.get("approvers", []),
            "given": details.get("approvals", []),
            "pending": [p.value for p in pending] if ticket.state == "awaiting_approval" else [],
        }
    parties = {p for g in gates for p in g["waiting_on"]} | {c["party"] for c in open_consultations}
    if result["approvals"]:
        parties |= set(result["approvals"]["pending"])
    result["waiting_on_parties"] = sorted(parties)
    return result


# --- CAB view and calendar ----------------------------------------------------------------

def _change_summary(session: Session, rules: Rules, ticket: Ticket,
                    window: ChangeWindow | None = None) -> dict[str, Any]:
    details = ticket.details or {}
    return {
        "id": ticket.id, "number": tickets.number_of(rules, ticket), "title": ticket.title,
        "state": ticket.state, "system": ticket.system.key, "environment": ticket.environment,
        "layer": ticket.layer, "affected_layers": details.get("affected_layers", [ticket.layer]),
        "activity": ticket.activity, "change_type": details.get("change_type"),
        "template": details.get("template"),
        "planned_start": window.planned_start.isoformat() if window else details.get(
            "planned_start"),
        "planned_end": window.planned_end.isoformat() if window else details.get("planned_end"),
        "responsible_party": ticket.responsible_party,
        "accountable_party": ticket.accountable_party,
        "risk": details.get("risk"), "impact_assessment": details.get("impact_assessment"),
        "outcome": details.get("outcome"),
    }


def cab_view(session: Session, rules: Rules, actor_ctx: Actor) -> list[dict[str, Any]]:
    """Changes awaiting authorisation that the actor may see, earliest window first: who must
    still approve (per accountable party), who has, and whether this actor may approve now."""
    workflow = rules.workflow("change")
    approve = next((s for s in workflow.transitions if s.gate == "approvals"), None)
    query = (select(Ticket, ChangeWindow)
             .outerjoin(ChangeWindow, ChangeWindow.ticket_id == Ticket.id)
             .where(Ticket.kind == "change",
                    Ticket.state.in_(("awaiting_approval", "new", "assessment")))
             .order_by(Ticket.id))
    query = tickets.visible_to(query, actor_ctx)
    rows = [(ticket, window) for ticket, window in session.execute(query)
            if ticket.state == "awaiting_approval"
            or (ticket.details or {}).get("change_type") == "emergency"]
    # the warnings as of now, as GET /changes/<id>/warnings and the calendar give them: those
    # stored at submission go stale as other changes are planned or cancelled
    warnings = current_warnings(session, rules, rows)
    items = []
    for ticket, window in rows:
        details = ticket.details or {}
        fx = tickets.ticket_facts(session, ticket)
        item = _change_summary(session, rules, ticket, window)
        if ticket.state == "awaiting_approval":
            pending = access.approvals_pending(rules.matrix, fx,
                                               approve.activity if approve else None)
            item["awaiting"] = "approval"
        else:
            pending = (Party(ticket.accountable_party),)
            item["awaiting"] = "emergency_authorisation"
        item["pending_approvals"] = [p.value for p in pending]
        item["approvals"] = details.get("approvals", [])
        item["warnings"] = warnings[ticket.id]
        available = access.available_triggers(rules.matrix, workflow, fx, actor_ctx)
        item["can_approve"] = bool({"approve", "authorise_emergency"} & set(available))
        items.append(item)
    items.sort(key=lambda i: (i["planned_start"] or "", i["id"]))
    return items


def change_calendar(session: Session, rules: Rules, actor_ctx: Actor, *, start: Any, end: Any,
                    system: Any = None, include_inactive: bool = False
                    ) -> list[dict[str, Any]]:
    """Changes whose planned window overlaps ``[start, end)``, by window start, with live
    warnings (overlaps, freezes); cancelled and rejected changes only if asked for."""
    begin, finish = _instant(start, "start"), _instant(end, "end")
    if finish <= begin:
        raise ValidationError("end must be after start.", {"end": ["Must be after start."]})
    if finish - begin > timedelta(days=CALENDAR_MAX_DAYS):
        raise ValidationError("The range is too long.",
                              {"end": [f"At most {CALENDAR_MAX_DAYS} days after start."]})
    query = (select(Ticket, ChangeWindow).join(ChangeWindow, ChangeWindow.ticket_id == Ticket.id)
             .where(ChangeWindow.planned_start < finish, ChangeWindow.planned_end > begin)
             .order_by(ChangeWindow.planned_start, Ticket.id))
    query = tickets.visible_to(query, actor_ctx)
    if system is not None:
        sys_row = directory.system_for(session, actor_ctx, system)
        query = query.where(ChangeWindow.system_id == sys_row.id)
    if not include_inactive:
        query = query.where(Ticket.state.not_in(INACTIVE_STATES))
    rows = [(ticket, window) for ticket, window in session.execute(query)]
    warnings = current_warnings(session, rules, rows)
    items = []
    for ticket, window in rows:
        item = _change_summary(session, rules, ticket, window)
        item["warnings"] = warnings[ticket.id]
        items.append(item)
    return items


# --- checks after a step (``tickets.after_change_hooks``) -----------------------------------

def _implemented_outside_window(session: Session, rules: Rules, ticket: Ticket, now: datetime,
                                trigger: str) -> None:
    """Starting the work in production before the planned window or after it is recorded, not
    refused (an emergency does not wait for its window): a warning on the change
    (``details["warnings"]``, kind ``outside_window``) and a ``window_deviation`` event in its
    history, next to the step's own."""
    window = session.get(ChangeWindow, ticket.id)
    if window is None or window.planned_start <= now <= window.planned_end:
        return
    early = now < window.planned_start
    warning = {
        "kind": "outside_window", "trigger": trigger, "at": now.isoformat(),
        "planned_start": window.planned_start.isoformat(),
        "planned_end": window.planned_end.isoformat(),
        "message": "Implemented before its planned window." if early
        else "Implemented after its planned window.",
    }
    details = dict(ticket.details or {})
    details["warnings"] = [*details.get("warnings", []), warning]
    ticket.details = details
    append_event(session, ticket, kind="window_deviation", actor=None, now=now, data=warning)


def on_ticket_change(session: Session, rules: Rules, ticket: Ticket, now: datetime,
                     what: str) -> None:
    if ticket.kind == "change" and what in IMPLEMENT_TRIGGERS:
        _implemented_outside_window(session, rules, ticket, now, what)


if on_ticket_change not in tickets.after_change_hooks:
    tickets.after_change_hooks.append(on_ticket_change)
