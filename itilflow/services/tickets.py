"""Ticket use cases: submit, fire a transition (hand-over included), comment, read, list."""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from itilflow.domain import access
from itilflow.domain.access import Actor, TicketFacts
from itilflow.domain.errors import (
    Conflict,
    DomainError,
    InvalidTransition,
    NotFound,
    NotPermitted,
    StaleTicket,
    ValidationError,
)
from itilflow.domain.parties import WORKER_ROLES, Layer, Party, Role, party_of_role
from itilflow.domain.priority import PRIORITIES, priority_of
from itilflow.domain.workflow import FieldSpec, TransitionSpec, Workflow
from itilflow.models import Consultation, System, Ticket, TicketEvent, User
from itilflow.services import directory, known, locks, ticket_pages
from itilflow.services.fields import MAX_ID, clean_text, parse_instant
from itilflow.services.history import append_event
from itilflow.services.outbox import enqueue
from itilflow.services.rules import Rules
from itilflow.services.sla import refresh_due

NUMBER_RE = re.compile(r"^([A-Z]{2,5})-(\d{1,12})$")
TITLE_MAX = 200
#: the ticket fields a trigger may set, beyond the core columns; kept in ``details``
DETAIL_FIELDS = frozenset({"risk", "impact_assessment", "outcome", "root_cause", "workaround"})
#: why a hand-over clears the acknowledgement (the history's ``acknowledgement_cleared``)
ACK_CLEARED = ("An acknowledgement belongs to the party whose on-call gave it: the party that "
               "now has the ticket has not acknowledged it.")
RESPONSE_TRIGGERS = frozenset({"assign", "start_work", "acknowledge", "resolve", "investigate",
                               "assess", "pre_approve"})


# --- small helpers ------------------------------------------------------------------------

def number_of(rules: Rules, ticket: Ticket) -> str:
    return f"{rules.workflow(ticket.kind).prefix}-{ticket.id:06d}"


def _level(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3:
        raise ValidationError(f"{name} must be 1, 2 or 3.", {name: ["Must be 1 (high), 2 or 3 (low)."]})
    return value


def _layer(value: Any, *, required: bool) -> Layer | None:
    if value is None and not required:
        return None
    try:
        return Layer(value)
    except ValueError:
        raise ValidationError("Unknown layer.", {"layer": [
            "Must be one of: " + ", ".join(layer.value for layer in Layer) + "."]}) from None


def facts(ticket: Ticket, consulted: frozenset[tuple[str, Party]] = frozenset(),
          asked: frozenset[tuple[str, Party]] = frozenset()) -> TicketFacts:
    """What the rules need of a ticket; ``consulted``/``asked``: its (stage, party)
    consultations answered / still open (``consultation_pairs``)."""
    details = ticket.details or {}
    approved = frozenset(Party(a["party"]) for a in details.get("approvals", ()))
    # `approval: last` when at most one accountable party has still to approve (changes)
    pending = set(details.get("approvers", ())) - {p.value for p in approved}
    return TicketFacts(
        kind=ticket.kind, state=ticket.state, activity=ticket.activity,
        layer=Layer(ticket.layer) if ticket.layer else None, customer_id=ticket.customer_id,
        system_id=ticket.system_id, reporter_id=ticket.reporter_id, on_request=ticket.on_request,
        fields={"change_type": details.get("change_type"),
                "approval": "last" if len(pending) <= 1 else "more"},
        consulted=consulted,
        affected_layers=tuple(Layer(v) for v in details.get("affected_layers", ())),
        approved_by=approved, open_consultations=asked,
        acknowledged=ticket.acknowledged_at is not None,
    )


#: the kinds whose workflows consult (the others spare the query)
CONSULTING_KINDS = ("change", "request")


def consultation_pairs(session: Session, ticket: Ticket
                       ) -> tuple[frozenset[tuple[str, Party]], frozenset[tuple[str, Party]]]:
    """The ticket's (stage, party) consultations: (answered, still open), in one query."""
    if ticket.kind not in CONSULTING_KINDS:
        return frozenset(), frozenset()
    answered: set[tuple[str, Party]] = set()
    asked: set[tuple[str, Party]] = set()
    for activity, party, done in session.execute(
        select(Consultation.activity, Consultation.party, Consultation.answered_at.is_not(None))
        .where(Consultation.ticket_id == ticket.id)
    ):
        (answered if done else asked).add((activity, Party(party)))
    return frozenset(answered), frozenset(asked)


def ticket_facts(session: Session, ticket: Ticket) -> TicketFacts:
    return facts(ticket, *consultation_pairs(session, ticket))


def _route(rules: Rules, ticket: Ticket) -> None:
    """Set the responsible and accountable party from the matrix cell of activity and layer."""
    cell = rules.matrix.cell(ticket.activity, ticket.layer)
    ticket.responsible_party = cell.responsible(on_request=ticket.on_request).value
    ticket.accountable_party = cell.accountable.value


def _reporter_party(ticket: Ticket) -> Party:
    """The side the reporter is on (the customer, or SIT for its own staff's tickets)."""
    reporter = ticket.reporter
    return (party_of_role(Role(reporter.role)) if reporter is not None else None) \
        or Party.CUSTOMER


def clean_title(value: Any) -> str:
    """A ticket's title: required, at most ``TITLE_MAX`` characters, and no invisible format
    characters (U+200B, a bidi override ...): a title of nothing but those cannot be seen or
    clicked in a queue, one with U+202E reads reversed. 422 on ``title``."""
    return directory.refuse_invisible(
        clean_text(value, "title", required=True, max_length=TITLE_MAX), "title")


def _notify_informed(session: Session, rules: Rules, ticket: Ticket, *, event: str, now: datetime,
                     deviation: bool, actor: User | None, data: dict[str, Any] | None = None,
                     targets: tuple[str, ...] | None = None, also: tuple[Party, ...] = ()) -> None:
    """Tell the parties a notify point names (``targets``, see ``workflow.NOTIFY_TARGETS``;
    None: what the workflow's notify point for ``event`` names, else the I parties): the I
    parties (only on deviations where footnote 5 says so), the R or A party, the reporter's
    side, a change's approvers (``approvers``: those whose approval is still awaited, while
    the change waits for approvals or as it leaves that wait; ``approved``: those that have
    approved); and ``also`` these (a hand-over: the party that now has the ticket, as its R).
    One row per party, however many reasons it has; the row says them (``as``: "I", "R", "A",
    "reporter", "approvers", "approved"), so the delivery knows whom of the party's side to
    tell (its suppliers are mailed what the customer is told as R, an approver's managers
    what only its approval needs: ``notifications.deliver_in_app``)."""
    if targets is None:
        named = [t for spec in rules.workflow(ticket.kind).transitions
                 if spec.trigger == event for t in spec.notify]
        targets = tuple(dict.fromkeys(named)) or ("I",)
    cell = rules.matrix.cell(ticket.activity, ticket.layer)
    reasons: dict[Party, list[str]] = {}
    for target in targets:
        if target == "I":
            parties = [p for p in cell.informed if deviation or not cell.role(p).only_on_deviations]
        elif target == "R":
            parties = [cell.responsible(on_request=ticket.on_request)]
        elif target == "A":
            parties = [cell.accountable]
        elif target == "reporter":
            parties = [_reporter_party(ticket)]
        elif target in ("approvers", "approved"):
            parties = _approval_parties(rules, ticket, target, (data or {}).get("from_state"))
        else:
            continue
        for party in parties:
            reasons.setdefault(party, []).append(target)
    for party in also:
        reasons.setdefault(party, []).append("R")
    for party, why in reasons.items():
        enqueue(session, "notify", {
            "ticket_id": ticket.id, "party": party.value, "event": event,
            "number": number_of(rules, ticket), "title": ticket.title, "state": ticket.state,
            "actor": actor.email if actor else None, "deviation": deviation,
            "as": sorted(set(why)), **(data or {}),
        }, now=now, ticket_id=ticket.id)


def _approval_parties(rules: Rules, ticket: Ticket, target: str, from_state: str | None
                      ) -> list[Party]:
    """A change's ``approved`` parties (``details["approvals"]``), or its ``approvers`` whose
    approval is still awaited (``details["approvers"]`` minus them): only while the ticket
    waits for approvals (a state a ``gate: approvals`` step leaves) or as it leaves that
    wait (rejected, cancelled), not before it was ever asked."""
    details = ticket.details or {}
    given = list(dict.fromkeys(Party(a["party"]) for a in details.get("approvals", ())))
    if target == "approved":
        return given
    waiting = rules.workflow(ticket.kind).approval_states
    if ticket.state not in waiting and from_state not in waiting:
        return []
    return [Party(p) for p in dict.fromkeys(details.get("approvers", ()))
            if Party(p) not in given]


# --- hooks for the timing layer (SLA, paging) -----------------------------------------------

#: Called after every change of a ticket, in the same transaction: (session, rules, ticket, now,
#: what_happened). The SLA and paging modules register themselves here.
after_change_hooks: list = []


def _after_change(session: Session, rules: Rules, ticket: Ticket, now: datetime, what: str
                  ) -> None:
    for hook in after_change_hooks:
        hook(session, rules, ticket, now, what)


# --- submit -------------------------------------------------------------------------------

def _system_and_env(session: Session, actor: Actor, system_key: Any, environment: Any
                    ) -> tuple[System, str]:
    try:
        system = directory.system_for(session, actor, system_key)
    except NotFound:
        raise ValidationError("Unknown system.", {"system": ["No such system."]}) from None
    if not isinstance(environment, str) or environment not in system.environments:
        raise ValidationError("Unknown environment for this system.", {"environment": [
            "Must be one of: " + ", ".join(system.environments) + "."]})
    return system, environment


def _new_ticket(session: Session, rules: Rules, *, kind: str, actor: User, actor_ctx: Actor,
                system: System, environment: str, layer: Layer | None, title: str,
                description: str, impact: int, urgency: int, now: datetime,
                activity: str | None = None, details: dict[str, Any] | None = None,
                outage: bool = False, on_request: bool = False,
                reporter: User | None = None) -> Ticket:
    """``reporter``: the person the ticket is for, when ``actor`` logs it for them (a caller)."""
    clean_title(title)  # every kind's title (changes, requests too) has no invisible characters
    workflow = rules.workflow(kind)
    reporter = reporter or actor
    ticket = Ticket(
        kind=kind, state=workflow.initial, title=title, description=description,
        system=system, customer_id=system.customer_id, environment=environment,
        layer=layer.value if layer else None, activity=activity or workflow.activity,
        impact=impact, urgency=urgency, priority=priority_of(impact, urgency),
        reporter_id=reporter.id, outage=outage, on_request=on_request,
        after_hours=not rules.calendar.is_working_time(now), details=details or {},
        sla_pauses=[], workflow_version=workflow.version, created_at=now, updated_at=now,
    )
    _route(rules, ticket)
    refresh_due(rules, ticket, now)
    session.add(ticket)
    session.flush()
    known.fresh(session, ticket.id)
    append_event(session, ticket, kind="created", actor=actor, now=now, to_state=ticket.state,
                 data={"layer": ticket.layer, "priority": ticket.priority,
                       "responsible_party": ticket.responsible_party,
                       "after_hours": ticket.after_hours,
                       **({"reporter": reporter.email} if reporter is not actor else {})})
    placed = _placed_for(actor_ctx, ticket)
    _notify_informed(session, rules, ticket, event="created", now=now, deviation=kind == "incident",
                     actor=actor, also=placed,
                     data={"to_party": placed[0].value} if placed else None)
    _after_change(session, rules, ticket, now, "created")
    return ticket


def _placed_for(actor_ctx: Actor, ticket: Ticket) -> tuple[Party, ...]:
    """SIT logging a ticket straight into another party's queue (a customer's application
    incident, for a caller or not) tells that party, as a hand-over does. Tickets raised into
    SIT's queue tell nobody extra: its service desk works from that queue and is paged."""
    responsible = Party(ticket.responsible_party)
    return (responsible,) if actor_ctx.party is Party.PROVIDER and \
        responsible is not Party.PROVIDER else ()


def submit_incident(session: Session, rules: Rules, actor: User, actor_ctx: Actor, data: dict,
                    *, now: datetime, idempotency_key: str | None = None) -> Ticket:
    """Log an incident; with no layer it goes to SIT's service desk for triage. An agent or
    manager may log it for a caller (``reporter``: the caller's email). The same
    ``idempotency_key`` from the same person gives back the ticket it made the first time."""
    if actor_ctx.role is Role.ADMIN:
        raise NotPermitted("Admins configure itilflow; they do not raise incidents.")
    key = _one_time_key(idempotency_key)
    if key:
        # keyed on the person the ticket is for (the caller, when an agent logs it for one)
        caller = data.get("reporter")
        who = actor if caller in (None, "") or actor_ctx.role not in WORKER_ROLES else \
            _user_or_none(session, caller)
        earlier = _submitted_before(session, actor_ctx, who, "incident", key)
        if earlier is not None:
            return earlier
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    checks = {
        "title": lambda: clean_title(data.get("title")),
        "description": lambda: clean_text(data.get("description"), "description", required=False)
        or "",
        "impact": lambda: _level(data.get("impact"), "impact"),
        "urgency": lambda: _level(data.get("urgency"), "urgency"),
        "layer": lambda: _layer(data.get("layer"), required=False),
        "system": lambda: _system_and_env(session, actor_ctx, data.get("system"),
                                          data.get("environment")),
    }
    for name, check in checks.items():
        try:
            values[name] = check()
        except ValidationError as exc:
            errors.update(exc.errors)
    outage = data.get("outage", False)
    if not isinstance(outage, bool):
        errors["outage"] = ["Not a boolean."]
    reporter = None
    if data.get("reporter") not in (None, "") and "system" in values:
        try:
            reporter = _caller(session, actor_ctx, data["reporter"], values["system"][0])
        except ValidationError as exc:
            errors.update(exc.errors)
    if errors:
        raise ValidationError("The incident has invalid fields.", errors)
    system, environment = values["system"]
    details = {"idempotency_key": key} if key else None
    return _new_ticket(session, rules, kind="incident", actor=actor, actor_ctx=actor_ctx,
                       system=system, environment=environment, layer=values["layer"],
                       title=values["title"], description=values["description"],
                       impact=values["impact"], urgency=values["urgency"], now=now, outage=outage,
                       details=details, reporter=reporter)


def _user_or_none(session: Session, email: Any) -> User | None:
    if not isinstance(email, str) or len(email) > 254:
        return None
    try:
        return directory.user_by_email(session, email)
    except NotFound:
        return None


def _caller(session: Session, actor_ctx: Actor, email: Any, system: System) -> User:
    """The person an agent logs an incident for: an active user of the system's customer (or of
    SIT). Only agents and managers log for someone else."""
    if actor_ctx.role not in WORKER_ROLES:
        raise NotPermitted("Only agents and managers log an incident for someone else.")
    user = _user_or_none(session, email)
    provider = user is not None and party_of_role(Role(user.role)) is Party.PROVIDER
    if user is None or not user.active or not (user.organisation_id == system.customer_id
                                               or provider):
        raise ValidationError("Unknown caller.", {"reporter": [
            "The email of an active user of the system's customer (or of SIT)."]})
    return user


def _one_time_key(value: Any) -> str | None:
    """A form's one-time key (``form_key``) as kept in the ticket's details."""
    return str(value)[:100] if value else None


def _submitted_before(session: Session, actor_ctx: Actor, reporter: User | None, kind: str,
                      key: str | None) -> Ticket | None:
    """The ticket of ``kind`` made for ``reporter`` with this one-time key, if the actor may
    see it. Concurrent twins wait here for each other until the first one commits
    (``locks.key_lock``: an advisory lock on PostgreSQL, the write lock on SQLite), so a double
    submit makes one ticket and the second answer is that ticket."""
    if not key or reporter is None:
        return None
    locks.key_lock(session, f"{reporter.id}:{key}")
    earlier = session.scalar(
        select(Ticket).where(Ticket.reporter_id == reporter.id, Ticket.kind == kind,
                             Ticket.details["idempotency_key"].as_string() == key)
        .order_by(Ticket.id.desc()).limit(1))
    return earlier if earlier is not None and access.can_see(actor_ctx, facts(earlier)) else None


def _require_staff(actor_ctx: Actor) -> None:
    if actor_ctx.role not in WORKER_ROLES:
        raise NotPermitted("Only agents and managers open problems and changes.")


def submit_problem(session: Session, rules: Rules, actor: User, actor_ctx: Actor, data: dict,
                   *, now: datetime, idempotency_key: str | None = None) -> Ticket:
    """Open a problem linking incidents; the same ``idempotency_key`` gives back the problem it
    opened the first time."""
    _require_staff(actor_ctx)
    key = _one_time_key(idempotency_key)
    earlier = _submitted_before(session, actor_ctx, actor, "problem", key)
    if earlier is not None:
        return earlier
    errors: dict[str, list[str]] = {}
    try:
        system = directory.system_for(session, actor_ctx, data.get("system"))
    except NotFound:
        system = None
        errors["system"] = ["No such system."]
    title = description = layer = None
    try:
        title = clean_title(data.get("title"))
    except ValidationError as exc:
        errors.update(exc.errors)
    try:
        description = clean_text(data.get("description"), "description", required=False) or ""
    except ValidationError as exc:
        errors.update(exc.errors)
    try:
        layer = _layer(data.get("layer"), required=True)
    except ValidationError as exc:
        errors.update(exc.errors)
    incident_ids = data.get("incidents") or []
    if not isinstance(incident_ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in incident_ids
    ):
        errors["incidents"] = ["A list of incident ids."]
        incident_ids = []
    incidents = []
    for incident_id in dict.fromkeys(incident_ids):
        incident = session.get(Ticket, incident_id) if 0 < incident_id <= MAX_ID else None
        if incident is None or incident.kind != "incident" or not access.can_see(
            actor_ctx, facts(incident)
        ) or (system is not None and incident.customer_id != system.customer_id):
            number = f"{rules.workflow('incident').prefix}-{incident_id:06d}" \
                if incident_id > 0 else str(incident_id)
            errors.setdefault("incidents", []).append(
                f"{number} is not an incident of this system's customer.")
        else:
            incidents.append(incident)
    if errors:
        raise ValidationError("The problem has invalid fields.", errors)
    environment = "production" if "production" in system.environments else system.environments[0]
    ticket = _new_ticket(session, rules, kind="problem", actor=actor, actor_ctx=actor_ctx,
                         system=system, environment=environment, layer=layer, title=title,
                         description=description, impact=2, urgency=3, now=now,
                         details={"idempotency_key": key} if key else None)
    ticket.incidents = incidents
    known.forget(session, ticket.id, *(i.id for i in incidents))
    for incident in incidents:
        append_event(session, incident, kind="linked", actor=actor, now=now,
                     data={"problem": number_of(rules, ticket)})
        append_event(session, ticket, kind="linked", actor=actor, now=now,
                     data={"incident": number_of(rules, incident)})
    session.flush()
    return ticket


def _when(value: Any, name: str) -> datetime:
    """A workflow field of type datetime: an ISO 8601 date-time with offset, years 1970-2999."""
    return parse_instant(value, name)


def submit_change(session: Session, rules: Rules, actor: User, actor_ctx: Actor, data: dict,
                  *, now: datetime, idempotency_key: str | None = None) -> Ticket:
    # Templates, affected layers, planned windows and warnings live in services.changes.
    from itilflow.services import changes

    return changes.submit_change(session, rules, actor, actor_ctx, data, now=now,
                                 idempotency_key=idempotency_key)


# --- read ---------------------------------------------------------------------------------

def ticket_id_of(rules: Rules, ref: Any) -> int | None:
    """The id a ticket reference names: an int, ASCII digits (``42``; not "²", which int()
    refuses) or an ASCII number of a known kind (``INC-000042``); None for anything else. Whether
    the number's kind is the ticket's is ``get_ticket``'s check."""
    if isinstance(ref, int) and not isinstance(ref, bool):
        return ref
    if not isinstance(ref, str) or not ref.isascii():
        return None
    if ref.isdigit() and len(ref) < 13:
        return int(ref)
    match = NUMBER_RE.match(ref.upper())
    return int(match.group(2)) if match and rules.kind_of_prefix(match.group(1)) else None


def ticket_row(session: Session, ticket_id: Any, *, for_update: bool = False) -> Ticket | None:
    """The ticket by id (None: no such row, or not an id); ``for_update``: with its row lock
    held until the transaction ends (``FOR UPDATE`` on PostgreSQL, the write lock on SQLite),
    read as it is once locked, not as an earlier read of this transaction left it."""
    if isinstance(ticket_id, bool) or not isinstance(ticket_id, int) or \
            not 0 < ticket_id <= MAX_ID:
        return None
    query = select(Ticket).where(Ticket.id == ticket_id)
    if for_update:
        query = query.execution_options(populate_existing=True)
        if session.bind.dialect.name == "postgresql":
            query = query.with_for_update(of=Ticket)
        else:
            locks.sqlite_write_lock(session)
    return session.scalar(query)


def locked_ticket(session: Session, ticket_id: Any) -> Ticket | None:
    """The ticket under its row lock, with what ``known`` caches of it read once the lock is
    held: ``get_ticket(for_update=True)`` for the worker's writers, which have no actor."""
    ticket = ticket_row(session, ticket_id, for_update=True)
    if ticket is not None:
        known.load(session, ticket.id)  # a statement of its own, now that the lock is held
    return ticket


def get_ticket(session: Session, rules: Rules, actor_ctx: Actor, ref: Any, *,
               for_update: bool = False) -> Ticket:
    """A ticket by id or number, if the actor may see it; otherwise NotFound (never 403)."""
    ticket = ticket_row(session, ticket_id_of(rules, ref), for_update=for_update)
    if ticket is None or not access.can_see(actor_ctx, facts(ticket)):
        raise NotFound("No such ticket.")
    if isinstance(ref, str) and NUMBER_RE.match(ref.upper()) and \
            number_of(rules, ticket) != ref.upper():
        raise NotFound("No such ticket.")
    if for_update:
        known.load(session, ticket.id)  # a statement of its own, now that the lock is held
    return ticket


def available_transitions(session: Session, rules: Rules, actor_ctx: Actor, ticket: Ticket
                          ) -> list[str]:
    return access.available_triggers(rules.matrix, rules.workflow(ticket.kind),
                                     ticket_facts(session, ticket), actor_ctx)


def available_specs(session: Session, rules: Rules, actor_ctx: Actor, ticket: Ticket
                    ) -> list[TransitionSpec]:
    """The transitions of ``available_transitions`` as the actor's forms offer them: a stage
    list holds only the stages that apply now (e.g. the consultations open to its answer)."""
    workflow = rules.workflow(ticket.kind)
    fx = ticket_facts(session, ticket)
    return [access.offered_spec(rules.matrix, fx, actor_ctx,
                                workflow.spec_for(ticket.state, trigger, fx.fields))
            for trigger in access.available_triggers(rules.matrix, workflow, fx, actor_ctx)]


def events_of(session: Session, ticket: Ticket) -> list[TicketEvent]:
    return list(session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.seq)
    ))


def events_page(session: Session, ticket: Ticket, *, cursor: str | None = None, limit: int = 50
                ) -> tuple[list[TicketEvent], str | None]:
    """A page of the history, oldest first, keyset-paginated on ``seq`` (the unique
    ``(ticket_id, seq)`` index): a long history is read a page at a time."""
    after = _cursor_decode(cursor)
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)
    if after is not None:
        query = query.where(TicketEvent.seq > after)
    rows = list(session.scalars(query.order_by(TicketEvent.seq).limit(limit + 1)))
    next_cursor = _cursor_encode(rows[limit - 1].seq) if len(rows) > limit else None
    return rows[:limit], next_cursor


#: a filter's value: one, or several (a ticket matches any of them)
FilterValues = str | tuple[str, ...] | None


@dataclass(frozen=True)
class TicketFilters:
    """Every filter but ``q`` and ``assignee_id`` takes one value or several (any matches)."""

    kind: FilterValues = None
    state: FilterValues = None
    party: FilterValues = None
    layer: FilterValues = None
    system: FilterValues = None
    priority: FilterValues = None
    q: str | None = None
    assignee_id: int | None = None


def _values(value: FilterValues) -> tuple[str, ...]:
    """A filter's values without blanks and repeats (one string is one value)."""
    return tuple(dict.fromkeys(v for v in ((value,) if isinstance(value, str) else value or ())
                               if v))


def _any_of(column, values: tuple[str, ...]):
    """``=`` for one value, so the common case keeps its index plan; ``IN`` for several."""
    return column == values[0] if len(values) == 1 else column.in_(values)


def _cursor_decode(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"==").decode())
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID:
            return value
    except (ValueError, binascii.Error, UnicodeDecodeError):
        pass
    raise ValidationError("Not a valid cursor.", {"cursor": ["Use next_cursor from a list."]})


def _cursor_encode(ticket_id: int) -> str:
    return base64.urlsafe_b64encode(json.dumps(ticket_id).encode()).decode().rstrip("=")


def visibility_clause(actor_ctx: Actor):
    if actor_ctx.role is Role.SUPPLIER_AGENT:
        return Ticket.system_id.in_(actor_ctx.system_ids or [-1])
    if actor_ctx.is_provider_staff or actor_ctx.role is Role.ADMIN:
        return None
    return Ticket.customer_id == actor_ctx.organisation_id


def visible_to(query, actor_ctx: Actor):
    """``query`` narrowed to the tickets the actor may see (every reader of ticket lists)."""
    clause = visibility_clause(actor_ctx)
    return query if clause is None else query.where(clause)


def _filter_clauses(session: Session, rules: Rules, actor_ctx: Actor, filters: TicketFilters,
                    errors: dict[str, list[str]]) -> list[Any]:
    """The WHERE clauses of the multi-valued filters. A value no ticket can have (a kind,
    state, layer, ... that does not exist, a system the actor cannot see) goes to ``errors``,
    named, as an unknown field does: never an empty page that looks like an answer."""
    clauses: list[Any] = []

    def one_of(name: str, column: Any, values: tuple[str, ...], known: Any, reason: str) -> None:
        if values:
            if any(v not in known for v in values):
                errors[name] = [reason]
            clauses.append(_any_of(column, values))

    kinds = _values(filters.kind)
    one_of("kind", Ticket.kind, kinds, rules.workflows,
           "Must be one of: " + ", ".join(rules.workflows) + ".")
    states = sorted({s for kind, workflow in rules.workflows.items()
                     if not kinds or kind in kinds for s in workflow.states})
    one_of("state", Ticket.state, _values(filters.state), states,
           f"Not a state of {' or '.join(kinds) if kinds else 'any kind'}; one of: "
           + ", ".join(states) + ".")
    one_of("party", Ticket.responsible_party, _values(filters.party), {p.value for p in Party},
           "Must be customer or provider.")
    one_of("priority", Ticket.priority, _values(filters.priority), PRIORITIES, "Must be P1 to P5.")
    layers = _values(filters.layer)
    if layers:
        clauses.append(_layer_clause(layers, errors))
    systems = _system_ids(session, actor_ctx, _values(filters.system), errors)
    if systems:
        clauses.append(_any_of(Ticket.system_id, systems))
    if filters.assignee_id is not None:
        clauses.append(Ticket.assignee_id == filters.assignee_id)
    return clauses


def _layer_clause(layers: tuple[str, ...], errors: dict[str, list[str]]) -> Any:
    """Tickets on any of ``layers``; ``unknown`` is a ticket whose layer is not known yet."""
    if any(v not in {*(layer.value for layer in Layer), "unknown"} for v in layers):
        errors["layer"] = ["Must be a layer or unknown."]
    named = tuple(v for v in layers if v != "unknown")
    either = ([Ticket.layer.is_(None)] if "unknown" in layers else []) + \
        ([_any_of(Ticket.layer, named)] if named else [])
    return or_(*either)


def _system_ids(session: Session, actor_ctx: Actor, keys: tuple[str, ...],
                errors: dict[str, list[str]]) -> tuple[int, ...]:
    """The ids of the systems ``keys`` names; one the actor may not see is as unknown to it as
    one that does not exist (the same 422: a key of another organisation is not revealed)."""
    ids: list[int] = []
    unknown: list[str] = []
    for key in keys:
        try:
            ids.append(directory.system_for(session, actor_ctx, key).id)
        except NotFound:
            unknown.append(key)
    if unknown:
        errors["system"] = [f"No such system: {', '.join(unknown)}."]
    return tuple(ids)


def list_tickets(session: Session, rules: Rules, actor_ctx: Actor, filters: TicketFilters, *,
                 cursor: str | None = None, limit: int = 50) -> tuple[list[Ticket], str | None]:
    """Newest first, keyset-paginated on id: the cost of a page does not grow with the table."""
    # the rows alone: joining each row's system and users is a join of eight tables that
    # PostgreSQL re-plans on every page; the caller attaches them per page (ticket_pages)
    query = visible_to(select(Ticket).options(*ticket_pages.PAGE_LOADING), actor_ctx)
    errors: dict[str, list[str]] = {}
    query = query.where(*_filter_clauses(session, rules, actor_ctx, filters, errors))
    if filters.q:
        query = query.where(search_clause(session, filters.q))
    after = _cursor_decode(cursor)
    if errors:
        raise ValidationError("Invalid filters.", errors)
    if after is not None:
        query = query.where(Ticket.id < after)
    rows = list(session.scalars(query.order_by(Ticket.id.desc()).limit(limit + 1)))
    next_cursor = _cursor_encode(rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_clause(session: Session, q: str) -> Any:
    """What a search for ``q`` finds (the API's list and the agent's queue): titles holding it,
    in any letter case, also beyond ASCII ("SØGNING" finds "Søgning"); and the ticket whose
    number it names, with its prefix or by its digits alone: ``CHG-10``, ``CHG-000010``,
    ``000010`` and ``10`` all find CHG-000010. One condition on the same rows: no statement
    more, and no slower than the title match itself."""
    q = q.strip()[:200]
    match = NUMBER_RE.match(q.upper())
    digits = match.group(2) if match else q if q.isascii() and q.isdigit() and len(q) <= 12 \
        else None
    conditions = [_title_contains(session, q)]
    if digits and 0 < int(digits) <= MAX_ID:
        conditions.append(Ticket.id == int(digits))
    return or_(*conditions)


def _title_contains(session: Session, q: str) -> Any:
    """SQLite's LIKE folds the case of ASCII letters only: a search with other letters is a GLOB
    that names both cases of each letter (``*[Ss][Øø]*``). PostgreSQL's ILIKE folds them all
    (in a UTF-8 locale)."""
    if q.isascii() or session.get_bind().dialect.name != "sqlite":
        return Ticket.title.ilike(f"%{_escape_like(q)}%", escape="\\")
    return Ticket.title.op("GLOB")("*" + "".join(_glob_char(c) for c in q) + "*")


def _glob_char(char: str) -> str:
    lower, upper = char.lower(), char.upper()
    if lower != upper and len(lower) == len(upper) == 1:
        return f"[{lower}{upper}]"
    return f"[{char}]" if char in "*?[" else char


# --- transitions --------------------------------------------------------------------------

def _field_value(session: Session, rules: Rules, ticket: Ticket, spec: FieldSpec, raw: Any
                 ) -> Any:
    if spec.type == "text":
        return clean_text(raw, spec.name, required=spec.required, max_length=spec.max_length)
    if raw is None:
        if spec.required:
            raise ValidationError(f"{spec.name} is required.",
                                  {spec.name: ["Missing data for required field."]})
        return None
    if spec.type in ("choice", "layer"):
        if raw not in spec.choices:
            raise ValidationError(f"{spec.name} is not one of the choices.",
                                  {spec.name: ["Must be one of: " + ", ".join(spec.choices) + "."]})
        return raw
    if spec.type == "user":
        user = None
        if isinstance(raw, int) and not isinstance(raw, bool):
            user = session.get(User, raw) if 0 < raw <= MAX_ID else None
        elif isinstance(raw, str) and len(raw) <= 254:
            user = session.scalar(select(User).where(User.email == raw.strip().lower()))
        if user is None or not user.active:
            raise ValidationError("Unknown user.", {spec.name: ["No such user."]})
        if spec.name == "assignee":  # someone who may not take the work is "no such user" too
            _check_assignee(rules, ticket, user)
        return user
    if spec.type == "bool":
        if not isinstance(raw, bool):
            raise ValidationError(f"{spec.name} must be true or false.", {spec.name: ["Not a boolean."]})
        return raw
    if spec.type == "int":
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ValidationError(f"{spec.name} must be a whole number.",
                                  {spec.name: ["Not an integer."]})
        if (spec.minimum is not None and raw < spec.minimum) or \
                (spec.maximum is not None and raw > spec.maximum):
            raise ValidationError(f"{spec.name} is out of range.",
                                  {spec.name: [_range_words(spec)]})
        return raw
    if spec.type == "datetime":
        return _when(raw, spec.name)
    raise ValidationError(f"{spec.name}: unsupported field.")  # pragma: no cover


def _range_words(spec: FieldSpec) -> str:
    if spec.minimum is not None and spec.maximum is not None:
        return f"A whole number from {spec.minimum} to {spec.maximum}."
    if spec.minimum is not None:
        return f"A whole number of at least {spec.minimum}."
    return f"A whole number of at most {spec.maximum}."


def _parse_fields(session: Session, rules: Rules, ticket: Ticket, spec: TransitionSpec,
                  data: dict[str, Any]) -> dict[str, Any]:
    """The trigger's fields, validated; unknown fields are refused (422), consistently."""
    allowed = {f.name for f in spec.fields} | {"comment"}
    unknown = sorted(set(data) - allowed)
    errors: dict[str, list[str]] = {name: ["Unknown field for this trigger."] for name in unknown}
    values: dict[str, Any] = {}
    specs = list(spec.fields)
    if spec.field("comment") is None:
        specs.append(FieldSpec(name="comment", type="text"))
    for field_spec in specs:
        try:
            values[field_spec.name] = _field_value(session, rules, ticket, field_spec,
                                                   data.get(field_spec.name))
        except ValidationError as exc:
            errors.update(exc.errors or {field_spec.name: [exc.message]})
    if errors:
        raise ValidationError(f"Invalid fields for {spec.trigger!r}.", errors)
    return values


def _check_assignee(rules: Rules, ticket: Ticket, user: User) -> None:
    """An assignee must be able to do the work: a worker of the responsible party."""
    candidate = Actor(user_id=user.id, role=Role(user.role),
                      organisation_id=user.organisation_id)
    if user.role == Role.SUPPLIER_AGENT.value:
        candidate = Actor(user_id=user.id, role=Role.SUPPLIER_AGENT,
                          organisation_id=user.organisation_id,
                          system_ids=frozenset(s.id for s in _supplier_systems(ticket, user)))
    cell = rules.matrix.cell(ticket.activity, ticket.layer)
    if not access.holds(candidate, facts(ticket), cell, "R"):
        # the same answer as for an unknown user, and no email: walking user ids through the
        # assign trigger must not list the accounts of other organisations
        raise ValidationError("Unknown user.", {"assignee": ["No such user."]})


def _supplier_systems(ticket: Ticket, user: User) -> list[System]:
    return [ticket.system] if any(o.id == user.organisation_id for o in ticket.system.suppliers) \
        else []


def fire_transition(session: Session, rules: Rules, actor: User, actor_ctx: Actor,
                    ticket_ref: Any, trigger: Any, data: dict[str, Any], *, now: datetime,
                    version: Any = None) -> Ticket:
    """Fire ``trigger`` on a ticket as ``actor``: permission from the matrix (deny by default),
    the machine decides the next state, a stale ``version`` is a conflict. One history event per
    step (plus a hand-over event when the responsible party changes)."""
    if not isinstance(trigger, str) or not trigger:
        raise ValidationError("trigger is required.", {"trigger": ["Missing data for required field."]})
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise ValidationError("version must be a whole number.", {"version": ["Not an integer."]})
    ticket = get_ticket(session, rules, actor_ctx, ticket_ref, for_update=True)
    if version is not None and version != ticket.version:
        raise StaleTicket(f"The ticket changed since version {version}; it is at "
                          f"version {ticket.version}. Reload and try again.")
    workflow: Workflow = rules.workflow(ticket.kind)
    ticket_fx = ticket_facts(session, ticket)
    spec = access.authorise_fire(rules.matrix, workflow, ticket_fx, actor_ctx, trigger)
    values = _parse_fields(session, rules, ticket, spec, data)
    return _fire(session, rules, actor, actor_ctx, ticket, ticket_fx, spec, values, now=now)


#: why the bulk action did not assign a ticket that changed after the queue was shown
CHANGED_SINCE_SHOWN = "Someone changed it after the queue was shown: open it and check"


def assign_many(session: Session, rules: Rules, actor: User, actor_ctx: Actor,
                numbers: list[str], assignee: Any, *, now: datetime,
                versions: dict[str, Any] | None = None
                ) -> tuple[list[str], list[tuple[str, DomainError]]]:
    """Assign each ticket of ``numbers`` (the queue's bulk action): one transaction, a savepoint
    per ticket, so one refused (not visible, not the actor's party's, closed) keeps the others.
    Returns the numbers assigned and each refused number with its error. ``versions``: each
    ticket's version as the queue showed it; a ticket changed since (a colleague assigned it
    meanwhile) is refused (``StaleTicket``, ``CHANGED_SINCE_SHOWN``), never overwritten.

    On SQLite the write lock is taken before the first SAVEPOINT: a SAVEPOINT opens a deferred
    transaction, whose later upgrade to writing fails at once ("database is locked") while
    another request writes, instead of waiting for it."""
    locks.sqlite_write_lock(session)
    assigned: list[str] = []
    refused: list[tuple[str, DomainError]] = []
    for number in numbers:
        savepoint = session.begin_nested()
        try:
            fire_transition(session, rules, actor, actor_ctx, number, "assign",
                            {"assignee": assignee}, now=now,
                            version=(versions or {}).get(number))
        except StaleTicket:
            savepoint.rollback()
            refused.append((number, StaleTicket(CHANGED_SINCE_SHOWN)))
        except DomainError as exc:
            savepoint.rollback()
            refused.append((number, exc))
        else:
            savepoint.commit()
            assigned.append(number)
    return assigned, refused


def _fire(session: Session, rules: Rules, actor: User, actor_ctx: Actor, ticket: Ticket,
          ticket_fx: TicketFacts, spec: TransitionSpec, values: dict[str, Any], *,
          now: datetime, notice: dict[str, Any] | None = None) -> Ticket:
    """Take a step the actor may take (``access.authorise_fire``) with its validated fields on
    the locked ticket; ``notice``: what the notification carries beyond them (an answer given
    as a comment, which the history keeps as the comment)."""
    workflow: Workflow = rules.workflow(ticket.kind)
    trigger = spec.trigger
    from_state = ticket.state
    to_state = workflow.next_state(from_state, trigger, ticket_fx.fields)
    event_data: dict[str, Any] = {k: v for k, v in values.items()
                                  if v is not None and k not in ("assignee",)}
    handover: tuple[str, str] | None = None
    cleared_acknowledgement: datetime | None = None

    if "layer" in values and values["layer"] is not None:
        new_layer = values["layer"]
        if new_layer == ticket.layer:  # as reprioritise refuses the same impact and urgency
            unchanged = ["The layer is unchanged: choose another layer."]
            raise ValidationError(unchanged[0], {"layer": unchanged})
        event_data["from_layer"] = ticket.layer
        old_party = ticket.responsible_party
        ticket.layer = new_layer
        _route(rules, ticket)
        if ticket.responsible_party != old_party:
            handover = (old_party, ticket.responsible_party)
            ticket.assignee = None
            # an acknowledgement belongs to the party whose on-call gave it: the new party
            # has not acknowledged (its ``acknowledge`` is open again, and paging decides
            # for it as on creation: services.paging.on_ticket_change)
            cleared_acknowledgement, ticket.acknowledged_at = ticket.acknowledged_at, None
            ticket.acknowledged_by = None
    if values.get("impact") is not None or values.get("urgency") is not None:
        _reprioritise(ticket, values, event_data)
    if values.get("assignee") is not None:
        _check_assignee(rules, ticket, values["assignee"])
        ticket.assignee = values["assignee"]
        event_data["assignee"] = values["assignee"].email
    if values.get("resolution"):
        ticket.resolution = values["resolution"]
    details = dict(ticket.details or {})
    for name in DETAIL_FIELDS & set(values):
        if values[name] is not None:
            details[name] = values[name]
    if trigger == "consult":
        _open_consultations(session, rules, ticket, actor, values, now)
        event_data["stage"] = values["stage"]
    elif trigger == "answer_consultation":
        _answer_consultation(session, rules, ticket, actor, actor_ctx, values, now)
        event_data["stage"] = values["stage"]
    elif (spec.gate == "approvals" and trigger == "approve") or trigger == "authorise_emergency":
        # an emergency change's authorisation is its approval: the change shows who gave it
        details["approvals"] = [*details.get("approvals", ()), {
            "party": actor_ctx.party.value, "by": actor.email, "at": now.isoformat(),
            "comment": values.get("comment")}]
        event_data["approved_for"] = actor_ctx.party.value
    elif trigger == "reject" and actor_ctx.party is not None:
        event_data["rejected_for"] = actor_ctx.party.value  # whose refusal, as approved_for
    if trigger == "acknowledge":
        if ticket.acknowledged_at is None:
            ticket.acknowledged_at, ticket.acknowledged_by = now, actor.email
        ticket.escalation_token += 1
    ticket.details = details
    _apply_state(workflow, ticket, from_state, to_state, now)
    if trigger in RESPONSE_TRIGGERS and ticket.responded_at is None:
        ticket.responded_at = now
    ticket.updated_at = now
    refresh_due(rules, ticket, now)
    try:
        session.flush()
    except StaleDataError:
        raise StaleTicket("The ticket was changed by someone else meanwhile. Reload and try "
                          "again.") from None
    append_event(session, ticket, kind="transition", actor=actor, now=now, trigger=trigger,
                 from_state=from_state, to_state=to_state, data=event_data)
    if handover:
        append_event(session, ticket, kind="handover", actor=actor, now=now,
                     data={"from_party": handover[0], "to_party": handover[1],
                           "layer": ticket.layer})
    if cleared_acknowledgement is not None:
        append_event(session, ticket, kind="acknowledgement_cleared", actor=actor, now=now,
                     data={"acknowledged_at": cleared_acknowledgement.isoformat(),
                           "from_party": handover[0], "to_party": handover[1],
                           "reason": ACK_CLEARED})
    if spec.notify or handover:
        deviation = trigger in ("reject", "reopen", "cancel") or values.get("outcome") in (
            "failed", "backed_out")
        _notify_informed(session, rules, ticket, event=trigger, now=now, deviation=deviation,
                         actor=actor, data={**_notice_data(values, from_state, to_state,
                                                           handover), **(notice or {})},
                         targets=spec.notify or ("I",),
                         also=(Party(handover[1]),) if handover else ())
    _after_change(session, rules, ticket, now, trigger)
    session.flush()
    return ticket


def _reprioritise(ticket: Ticket, values: dict[str, Any], event_data: dict[str, Any]) -> None:
    """A new impact and/or urgency (``reprioritise``): the priority recomputed from them (the
    caller refreshes the SLA due times; paging decides again on the trigger); the history
    keeps the old and the new values, and the notice (``values``) the old and new priority.
    The same impact and urgency again is refused: it would change nothing but the history."""
    old = (ticket.impact, ticket.urgency, ticket.priority)
    impact = values.get("impact") if values.get("impact") is not None else ticket.impact
    urgency = values.get("urgency") if values.get("urgency") is not None else ticket.urgency
    if (impact, urgency) == old[:2]:
        unchanged = ["The priority is unchanged: give a new impact or urgency."]
        raise ValidationError(unchanged[0], {"impact": unchanged, "urgency": unchanged})
    ticket.priority = priority_of(impact, urgency)  # ValidationError for values out of range
    ticket.impact, ticket.urgency = impact, urgency
    event_data.update(from_impact=old[0], from_urgency=old[1], from_priority=old[2],
                      impact=impact, urgency=urgency, priority=ticket.priority)
    values.update(from_priority=old[2], priority=ticket.priority)


def _notice_data(values: dict[str, Any], from_state: str, to_state: str,
                 handover: tuple[str, str] | None) -> dict[str, Any]:
    """What a transition's notice carries beyond the ticket: the states, the hand-over (who
    had it, who has it now) and the comment (e.g. what the reporter is asked for)."""
    data: dict[str, Any] = {"from_state": from_state, "to_state": to_state}
    if handover:
        data.update(from_party=handover[0], to_party=handover[1])
    if values.get("comment"):
        data["comment"] = values["comment"]
    if values.get("answer"):  # a consultation answered: the stage and the answer
        data.update(stage=values.get("stage"), answer=values["answer"])
    if values.get("outcome"):  # a change's outcome: successful, failed, backed_out
        data["outcome"] = values["outcome"]
    if values.get("from_priority"):  # reprioritise: old and new priority (``_reprioritise``)
        data.update(from_priority=values["from_priority"], priority=values["priority"])
    return data


def _take_answer(session: Session, rules: Rules, ticket: Ticket, actor: User, actor_ctx: Actor,
                 body: str, *, now: datetime) -> None:
    """A comment from the side a waiting ticket waits for (``waits_for: reporter``) is the
    answer it waits for. Where the commenter may fire the state's ``answered_by`` trigger, the
    comment fires it: back to work, the SLA clock running again, the working party told with
    the answer. Otherwise (e.g. the customer's agent answering) the working party is only told
    (``reply``) and going back to work is its ``resume``."""
    workflow = rules.workflow(ticket.kind)
    state = workflow.states.get(ticket.state)
    if state is None or state.waits_for != "reporter" or \
            actor_ctx.party is not _reporter_party(ticket):
        return
    ticket_fx = ticket_facts(session, ticket)
    if access.holds(actor_ctx, ticket_fx, rules.matrix.cell(ticket.activity, ticket.layer), "R"):
        return  # the working party's own note
    try:
        spec = access.authorise_fire(rules.matrix, workflow, ticket_fx, actor_ctx,
                                     state.answered_by) if state.answered_by else None
    except (NotPermitted, InvalidTransition):
        spec = None
    if spec is not None:
        _fire(session, rules, actor, actor_ctx, ticket, ticket_fx, spec, {"comment": None},
              now=now, notice={"comment": body})
    else:
        _notify_informed(session, rules, ticket, event="reply", now=now, deviation=False,
                         actor=actor, data={"comment": body}, targets=("R",))


def _apply_state(workflow: Workflow, ticket: Ticket, from_state: str, to_state: str,
                 now: datetime) -> None:
    ticket.state = to_state
    was_paused, is_paused = workflow.sla_paused(from_state), workflow.sla_paused(to_state)
    pauses = [list(p) for p in (ticket.sla_pauses or [])]
    if is_paused and not was_paused:
        pauses.append([now.isoformat(), None])
    elif was_paused and not is_paused and pauses and pauses[-1][1] is None:
        pauses[-1][1] = now.isoformat()
    ticket.sla_pauses = pauses
    category = workflow.states[to_state].category
    if category == "resolved" and ticket.resolved_at is None:
        ticket.resolved_at = now
    elif category in ("open", "waiting"):
        ticket.resolved_at = None
    if workflow.is_final(to_state):
        ticket.closed_at = now


def _open_consultations(session: Session, rules: Rules, ticket: Ticket, actor: User,
                        values: dict[str, Any], now: datetime) -> None:
    stage = values.get("stage") or ticket.activity
    values["stage"] = stage
    cell = rules.matrix.cell(stage, ticket.layer)
    doer = cell.responsible(on_request=ticket.on_request)
    parties = [p for p in cell.consulted if p is not doer]
    if not parties:
        layer = Layer(ticket.layer) if ticket.layer else None
        raise InvalidTransition(access.NOBODY_TO_CONSULT % {
            "stage": access.activity_words(rules.matrix, stage),
            "layer": access.layer_words(layer)})
    asked = session.scalar(select(Consultation.party).where(
        Consultation.ticket_id == ticket.id, Consultation.activity == stage,
        Consultation.party.in_([p.value for p in parties]), Consultation.answered_at.is_(None))
        .limit(1))
    if asked is not None:
        # the party would be asked to answer twice (two notices, two open rows, one answer
        # closing only one): the open question stands
        raise Conflict(access.STILL_TO_ANSWER % {
            "party": access.PARTY_WORDS[Party(asked)],
            "stage": access.activity_words(rules.matrix, stage)},
            {"stage": ["A consultation on this stage is open already."]})
    for party in parties:
        session.add(Consultation(ticket_id=ticket.id, activity=stage, party=party.value,
                                 question=values["question"], asked_by_id=actor.id, asked_at=now))
        enqueue(session, "notify", {
            "ticket_id": ticket.id, "party": party.value, "event": "consultation",
            "number": number_of(rules, ticket), "title": ticket.title, "state": ticket.state,
            "stage": stage, "question": values["question"], "actor": actor.email,
            "deviation": False}, now=now, ticket_id=ticket.id)


def _answer_consultation(session: Session, rules: Rules, ticket: Ticket, actor: User,
                         actor_ctx: Actor, values: dict[str, Any], now: datetime) -> None:
    party = actor_ctx.party.value if actor_ctx.party else None
    values["stage"] = values.get("stage") or ticket.activity
    open_one = session.scalar(
        select(Consultation).where(
            Consultation.ticket_id == ticket.id, Consultation.activity == values["stage"],
            Consultation.party == party, Consultation.answered_at.is_(None))
        .order_by(Consultation.id).limit(1))
    if open_one is None:
        stage = access.activity_words(rules.matrix, values["stage"])  # its label, not its key
        raise InvalidTransition(f"No open consultation of the {party} on {stage}.")
    open_one.answer = values["answer"]
    open_one.answered_by_id = actor.id
    open_one.answered_at = now


def add_comment(session: Session, rules: Rules, actor: User, actor_ctx: Actor, ticket_ref: Any,
                body: Any, *, now: datetime) -> TicketEvent:
    # the row lock, as a transition takes it: the comment bumps the ticket's version, and
    # concurrent writers of the ticket (comments, transitions) then go one after the other
    ticket = get_ticket(session, rules, actor_ctx, ticket_ref, for_update=True)
    text = clean_text(body, "body", required=True)
    if actor_ctx.role is Role.ADMIN:
        raise NotPermitted("Admins do not comment on tickets.")
    _take_answer(session, rules, ticket, actor, actor_ctx, text, now=now)  # first: the step
    ticket.updated_at = now
    session.flush()
    return append_event(session, ticket, kind="comment", actor=actor, now=now,
                        data={"body": text})
