"""The monthly standard report: per customer, or across all customers for SIT staff.

Counts are aggregated in SQL; durations need the business calendar and are computed in Python
from narrow column tuples (never ORM objects), with a precomputed working-time index so a month
of 100,000 incidents is a few seconds of work.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, cast, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from itilflow.domain import access
from itilflow.domain import report as fig
from itilflow.domain.access import Actor
from itilflow.domain.errors import NotFound, NotPermitted, ValidationError
from itilflow.domain.paging import vagtordning_covers
from itilflow.domain.parties import WORKER_ROLES, Layer, OrgKind, Party, Role
from itilflow.domain.priority import PRIORITIES
from itilflow.domain.sla import sla_status
from itilflow.models import Organisation, OutboxMessage, System, Ticket, TicketEvent, User
from itilflow.services import tickets as ticket_service
from itilflow.services.access_log import csv_cell
from itilflow.services.fields import clean_text, parse_instant
from itilflow.services.history import append_event
from itilflow.services.outbox import enqueue
from itilflow.services.rules import Rules
from itilflow.services.sla import paused_intervals

#: how far outside the month an outage incident may have been logged and still overlap it
OUTAGE_SLACK = timedelta(days=62)
CHANGE_TYPES = ("standard", "normal", "emergency")
CHANGE_OUTCOMES = ("successful", "failed", "backed_out")
LIST_LIMIT = 50


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _parse_instant(value: Any) -> datetime | None:
    """A stored outage time in UTC; None where there is none (or it cannot be read)."""
    try:
        return parse_instant(value, "instant").astimezone(UTC)
    except ValidationError:
        return None


# --- who may read which report ---------------------------------------------------------

def report_customer(session: Session, actor: Actor, customer: Any) -> Organisation | None:
    """The customer the actor asks for (None: all customers, SIT staff only). Another
    customer's report, or an unknown name, is NotFound."""
    sees_all = actor.is_provider_staff or actor.role is Role.ADMIN
    if customer in (None, "", "all", "*"):
        if sees_all:
            return None
        if actor.role is Role.SUPPLIER_AGENT:
            raise NotFound("No such report.")
        customer_org = session.get(Organisation, actor.organisation_id)
        return customer_org
    if not isinstance(customer, str) or len(customer) > 200:
        raise NotFound("No such customer.")
    org = session.scalar(select(Organisation).where(Organisation.name == customer))
    if org is None or org.kind != OrgKind.CUSTOMER.value:
        raise NotFound("No such customer.")
    if not sees_all and (actor.role is Role.SUPPLIER_AGENT or actor.organisation_id != org.id):
        raise NotFound("No such customer.")
    return org


# --- the report --------------------------------------------------------------------------

def monthly_report(session: Session, rules: Rules, actor: Actor, *, customer: Any, month: Any,
                   now: datetime) -> dict[str, Any]:
    """The standard report of one calendar month (``YYYY-MM``, in the calendar's time zone)."""
    year, month_no = fig.parse_month(month)
    org = report_customer(session, actor, customer)
    return build_report(session, rules, org, year, month_no, now=now)


def build_report(session: Session, rules: Rules, org: Organisation | None, year: int, month: int,
                 *, now: datetime) -> dict[str, Any]:
    """The report without an access check (the monthly job, the benchmark)."""
    tz = rules.calendar.timezone
    start, end = fig.month_bounds(year, month, tz)
    if now <= start:
        raise ValidationError("That month has not begun.", {"month": ["A month that has begun."]})
    as_of = min(now, end)
    # Working time is known ahead: the index reaches past the latest SLA deadline of the month's
    # incidents (P5: 10 business days) and any resolution up to now.
    index = fig.WorkingTimeIndex(rules.calendar, start - timedelta(days=1),
                                 max(now, end) + timedelta(days=62))
    customer_clause = (lambda col: col == org.id) if org is not None else (lambda col: True)
    incidents_in_month = and_(Ticket.kind == "incident", Ticket.created_at >= start,
                              Ticket.created_at < end, customer_clause(Ticket.customer_id))
    return {
        "customer": org.name if org is not None else None,
        "month": f"{year:04d}-{month:02d}",
        "timezone": tz,
        "period": {"start": _iso(start), "end": _iso(end), "as_of": _iso(as_of)},
        "generated_at": _iso(now),
        "availability": _availability(session, rules, org, start, as_of, later=as_of < now),
        "incidents": _incidents(session, rules, index, incidents_in_month, start, end, as_of,
                                customer_clause, later=as_of < now),
        "changes": _changes(session, rules, start, end, as_of, customer_clause, later=as_of < now),
        "problems": _problems(session, rules, start, end, as_of, customer_clause,
                              later=as_of < now),
        "paging": _paging(session, rules, incidents_in_month, start, end, as_of,
                          customer_clause),
    }


def outage_interval(ticket_created: datetime, ticket_resolved: datetime | None,
                    details: dict | None, as_of: datetime) -> tuple[datetime, datetime]:
    """An outage's start and end: as corrected by an agent, else logged and resolved times; an
    outage still open ends at ``as_of``."""
    details = details or {}
    start = _parse_instant(details.get("outage_start")) or ticket_created
    end = _parse_instant(details.get("outage_end")) or ticket_resolved or as_of
    return start, end


# --- the figures as of the report's instant ------------------------------------------------

_UNCHANGED: Any = object()


class _Then:
    """What a ticket changed after ``as_of`` was at ``as_of``, from its history: the first
    event after the instant of each kind carries the value it replaced."""

    __slots__ = (
        "acknowledged",
        "kind",
        "layer",
        "now_layer",
        "now_outcome",
        "now_party",
        "now_priority",
        "now_resolved",
        "now_state",
        "now_type",
        "outcome",
        "party",
        "priority",
        "resolved",
        "state",
    )

    def __init__(self, row: Any) -> None:
        (_id, self.kind, self.now_state, self.now_priority, self.now_layer, self.now_party,
         self.now_resolved, self.now_type, self.now_outcome) = row[:9]
        self.state = self.now_state
        self.priority = self.now_priority
        self.layer = self.now_layer
        self.party = self.now_party
        self.acknowledged: Any = _UNCHANGED
        self.outcome = self.now_outcome
        self.resolved: Any = _UNCHANGED


def _as_they_were(session: Session, rules: Rules, where, as_of: datetime) -> dict[int, _Then]:
    """The tickets matching ``where`` that changed after ``as_of``, each as it was then: its
    state, priority, layer, responsible party, acknowledgement, a change's outcome and the time
    it was resolved (None: not resolved then). One query for all of them (a second one only for
    tickets resolved at ``as_of`` and reopened since)."""
    data = TicketEvent.data
    rows = session.execute(
        select(Ticket.id, Ticket.kind, Ticket.state, Ticket.priority, Ticket.layer,
               Ticket.responsible_party, Ticket.resolved_at,
               Ticket.details["change_type"].as_string(), Ticket.details["outcome"].as_string(),
               TicketEvent.kind, TicketEvent.trigger, TicketEvent.from_state,
               data["from_priority"].as_string(), data["from_layer"].as_string(),
               data["from_party"].as_string(), data["acknowledged_at"].as_string(),
               data["outcome"].as_string())
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        # every such event moves the ticket's updated_at (services.tickets._fire, the pager's
        # _system_fire): the few tickets changed since are found without reading the history
        # of all the others
        .where(where, Ticket.updated_at > as_of, TicketEvent.created_at > as_of,
               TicketEvent.kind.in_(("transition", "handover", "acknowledgement_cleared")))
        .order_by(TicketEvent.ticket_id, TicketEvent.seq)
    ).all()
    then: dict[int, _Then] = {}
    seen: dict[int, set[str]] = {}
    for row in rows:
        ticket = then.get(row[0])
        if ticket is None:
            ticket = then[row[0]] = _Then(row)
            seen[row[0]] = set()
        done = seen[row[0]]
        kind, trigger, from_state, from_priority, from_layer, from_party, acked, outcome = row[9:]
        if kind == "transition":
            if "state" not in done:
                done.add("state")
                ticket.state = from_state
            if trigger == "reprioritise" and from_priority and "priority" not in done:
                done.add("priority")
                ticket.priority = from_priority
            if trigger == "reclassify" and "layer" not in done:
                done.add("layer")
                ticket.layer = from_layer
            if outcome is not None and "outcome" not in done:
                done.add("outcome")  # recorded after the instant: pending then
                ticket.outcome = None
        elif kind == "handover" and from_party and "party" not in done:
            done.add("party")
            ticket.party = from_party
        elif kind == "acknowledgement_cleared" and "ack" not in done:
            done.add("ack")  # the acknowledgement in place at the instant, if given by then
            given = _parse_instant(acked)
            ticket.acknowledged = given if given is not None and given <= as_of else None
    reopened = []
    for ticket_id, ticket in then.items():
        category = _category(rules, ticket.kind, ticket.state)
        if category in ("open", "waiting"):
            ticket.resolved = None
        elif ticket.now_resolved is not None and ticket.now_resolved <= as_of:
            ticket.resolved = ticket.now_resolved
        elif category == "resolved":
            reopened.append(ticket_id)  # resolved then, reopened (and maybe resolved) since
        else:
            ticket.resolved = None
    if reopened:
        # replay the resolution time as _apply_state keeps it, up to the instant
        for ticket_id, to_state, at in session.execute(
            select(TicketEvent.ticket_id, TicketEvent.to_state, TicketEvent.created_at)
            .where(TicketEvent.ticket_id.in_(reopened), TicketEvent.kind == "transition",
                   TicketEvent.created_at <= as_of)
            .order_by(TicketEvent.ticket_id, TicketEvent.seq)
        ):
            ticket = then[ticket_id]
            category = _category(rules, ticket.kind, to_state)
            if category == "resolved" and ticket.resolved in (None, _UNCHANGED):
                ticket.resolved = at
            elif category in ("open", "waiting"):
                ticket.resolved = None
        for ticket_id in reopened:
            if then[ticket_id].resolved is _UNCHANGED:
                then[ticket_id].resolved = None
    return then


def _unresolved_then(as_of: datetime):
    """The incidents whose figures may have changed since ``as_of``. One resolved by then and
    not reopened since (``resolved_at`` is cleared on reopening, and set anew on resolving) has
    been resolved or closed ever since, where an incident is neither reprioritised,
    reclassified, acknowledged nor cancelled (workflows/incident.yaml): what changed since (its
    closing, mostly) moves none of its figures, and its history need not be read."""
    return or_(Ticket.resolved_at.is_(None), Ticket.resolved_at > as_of)


def _category(rules: Rules, kind: str, state: str | None) -> str | None:
    try:
        return rules.workflow(kind).states[state].category  # type: ignore[index]
    except (KeyError, LookupError, ValueError):
        return None


def _shift(counter: Counter, old: Any, new: Any) -> None:
    if old != new:
        counter[old] -= 1
        counter[new] += 1


def _availability(session: Session, rules: Rules, org: Organisation | None, start: datetime,
                  as_of: datetime, *, later: bool) -> list[dict[str, Any]]:
    query = select(System).order_by(System.key)
    if org is not None:
        query = query.where(System.customer_id == org.id)
    systems = [s for s in session.scalars(query) if "production" in (s.environments or [])]
    if not systems:
        return []
    where = and_(Ticket.kind == "incident", Ticket.outage.is_(True),
                 Ticket.environment == "production",
                 Ticket.system_id.in_([s.id for s in systems]),
                 Ticket.created_at < as_of + OUTAGE_SLACK,
                 or_(Ticket.resolved_at.is_(None), Ticket.resolved_at > start - OUTAGE_SLACK))
    rows = session.execute(
        select(Ticket.id, Ticket.system_id, Ticket.created_at, Ticket.resolved_at,
               Ticket.details, Ticket.state, Ticket.updated_at).where(where)
    ).all()
    # an outage resolved by the instant and reopened since ended when it was resolved then
    changed = sorted(row[0] for row in rows if row[6] > as_of and (
        row[3] is None or row[3] > as_of)) if later else []
    then = _as_they_were(session, rules, Ticket.id.in_(changed), as_of) if changed else {}
    outages: dict[int, list[tuple[datetime, datetime]]] = {s.id: [] for s in systems}
    for ticket_id, system_id, created, resolved, details, state, _updated in rows:
        was = then.get(ticket_id)
        if was is not None:
            state, resolved = was.state, was.resolved
        if state == "cancelled":
            continue
        outages[system_id].append(outage_interval(created, resolved, details, as_of))
    result = []
    for system in systems:
        figures = fig.availability(rules.calendar, start, as_of, outages[system.id],
                                   around_the_clock=system.vagtordning)
        result.append({
            "system": system.key, "name": system.name, "customer": system.customer.name,
            "vagtordning": system.vagtordning,
            "service_window": "24x7" if system.vagtordning else "working_time",
            "window_seconds": figures.window_seconds,
            "downtime_seconds": figures.downtime_seconds, "outages": figures.outages,
            "availability_percent": figures.percent,
        })
    return result


def _incidents(session: Session, rules: Rules, index: fig.WorkingTimeIndex, where, start: datetime,
               end: datetime, as_of: datetime, customer_clause, *, later: bool
               ) -> dict[str, Any]:
    """The month's incidents as they were at ``as_of``: ``later`` says whether they may have
    changed since (a closed month), and their history gives what they were then."""
    then = _as_they_were(session, rules, and_(where, _unresolved_then(as_of)), as_of) \
        if later else {}
    # one scan, grouped on everything the counts need (at most a few hundred groups)
    by_priority: Counter = Counter()
    by_layer: Counter = Counter()
    by_party: Counter = Counter()
    outages = after_hours = 0
    for priority, layer, party, outage, late, n in session.execute(
        select(Ticket.priority, Ticket.layer, Ticket.responsible_party, Ticket.outage,
               Ticket.after_hours, func.count())
        .where(where).group_by(Ticket.priority, Ticket.layer, Ticket.responsible_party,
                               Ticket.outage, Ticket.after_hours)
    ):
        by_priority[priority] += n
        by_layer[layer] += n
        by_party[party] += n
        outages += n if outage else 0
        after_hours += n if late else 0
    for ticket in then.values():  # counted as they are now; as they were then instead
        _shift(by_priority, ticket.now_priority, ticket.priority)
        _shift(by_layer, ticket.now_layer, ticket.layer)
        _shift(by_party, ticket.now_party, ticket.party)

    ack_wall: list[float] = []
    ack_work: list[float] = []
    res_wall: list[float] = []
    res_work: list[float] = []
    sla = {p: Counter() for p in PRIORITIES}
    rows = session.execute(
        select(Ticket.id, Ticket.created_at, Ticket.responded_at, Ticket.acknowledged_at,
               Ticket.resolved_at, Ticket.priority, System.vagtordning,
               cast(Ticket.sla_pauses, String), Ticket.state, Ticket.environment)
        .join(System, System.id == Ticket.system_id).where(where)
    ).all()
    clocks = _SlaClocks(rules, index, as_of)
    for ticket_id, created, responded, acked, resolved, priority, has_vagt, pauses, state, env \
            in rows:
        # what happened after the instant has not happened yet
        if responded is not None and responded > as_of:
            responded = None
        if acked is not None and acked > as_of:
            acked = None
        if resolved is not None and resolved > as_of:
            resolved = None
        if then:
            was = then.get(ticket_id)
            if was is not None:
                priority, state = was.priority, was.state
                if was.acknowledged is not _UNCHANGED:
                    acked = was.acknowledged
                resolved = was.resolved
        # around the clock only where on-call covers the incident (the paging rule)
        vagtordning = vagtordning_covers(kind="incident", priority=priority, environment=env,
                                         vagtordning=has_vagt,
                                         page_priorities=rules.page_priorities)
        c_us = index.to_us(created)
        c_before = index.before_us(c_us) if index.covers_us(c_us) else None
        first_ack = acked if responded is None or (acked is not None and acked < responded) \
            else responded
        if first_ack is not None:
            ack_wall.append((first_ack - created).total_seconds())
            ack_work.append(clocks.working(created, c_us, c_before, first_ack))
        if resolved is not None:
            res_wall.append((resolved - created).total_seconds())
            res_work.append(clocks.working(created, c_us, c_before, resolved))
        if state == "cancelled":
            continue
        if pauses and pauses.strip() not in ("[]", "null"):  # JSON text, parsed only if needed
            response_breached, resolution_breached = clocks.with_pauses(
                priority, vagtordning, created, responded, resolved, pauses)
        else:
            response_breached, resolution_breached = clocks.breaches(
                priority, vagtordning, created, c_us, c_before, responded, resolved)
        counter = sla[priority]
        counter["total"] += 1
        if response_breached:
            counter["response_breached"] += 1
        elif responded is not None:
            counter["response_met"] += 1
        if resolution_breached:
            counter["resolution_breached"] += 1
        elif resolved is not None:
            counter["resolution_met"] += 1
        else:
            counter["open"] += 1

    sla_table = {}
    for priority in PRIORITIES:
        c = sla[priority]
        sla_table[priority] = {
            "total": c["total"], "response_met": c["response_met"],
            "response_breached": c["response_breached"], "resolution_met": c["resolution_met"],
            "resolution_breached": c["resolution_breached"], "open": c["open"],
            "response_compliance_percent": fig.percent(
                c["response_met"], c["response_met"] + c["response_breached"]),
            "resolution_compliance_percent": fig.percent(
                c["resolution_met"], c["resolution_met"] + c["resolution_breached"]),
        }

    handovers = _handovers(session, rules, start, end, customer_clause)
    return {
        "total": sum(by_priority.values()),
        "by_priority": {p: by_priority.get(p, 0) for p in PRIORITIES},
        "by_layer": {**{layer.value: by_layer.get(layer.value, 0) for layer in Layer},
                     "unknown": by_layer.get(None, 0)},
        "by_responsible_party": {p.value: by_party.get(p.value, 0) for p in Party},
        "outages": outages,
        "after_hours": after_hours,
        "time_to_acknowledge": {"wall": fig.summary(ack_wall), "working": fig.summary(ack_work)},
        "time_to_resolve": {"wall": fig.summary(res_wall), "working": fig.summary(res_work)},
        "sla": sla_table,
        **handovers,
    }


class _SlaClocks:
    """The domain's SLA breach rule (``stopped or now > due``) for many tickets at one ``now``.

    Without pauses the due times come straight from the working-time index in integer
    microseconds; with pauses, or outside the index, the domain's own clock runs (on the index,
    which answers the calendar's two questions exactly, only faster)."""

    def __init__(self, rules: Rules, index: fig.WorkingTimeIndex, now: datetime) -> None:
        self.rules, self.index, self.now = rules, index, now
        self.now_us = index.to_us(now)
        self.targets = {p: (rules.sla.targets_for(p).response_minutes * 60 * 1_000_000,
                            rules.sla.targets_for(p).resolution_minutes * 60 * 1_000_000)
                        for p in PRIORITIES}
        self.around = {(p, v): rules.sla.clock_for(p, vagtordning=v) == "around_the_clock"
                       for p in PRIORITIES for v in (True, False)}

    def working(self, created: datetime, c_us: int, c_before: int | None, end: datetime) -> float:
        e_us = self.index.to_us(end)
        if c_before is None or not self.index.covers_us(e_us):
            return self.index.working_seconds_between(created, end)
        return max(0, self.index.before_us(e_us) - c_before) / 1_000_000

    def breaches(self, priority: str, vagtordning: bool, created: datetime, c_us: int,
                 c_before: int | None, responded: datetime | None, resolved: datetime | None
                 ) -> tuple[bool, bool]:
        if c_before is None:
            return self.with_pauses(priority, vagtordning, created, responded, resolved, "[]")
        around = self.around[(priority, vagtordning)]
        result = []
        for target, stopped in zip(self.targets[priority], (responded, resolved), strict=True):
            due = c_us + target if around else self.index.due_us(c_before, target)
            if due is None:
                return self.with_pauses(priority, vagtordning, created, responded, resolved, "[]")
            stop_us = self.index.to_us(stopped) if stopped is not None else self.now_us
            result.append(stop_us > due)
        return result[0], result[1]

    def with_pauses(self, priority: str, vagtordning: bool, created: datetime,
                    responded: datetime | None, resolved: datetime | None, pauses: str
                    ) -> tuple[bool, bool]:
        status = sla_status(self.rules.sla, self.index, priority=priority,  # type: ignore[arg-type]
                            vagtordning=vagtordning, started_at=created, now=self.now,
                            paused_intervals=_pauses(pauses), responded_at=responded,
                            resolved_at=resolved)
        return status.response_breached, status.resolution_breached


def _pauses(raw: str) -> list[tuple[datetime, datetime | None]]:
    class _Row:
        sla_pauses = json.loads(raw)
    return paused_intervals(_Row())  # type: ignore[arg-type]


def _handovers(session: Session, rules: Rules, start: datetime, end: datetime, customer_clause
               ) -> dict[str, Any]:
    rows = session.execute(
        select(TicketEvent.ticket_id, Ticket.kind, func.count())
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(TicketEvent.kind == "handover", TicketEvent.created_at >= start,
               TicketEvent.created_at < end, customer_clause(Ticket.customer_id))
        .group_by(TicketEvent.ticket_id, Ticket.kind)
    ).all()
    bounced = sorted((ticket_id, kind, n) for ticket_id, kind, n in rows if n >= 2)
    return {
        "handovers": sum(n for _, _, n in rows),
        "tickets_handed_over": len(rows),
        "back_and_forth": len(bounced),
        "back_and_forth_tickets": [
            f"{rules.workflow(kind).prefix}-{ticket_id:06d}" for ticket_id, kind, _ in bounced
        ][:LIST_LIMIT],
    }


def _changes(session: Session, rules: Rules, start: datetime, end: datetime, as_of: datetime,
             customer_clause, *, later: bool) -> dict[str, Any]:
    where = and_(Ticket.kind == "change", Ticket.created_at >= start, Ticket.created_at < end,
                 customer_clause(Ticket.customer_id))
    then = _as_they_were(session, rules, where, as_of) if later else {}
    change_type = Ticket.details["change_type"].as_string()
    outcome = Ticket.details["outcome"].as_string()
    by_type: Counter = Counter()
    by_outcome: Counter = Counter()
    emergency_outcomes: Counter = Counter()
    total = 0
    for ctype, result, n in session.execute(
        select(change_type, outcome, func.count()).where(where).group_by(change_type, outcome)
    ):
        total += n
        by_type[ctype] += n
        by_outcome[result if result in CHANGE_OUTCOMES else "pending"] += n
        if ctype == "emergency":
            emergency_outcomes[result if result in CHANGE_OUTCOMES else "pending"] += n
    stopped = ("cancelled", "rejected")
    cancelled = session.scalar(select(func.count()).where(where, Ticket.state.in_(stopped))) or 0
    for change in then.values():  # an outcome recorded, or a stop, after the instant
        if change.outcome != change.now_outcome:
            now_outcome = change.now_outcome if change.now_outcome in CHANGE_OUTCOMES \
                else "pending"
            _shift(by_outcome, now_outcome, "pending")
            if change.now_type == "emergency":
                _shift(emergency_outcomes, now_outcome, "pending")
        cancelled += (change.state in stopped) - (change.now_state in stopped)
    return {
        "total": total,
        "by_type": {t: by_type.get(t, 0) for t in CHANGE_TYPES},
        "by_outcome": {o: by_outcome.get(o, 0) for o in (*CHANGE_OUTCOMES, "pending")},
        "emergency": by_type.get("emergency", 0),
        "emergency_by_outcome": {o: emergency_outcomes.get(o, 0)
                                 for o in (*CHANGE_OUTCOMES, "pending")},
        "rejected_or_cancelled": cancelled,
    }


def _problems(session: Session, rules: Rules, start: datetime, end: datetime, as_of: datetime,
              customer_clause, *, later: bool) -> dict[str, Any]:
    mine = and_(Ticket.kind == "problem", customer_clause(Ticket.customer_id))
    then = _as_they_were(session, rules, and_(mine, Ticket.created_at < end), as_of) \
        if later else {}
    opened = session.scalar(select(func.count()).where(
        mine, Ticket.created_at >= start, Ticket.created_at < end)) or 0
    closed = session.scalar(select(func.count()).where(
        mine, Ticket.state == "closed", Ticket.closed_at >= start, Ticket.closed_at < end)) or 0
    resolved = session.scalar(select(func.count()).where(
        mine, Ticket.resolved_at >= start, Ticket.resolved_at < end)) or 0

    def in_month(at: datetime | None) -> bool:
        return at is not None and start <= at < end
    for problem in then.values():  # resolved then, reopened since (or the other way round)
        resolved += in_month(problem.resolved) - in_month(problem.now_resolved)
    workaround = Ticket.details["workaround"].as_string()
    ended = ("closed", "cancelled")
    known_now = or_(Ticket.state == "known_error", workaround.is_not(None))
    open_now = and_(Ticket.state.not_in(ended), known_now)
    if then:  # also those that changed since: their state then decides
        open_now = or_(open_now, Ticket.id.in_(sorted(then)))
    known = [(i, t, then[i].state if i in then else s, w) for i, t, s, w in session.execute(
        select(Ticket.id, Ticket.title, Ticket.state, workaround)
        .where(mine, Ticket.created_at < end, open_now)
        .order_by(Ticket.id)
    )]
    known = [(i, t, s, w) for i, t, s, w in known
             if s not in ended and (s == "known_error" or w is not None)]
    prefix = rules.workflow("problem").prefix
    return {
        "opened": opened, "resolved": resolved, "closed": closed,
        "known_errors": len(known),
        "known_error_list": [{"number": f"{prefix}-{i:06d}", "title": t, "state": s,
                              "workaround": w} for i, t, s, w in known[:LIST_LIMIT]],
    }


def _paging(session: Session, rules: Rules, incidents_in_month, start: datetime, end: datetime,
            as_of: datetime, customer_clause) -> dict[str, Any]:
    """After-hours pages sent and acknowledged, from the paging tables: pages are the trigger
    messages sent in the month; ``paged_incidents`` the incidents an escalation run that paged
    started for in the month (an incident handed over to the other party's on-call has two
    runs and is one incident), ``acknowledged`` those of them whose on-call acknowledged a run;
    the time to acknowledge is per acknowledged run (each on-call's own), from the run's start.
    Where the paging tables are absent, a page is an incident that paged by the rules instead
    (basis ``tickets``)."""
    try:
        from itilflow.models.paging import Escalation, Page
    except ImportError:  # pragma: no cover - paging not installed
        return _paging_from_tickets(session, rules, incidents_in_month, as_of)
    sent = session.scalar(
        select(func.count()).select_from(Page).join(Ticket, Ticket.id == Page.ticket_id)
        .where(Page.action == "trigger", Page.created_at >= start, Page.created_at < end,
               customer_clause(Ticket.customer_id))) or 0
    runs = session.execute(
        select(Escalation.ticket_id, Escalation.started_at, Escalation.acknowledged_at)
        .join(Ticket, Ticket.id == Escalation.ticket_id)
        .where(Escalation.started_at >= start, Escalation.started_at < end,
               customer_clause(Ticket.customer_id),
               select(Page.id).where(Page.escalation_id == Escalation.id,
                                     Page.action == "trigger").exists())
    ).all()
    # an acknowledgement after the instant had not been given yet
    runs = [(t, s, a if a is not None and a <= as_of else None) for t, s, a in runs]
    acked = [(a - s).total_seconds() for _t, s, a in runs if a is not None]
    return {"basis": "pages", "sent": sent, "paged_incidents": len({t for t, _s, _a in runs}),
            "acknowledged": len({t for t, _s, a in runs if a is not None}),
            "time_to_acknowledge": fig.summary(acked)}


def _paging_from_tickets(session: Session, rules: Rules, incidents_in_month, as_of: datetime
                         ) -> dict[str, Any]:
    paged = and_(incidents_in_month, Ticket.after_hours.is_(True),
                 Ticket.environment == "production", System.vagtordning.is_(True),
                 Ticket.priority.in_(sorted(rules.page_priorities)))
    rows = session.execute(
        select(Ticket.created_at, Ticket.acknowledged_at)
        .join(System, System.id == Ticket.system_id).where(paged)
    ).all()
    acked = [(a - c).total_seconds() for c, a in rows if a is not None and a <= as_of]
    return {"basis": "tickets", "sent": len(rows), "paged_incidents": len(rows),
            "acknowledged": len(acked), "time_to_acknowledge": fig.summary(acked)}


# --- CSV ---------------------------------------------------------------------------------

def report_csv(report: dict[str, Any]) -> str:
    """One row per figure: section, item, measure, value; spreadsheet friendly."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")

    def row(*cells: Any) -> None:
        writer.writerow([csv_cell(c) for c in cells])

    row("section", "item", "measure", "value")
    row("report", "", "customer", report["customer"] or "all customers")
    row("report", "", "month", report["month"])
    row("report", "", "timezone", report["timezone"])
    for system in report["availability"]:
        for measure in ("customer", "service_window", "window_seconds", "downtime_seconds",
                        "outages", "availability_percent"):
            row("availability", system["system"], measure, system[measure])

    def flat(section: str, item: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                flat(section, f"{item}.{key}" if item else key, inner)
        elif isinstance(value, list):
            row(section, item, "count", len(value))
        else:
            row(section, item.rpartition(".")[0], item.rpartition(".")[2], value)

    for section in ("incidents", "changes", "problems", "paging"):
        data = {k: v for k, v in report[section].items()
                if k not in ("known_error_list", "back_and_forth_tickets")}
        flat(section, "", data)
    for ticket in report["incidents"]["back_and_forth_tickets"]:
        row("incidents", ticket, "back_and_forth", 1)
    for known in report["problems"]["known_error_list"]:
        row("problems", known["number"], "known_error", known["title"])
    return out.getvalue()


# --- outage correction -------------------------------------------------------------------

def correct_outage(session: Session, rules: Rules, actor: User, actor_ctx: Actor, ticket_ref: Any,
                   *, start: Any, end: Any, reason: Any, now: datetime) -> Ticket:
    """Correct an outage incident's start and end (as measured, not as logged); the old and new
    times go into the ticket's history as an ``outage_corrected`` event."""
    if actor_ctx.role not in WORKER_ROLES:
        raise NotPermitted("Only agents and managers correct outages.")
    ticket = ticket_service.get_ticket(session, rules, actor_ctx, ticket_ref, for_update=True)
    if ticket.kind != "incident":
        raise ValidationError("Only incidents record outages.", {"ticket": ["Not an incident."]})
    # the availability figures are the working party's to correct: a customer's agent may not
    # move SIT's outage on the infrastructure, nor SIT the customer's on its application
    cell = rules.matrix.cell(ticket.activity, ticket.layer)
    facts = ticket_service.ticket_facts(session, ticket)
    if not any(access.holds(actor_ctx, facts, cell, letter) for letter in ("R", "A")):
        raise NotPermitted("Only the party working this incident corrects its outage.")
    errors: dict[str, list[str]] = {}
    new_start = new_end = None
    try:
        new_start = parse_instant(start, "start").astimezone(UTC)
    except ValidationError as exc:
        errors.update(exc.errors)
    if end is not None:
        try:
            new_end = parse_instant(end, "end", hint="An ISO 8601 date-time with offset, or null "
                                    "while the outage lasts.").astimezone(UTC)
        except ValidationError as exc:
            errors.update(exc.errors)
    if new_start and new_start > now:
        errors["start"] = ["Must not be in the future."]
    elif new_start and new_start < ticket.created_at - OUTAGE_SLACK:
        # the report looks this far back for outages; 0001-01-01 would be 0 % availability
        errors["start"] = [f"At most {OUTAGE_SLACK.days} days before the incident was logged."]
    if new_end and new_end > now:
        errors["end"] = ["Must not be in the future."]
    if new_start and new_end and new_end <= new_start:
        errors["end"] = ["Must be after start."]
    try:
        why = clean_text(reason, "reason", required=True, max_length=2000)
    except ValidationError as exc:
        errors.update(exc.errors)
        why = None
    if errors:
        raise ValidationError("The outage correction has invalid fields.", errors)
    details = dict(ticket.details or {})
    old = {"start": details.get("outage_start") or _iso(ticket.created_at),
           "end": details.get("outage_end") or _iso(ticket.resolved_at)}
    details["outage_start"] = _iso(new_start)
    if new_end is not None:
        details["outage_end"] = _iso(new_end)
    else:
        details.pop("outage_end", None)
    ticket.details = details
    ticket.outage = True
    ticket.updated_at = now
    session.flush()
    append_event(session, ticket, kind="outage_corrected", actor=actor, now=now,
                 data={"from": old, "to": {"start": _iso(new_start), "end": _iso(new_end)},
                       "reason": why})
    session.flush()
    return ticket


# --- the monthly job ---------------------------------------------------------------------

def report_message_id(customer: str | None, month: str) -> str:
    return f"report:{customer or '*'}:{month}"[:64]


def send_monthly_reports(session: Session, rules: Rules, *, now: datetime) -> list[str]:
    """Produce last month's reports and queue them (outbox topic ``report``) to each customer's
    managers and SIT's managers, plus the all-customers report to SIT's managers. The outbox
    row's message id is deterministic per (customer, month), so running this again, or from
    several workers at once, sends nothing twice. Returns the message ids written now."""
    year, month = fig.previous_month(now, rules.calendar.timezone)
    label = f"{year:04d}-{month:02d}"
    sit_managers = _emails(session, role=Role.SIT_MANAGER)
    written = []
    customers = list(session.scalars(select(Organisation).where(
        Organisation.kind == OrgKind.CUSTOMER.value).order_by(Organisation.name)))
    for org in [*customers, None]:
        message_id = report_message_id(org.name if org else None, label)
        if session.scalar(select(OutboxMessage.id).where(OutboxMessage.message_id == message_id)):
            continue
        report = build_report(session, rules, org, year, month, now=now)
        recipients = sit_managers if org is None else \
            _emails(session, role=Role.CUSTOMER_MANAGER, organisation_id=org.id) + sit_managers
        try:
            with session.begin_nested():
                enqueue(session, "report", {
                    "kind": "monthly_report", "customer": report["customer"], "month": label,
                    "recipients": recipients, "subject": f"Monthly report {label}: "
                    f"{report['customer'] or 'all customers'}",
                    "report": report, "csv": report_csv(report),
                }, now=now, message_id=message_id)
        except IntegrityError:
            continue  # another worker wrote it first
        written.append(message_id)
    session.flush()
    return written


def report_mail(payload: dict[str, Any]) -> tuple[list[str], str, str, tuple[str, str, str]] | None:
    """What ``send_monthly_reports`` queued, as a mail: recipients, subject, a short text with
    the headline figures, and the CSV as an attachment; None when nobody is to get it."""
    recipients = [r for r in payload.get("recipients") or [] if isinstance(r, str)]
    report = payload.get("report") or {}
    if not recipients or not isinstance(report, dict):
        return None
    who = payload.get("customer") or "all customers"
    lines = [f"The monthly standard report for {who}, {payload.get('month')}.", ""]
    for row in report.get("availability") or []:
        lines.append(f"- {row.get('name') or row.get('system')}: "
                     f"{row.get('availability_percent')} % available")
    incidents = report.get("incidents") or {}
    if isinstance(incidents, dict) and "total" in incidents:
        lines += ["", f"Incidents: {incidents['total']}."]
    lines += ["", "The figures are attached as CSV; the report with its charts is on "
              f"/reports/monthly?month={payload.get('month')} in itilflow."]
    name = f"itilflow-report-{payload.get('month')}-{_file_part(who)}.csv"
    return recipients, str(payload.get("subject") or f"Monthly report {payload.get('month')}"), \
        "\n".join(lines) + "\n", (name, "text/csv", str(payload.get("csv") or ""))


def _file_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower() or "report"


def _emails(session: Session, *, role: Role, organisation_id: int | None = None) -> list[str]:
    query = select(User.email).where(User.role == role.value, User.active.is_(True))
    if organisation_id is not None:
        query = query.where(User.organisation_id == organisation_id)
    return list(session.scalars(query.order_by(User.email)))
