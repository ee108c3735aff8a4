"""The agent workspace's queues: which tickets each queue holds, sorted by SLA due time and
keyset-paginated on (sla_due_at, id), so a page costs the same however many tickets there are."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, false, func, literal, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from itilflow.domain import access
from itilflow.domain.access import Actor
from itilflow.domain.errors import ValidationError
from itilflow.domain.parties import WORKER_ROLES, Layer, Role
from itilflow.domain.priority import PRIORITIES
from itilflow.models import Consultation, Organisation, System, Ticket, User
from itilflow.services import ticket_pages, tickets
from itilflow.services.fields import parse_id, parse_instant
from itilflow.services.rules import Rules

QUEUES = ("triage", "mine", "assigned", "waiting", "waiting_for_us", "after_hours", "sla", "open")
#: a ticket whose next SLA deadline is this close counts as at risk
AT_RISK = timedelta(hours=2)


@dataclass(frozen=True)
class QueueFilters:
    system: str | None = None
    environment: str | None = None
    layer: str | None = None
    priority: str | None = None
    state: str | None = None
    assignee: str | None = None  # "me", "none" or a user id
    q: str | None = None


def _states(rules: Rules, *categories: str) -> list[str]:
    return sorted({name for wf in rules.workflows.values() for name, spec in wf.states.items()
                   if spec.category in categories and not spec.final})


def _party_clause(actor_ctx: Actor):
    party = actor_ctx.party
    if party is None:
        return Ticket.id.is_(None)
    return Ticket.responsible_party == party.value


def _json_has(session: Session, key: str, party: str, *, field: str | None = None):
    """``details[key]`` (a JSON array) holds ``party``: as an element, or (``field``) as that
    field of an element. SQLite reads the array with ``json_each``, PostgreSQL with ``@>``."""
    if session.bind.dialect.name == "postgresql":
        element = {field: party} if field else party
        return type_coerce(Ticket.details, JSONB)[key].contains([element]).is_(True)
    items = func.json_each(Ticket.details, f"$.{key}").table_valued("value")
    value = func.json_extract(items.c.value, f"$.{field}") if field else items.c.value
    return exists(select(literal(1)).select_from(items).where(value == party))


def _waiting_for_us_clause(session: Session, rules: Rules, actor_ctx: Actor):
    """Tickets where the viewer's party must act: a consultation of its party still open, or
    (a change awaiting approvals) its approval among the approvers' still missing."""
    party = actor_ctx.party
    if party is None:
        return false()
    asked = exists(select(literal(1)).where(
        Consultation.ticket_id == Ticket.id, Consultation.party == party.value,
        Consultation.answered_at.is_(None)))
    approvals = [and_(Ticket.kind == kind, Ticket.state.in_(states),
                      _json_has(session, "approvers", party.value),
                      ~_json_has(session, "approvals", party.value, field="party"))
                 for kind, wf in sorted(rules.workflows.items())
                 if (states := sorted(wf.approval_states))]
    return or_(asked, *approvals)


def _cursor_decode(cursor: str | None) -> tuple[datetime | None, int] | None:
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode() + b"==").decode())
        due, ticket_id = value
        id_ok = isinstance(ticket_id, int) and not isinstance(ticket_id, bool) \
            and 0 <= ticket_id <= tickets.MAX_ID
        if id_ok and (due is None or isinstance(due, str)):
            # an offset at the calendar's edge would overflow binding it as UTC: the shared rule
            return (None if due is None else parse_instant(due, "cursor")), ticket_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError, ValidationError):
        pass
    raise ValidationError("Not a valid cursor.", {"cursor": ["Use the next page link."]})


def _cursor_encode(ticket: Ticket) -> str:
    due = ticket.sla_due_at.isoformat() if ticket.sla_due_at else None
    return base64.urlsafe_b64encode(json.dumps([due, ticket.id]).encode()).decode().rstrip("=")


def queue_tickets(session: Session, rules: Rules, actor_ctx: Actor, queue: str,
                  filters: QueueFilters, *, now: datetime, cursor: str | None = None,
                  limit: int = 50) -> tuple[list[Ticket], str | None]:
    """One page of a queue, soonest SLA deadline first (tickets without one last)."""
    if queue not in QUEUES:
        raise ValidationError("Unknown queue.", {"queue": ["Must be one of: " + ", ".join(QUEUES)]})
    query = select(Ticket).options(*ticket_pages.PAGE_LOADING)
    query = tickets.visible_to(query, actor_ctx)
    open_states = _states(rules, "open")
    active_states = _states(rules, "open", "waiting")
    if queue == "triage":
        query = query.where(Ticket.layer.is_(None), Ticket.state.in_(active_states))
    elif queue == "mine":
        query = query.where(_party_clause(actor_ctx), Ticket.state.in_(open_states))
    elif queue == "assigned":
        query = query.where(Ticket.assignee_id == actor_ctx.user_id,
                            Ticket.state.in_(active_states))
    elif queue == "waiting":
        query = query.where(_party_clause(actor_ctx), Ticket.state.in_(_states(rules, "waiting")))
    elif queue == "waiting_for_us":
        query = query.where(Ticket.state.in_(active_states),
                            _waiting_for_us_clause(session, rules, actor_ctx))
    elif queue == "after_hours":
        query = query.where(Ticket.state.in_(active_states),
                            or_(Ticket.after_hours.is_(True), Ticket.acknowledged_at.is_not(None)))
    elif queue == "sla":
        query = query.where(Ticket.state.in_(open_states), Ticket.sla_due_at.is_not(None),
                            Ticket.sla_due_at <= now + AT_RISK)
    else:
        query = query.where(Ticket.state.in_(active_states))
    query = _filtered(session, query, filters, actor_ctx)
    after = _cursor_decode(cursor)
    if after is not None:
        due_at, after_id = after
        if due_at is None:
            query = query.where(Ticket.sla_due_at.is_(None), Ticket.id > after_id)
        else:
            query = query.where(or_(
                Ticket.sla_due_at > due_at,
                and_(Ticket.sla_due_at == due_at, Ticket.id > after_id),
                Ticket.sla_due_at.is_(None)))
    # NULLS LAST matches the (sla_due_at, id) index's own order, so the first page is read off
    # the index instead of sorting every open ticket (flat as the table grows)
    query = query.order_by(Ticket.sla_due_at.asc().nulls_last(), Ticket.id)
    rows = list(session.scalars(query.limit(limit + 1)))
    next_cursor = _cursor_encode(rows[limit - 1]) if len(rows) > limit else None
    rows = rows[:limit]
    ticket_pages.attach_related(session, rows, reporter=False)
    return rows, next_cursor


def _filtered(session: Session, query, filters: QueueFilters, actor_ctx: Actor):
    errors: dict[str, list[str]] = {}
    if filters.system:
        query = query.join(System, Ticket.system_id == System.id).where(System.key == filters.system)
    if filters.environment:
        query = query.where(Ticket.environment == filters.environment)
    if filters.layer:
        if filters.layer == "unknown":
            query = query.where(Ticket.layer.is_(None))
        elif filters.layer in {layer.value for layer in Layer}:
            query = query.where(Ticket.layer == filters.layer)
        else:
            errors["layer"] = ["Must be a layer or unknown."]
    if filters.priority:
        if filters.priority not in PRIORITIES:
            errors["priority"] = ["Must be P1 to P5."]
        query = query.where(Ticket.priority == filters.priority)
    if filters.state:
        query = query.where(Ticket.state == filters.state)
    if filters.assignee:
        if filters.assignee == "me":
            query = query.where(Ticket.assignee_id == actor_ctx.user_id)
        elif filters.assignee == "none":
            query = query.where(Ticket.assignee_id.is_(None))
        elif parse_id(filters.assignee) is not None:
            query = query.where(Ticket.assignee_id == parse_id(filters.assignee))
        else:
            errors["assignee"] = ["me, none or a user id."]
    if filters.q:  # the title, or the number by its digits: the API list's own rule
        query = query.where(tickets.search_clause(session, filters.q))
    if errors:
        raise ValidationError("Invalid filters.", errors)
    return query


def assignable_users(session: Session, rules: Rules, ticket: Ticket) -> list[User]:
    """The people who may be assigned: the workers of the party responsible for the ticket."""
    cell = rules.matrix.cell(ticket.activity, ticket.layer)
    fx = tickets.facts(ticket)
    supplier_ids = {o.id for o in ticket.system.suppliers}
    candidates = session.scalars(
        select(User).join(Organisation, User.organisation_id == Organisation.id)
        .where(User.active.is_(True), User.role.in_([r.value for r in WORKER_ROLES]),
               or_(Organisation.kind == "provider", Organisation.id == ticket.customer_id,
                   Organisation.id.in_(supplier_ids or [-1])))
        .order_by(User.name))
    found = []
    for user in candidates:
        systems = frozenset({ticket.system_id}) if user.organisation_id in supplier_ids else frozenset()
        ctx = Actor(user_id=user.id, role=Role(user.role), organisation_id=user.organisation_id,
                    system_ids=systems)
        if access.holds(ctx, fx, cell, "R"):
            found.append(user)
    return found

