"""Incidents, problems, changes and tickets: submit, list, read, fire transitions, history,
comments. Thin: the services decide; these views only translate."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import marshmallow as ma
from flask import jsonify
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from itilflow.api import fast_dump
from itilflow.api import schemas as s
from itilflow.api.auth import authenticate_first, current_actor
from itilflow.api.errors import API_PREFIX, error_docs
from itilflow.domain.access import Actor
from itilflow.models import Ticket, TicketEvent, User, problem_incidents
from itilflow.runtime import db, runtime, utcnow
from itilflow.services import known, problems, ticket_pages, tickets
from itilflow.services.paging_view import paging_of, paging_of_many
from itilflow.services.rules import Rules
from itilflow.services.sla import sla_of
from itilflow.services.sql import id_in

blp = Blueprint("tickets", __name__, url_prefix=API_PREFIX,
                description="Incidents, problems and changes: submit, follow, work")
authenticate_first(blp)
errors = error_docs(blp)


Links = dict[int, dict[str, list[dict[str, Any]]]]


def links_of(session: Session, rules: Rules, ticket_ids: list[int],
             actor: Actor | None = None) -> Links:
    """Problem <-> incident links of several tickets in one query (a list page stays flat),
    each list in id order. With ``actor``, only the linked tickets it may see are named (a
    supplier is not told of an incident on a system it is not attached to): one more query,
    and only for callers who do not see every ticket."""
    links: Links = {i: {"incidents": [], "problems": []} for i in ticket_ids}
    if not ticket_ids:
        return links
    pi = problem_incidents
    rows = session.execute(
        select(pi.c.problem_id, pi.c.incident_id)
        .where(or_(id_in(session, pi.c.problem_id, ticket_ids),
                   id_in(session, pi.c.incident_id, ticket_ids)))
        .order_by(pi.c.problem_id, pi.c.incident_id)).all()
    if actor is not None and rows and tickets.visibility_clause(actor) is not None:
        named = sorted({i for row in rows for i in row})
        seen = set(session.scalars(tickets.visible_to(
            select(Ticket.id).where(id_in(session, Ticket.id, named)), actor)))
        rows = [(p, i) for p, i in rows if p in seen and i in seen]
    prefix = {kind: rules.workflow(kind).prefix for kind in ("incident", "problem")}
    for problem_id, incident_id in rows:
        if problem_id in links:
            links[problem_id]["incidents"].append(
                {"id": incident_id, "number": f"{prefix['incident']}-{incident_id:06d}"})
        if incident_id in links:
            links[incident_id]["problems"].append(
                {"id": problem_id, "number": f"{prefix['problem']}-{problem_id:06d}"})
    return links


def ticket_view(session: Session, rules: Rules, actor: Actor, ticket: Ticket, now: datetime,
                links: Links | None = None, paging: dict[str, Any] | None = None,
                transitions: list[str] | None = None) -> dict[str, Any]:
    """The ticket as CONTRACT.md shapes it, for this caller (``available_transitions``).
    A page passes what it read for all its rows at once (links, paging, transitions)."""
    sla = sla_of(rules, ticket, now)
    if links is None or paging is None:
        # one query tells whether there are links and paging to read (usually not)
        seen = known.get(session, ticket.id) or known.load(session, ticket.id)
        if links is None:
            links = links_of(session, rules, [ticket.id], actor) if seen.linked else \
                {ticket.id: {"incidents": [], "problems": []}}
    return {
        "id": ticket.id, "number": tickets.number_of(rules, ticket), "kind": ticket.kind,
        "state": ticket.state, "title": ticket.title, "description": ticket.description or "",
        "system": ticket.system.key, "environment": ticket.environment, "layer": ticket.layer,
        "activity": ticket.activity, "impact": ticket.impact, "urgency": ticket.urgency,
        "priority": ticket.priority,
        "raci": rules.matrix.cell(ticket.activity, ticket.layer).as_codes(),
        "responsible_party": ticket.responsible_party,
        "accountable_party": ticket.accountable_party,
        "assignee": ticket.assignee.email if ticket.assignee else None,
        "reporter": ticket.reporter.email if ticket.reporter else None,
        "available_transitions": transitions if transitions is not None
        else tickets.available_transitions(session, rules, actor, ticket),
        "after_hours": ticket.after_hours,
        "sla": sla.as_dict() if sla is not None else None,
        "paging": paging if paging is not None else paging_of(session, ticket),
        "outage": ticket.outage, "resolution": ticket.resolution,
        "details": dict(ticket.details or {}),
        "incidents": links[ticket.id]["incidents"],
        "problems": links[ticket.id]["problems"],
        "version": ticket.version, "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
    }


def event_view(session: Session, event: TicketEvent, hidden: set[int] | None = None
               ) -> dict[str, Any]:
    """One history event; ``hidden``: the seqs of link events naming a ticket the reader may
    not see (``problems.hidden_link_events``), whose number the reader is not told."""
    actor = session.get(User, event.actor_id) if event.actor_id else None
    data = dict(event.data or {})
    if hidden and event.seq in hidden:
        data = problems.redacted_link(data)
    return {"seq": event.seq, "kind": event.kind, "trigger": event.trigger,
            "from_state": event.from_state, "to_state": event.to_state,
            "actor": actor.email if actor else None, "actor_label": event.actor_label,
            "data": data, "created_at": event.created_at}


def _submitted(submit, data: dict[str, Any]) -> dict[str, Any]:
    user, actor = current_actor()
    session, rules, now = db(), runtime().rules, utcnow()
    ticket = submit(session, rules, user, actor, data, now=now)
    return ticket_view(session, rules, actor, ticket, now)


@blp.route("/incidents")
class Incidents(MethodView):
    @blp.arguments(s.IncidentIn)
    @blp.response(201, s.TicketOut)
    @errors(400, 401, 403, 413)
    def post(self, data):
        """Report an incident

        Without a layer it goes to SIT's service desk for triage; with one, to the queue of
        the party responsible for that layer."""
        return _submitted(tickets.submit_incident, data)


@blp.route("/problems")
class Problems(MethodView):
    @blp.arguments(s.ProblemIn)
    @blp.response(201, s.TicketOut)
    @errors(400, 401, 403, 413)
    def post(self, data):
        """Open a problem (agents and managers), linking the incidents it explains"""
        return _submitted(tickets.submit_problem, data)


@blp.route("/changes")
class Changes(MethodView):
    @blp.arguments(s.ChangeIn)
    @blp.response(201, s.TicketOut)
    @errors(400, 401, 403, 413)
    def post(self, data):
        """Raise a change (the party responsible for change management on its layer)"""
        data = {**data, "planned_start": data["planned_start"].isoformat(),
                "planned_end": data["planned_end"].isoformat()}
        return _submitted(tickets.submit_change, data)


@blp.route("/tickets")
class TicketList(MethodView):
    @blp.arguments(s.TicketQuery, location="query", as_kwargs=True, unknown=ma.RAISE)
    @blp.response(200, s.TicketPage)
    @errors(401)
    def get(self, cursor=None, limit=50, **filters):
        """List the tickets the caller may see

        Newest first, a page at a time: pass ``next_cursor`` as ``cursor`` for the next page
        (it is null on the last). A filter repeated matches any of its values
        (``state=new&state=assigned``); filters of different names must all match. Unknown query
        parameters, a single-valued one given twice, and a value no ticket can have (an
        unknown kind, state or system) are refused (422)."""
        _, actor = current_actor()
        session, rules, now = db(), runtime().rules, utcnow()
        several = {name: tuple(value) if isinstance(value, list) else value
                   for name, value in filters.items()}
        rows, next_cursor = tickets.list_tickets(
            session, rules, actor, tickets.TicketFilters(**several), cursor=cursor, limit=limit)
        ticket_pages.attach_related(session, rows)  # the page's systems and users, not per row
        links = links_of(session, rules, [t.id for t in rows], actor)
        paging = paging_of_many(session, rows)
        triggers = ticket_pages.available_transitions_many(session, rules, actor, rows)
        page = {"items": [ticket_view(session, rules, actor, t, now, links, paging[t.id],
                                      triggers[t.id]) for t in rows],
                "next_cursor": next_cursor}
        # exactly TicketPage's dump, without marshmallow's per-field machinery (fast_dump)
        return jsonify(fast_dump.dump(s.TicketPage, page))


@blp.route("/tickets/<ticket_id>")
class TicketOne(MethodView):
    @blp.arguments(s.NoQuery, location="query", as_kwargs=True, unknown=ma.RAISE)
    @blp.response(200, s.TicketOut)
    @errors(401, 404)
    def get(self, ticket_id):
        """One ticket, by id or number (``42`` or ``INC-000042``)"""
        _, actor = current_actor()
        session, rules = db(), runtime().rules
        ticket = tickets.get_ticket(session, rules, actor, ticket_id)
        return ticket_view(session, rules, actor, ticket, utcnow())


@blp.route("/tickets/<ticket_id>/transitions")
class Transitions(MethodView):
    @blp.arguments(s.TransitionIn)
    @blp.response(200, s.TicketOut)
    @errors(400, 401, 403, 404, 409, 413)
    def post(self, data, ticket_id):
        """Fire a trigger with its fields

        One of the ticket's ``available_transitions``, e.g.
        ``{"trigger": "reclassify", "layer": "application", "version": 3}``. Not permitted by
        the matrix: 403; not valid in the state, or a stale ``version``: 409; a trigger the
        ticket's workflow does not have, or a field the trigger does not take: 422."""
        user, actor = current_actor()
        session, rules, now = db(), runtime().rules, utcnow()
        fields = dict(data)
        trigger = fields.pop("trigger")
        version = fields.pop("version", None)
        ticket = tickets.fire_transition(session, rules, user, actor, ticket_id, trigger, fields,
                                         now=now, version=version)
        return ticket_view(session, rules, actor, ticket, now)


#: the history's two shapes: the whole list (the contract's), or a page when asked for one
EVENTS_ANSWER = {"description": "The history: a list, or with `limit`/`cursor` a page",
                 "content": {"application/json": {"schema": {"oneOf": [
                     {"type": "array", "items": s.EventOut}, s.EventPage]}}}}


@blp.route("/tickets/<ticket_id>/events")
class Events(MethodView):
    @blp.arguments(s.EventQuery, location="query", as_kwargs=True, unknown=ma.RAISE)
    @blp.response(200, s.EventOut(many=True))
    @blp.doc(responses={"200": EVENTS_ANSWER})
    @errors(401, 404)
    def get(self, ticket_id, cursor=None, limit=None):
        """The ticket's history

        Oldest first: every transition, hand-over, assignment, comment, consultation and
        page. Without ``limit`` and ``cursor``: all of it, as a list. With ``limit`` (1-200)
        or ``cursor``: a page ``{items, next_cursor}`` (50 by default); pass ``next_cursor``
        as ``cursor`` for the next one (null on the last)."""
        _, actor = current_actor()
        session, rules = db(), runtime().rules
        ticket = tickets.get_ticket(session, rules, actor, ticket_id)
        if cursor is None and limit is None:
            # the shape clients of the contract read: the whole history
            rows = tickets.events_of(session, ticket)
            hidden = problems.hidden_link_events(session, rules, actor, rows)
            return [event_view(session, e, hidden) for e in rows]
        rows, next_cursor = tickets.events_page(session, ticket, cursor=cursor, limit=limit or 50)
        hidden = problems.hidden_link_events(session, rules, actor, rows)
        return jsonify(s.EventPage().dump({"items": [event_view(session, e, hidden) for e in rows],
                                           "next_cursor": next_cursor}))


@blp.route("/tickets/<ticket_id>/comments")
class Comments(MethodView):
    @blp.arguments(s.NoQuery, location="query", as_kwargs=True, unknown=ma.RAISE)
    @blp.response(200, s.EventOut(many=True))
    @errors(401, 404)
    def get(self, ticket_id):
        """The ticket's comments, oldest first"""
        _, actor = current_actor()
        session, rules = db(), runtime().rules
        ticket = tickets.get_ticket(session, rules, actor, ticket_id)
        return [event_view(session, e) for e in tickets.events_of(session, ticket)
                if e.kind == "comment"]

    @blp.arguments(s.CommentIn)
    @blp.response(201, s.EventOut)
    @errors(400, 401, 403, 404, 413)
    def post(self, data, ticket_id):
        """Comment on a ticket (anyone who may see it, but admins)"""
        user, actor = current_actor()
        session, rules = db(), runtime().rules
        event = tickets.add_comment(session, rules, user, actor, ticket_id, data["body"], now=utcnow())
        session.flush()
        return event_view(session, event)
