"""Problem management use cases beyond submit: links between problems and incidents (both ways,
with history on both tickets), known errors searchable from an incident, and resolving the
linked incidents once the problem is resolved.

Services flush and never commit; the caller commits once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from itilflow.domain import access
from itilflow.domain.access import Actor
from itilflow.domain.errors import (
    Conflict,
    DomainError,
    InvalidTransition,
    NotPermitted,
    ValidationError,
)
from itilflow.models import Ticket, TicketEvent, User
from itilflow.services import directory, known, tickets
from itilflow.services.fields import clean_text
from itilflow.services.history import append_event
from itilflow.services.rules import Rules

#: problem states whose workaround is offered to new incidents
KNOWN_ERROR_STATES = ("known_error", "investigating", "resolved")
WORD_RE = re.compile(r"\w{3,}", re.UNICODE)
#: words too common in titles to say two tickets are about the same thing
_STOPWORD_TEXT = """
the and for with from not are was were has have had but you all can our its into than then
when this that there their they them will would should could after before under over about
error errors fails failing failed problem issue down slow does doesn cannot
og med for til fra ikke der det den som har kan på ved efter fejl virker
"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())


def _words(*texts: str | None) -> set[str]:
    found: set[str] = set()
    for text in texts:
        found |= {w.lower() for w in WORD_RE.findall(text or "")}
    return {w for w in found if w not in STOPWORDS and not w.isdecimal()}


#: a ticket of another kind where a problem or an incident is wanted: (message, field error)
WRONG_KIND = {"incident": ("The ticket given is not an incident.", "Not an incident."),
              "problem": ("The ticket is not a problem.", "Not a problem.")}


def _kind(ticket: Ticket, kind: str, name: str) -> None:
    if ticket.kind != kind:
        message, error = WRONG_KIND[kind]
        raise ValidationError(message, {name: [error]})


def _may_link(rules: Rules, actor_ctx: Actor, problem: Ticket, incident: Ticket) -> bool:
    """The R of the problem or of the incident may link them (an agent triaging the incident
    links it to the known error it found)."""
    for ticket in (problem, incident):
        cell = rules.matrix.cell(ticket.activity, ticket.layer)
        if access.holds(actor_ctx, tickets.facts(ticket), cell, "R"):
            return True
    return False


def _pair(session: Session, rules: Rules, actor_ctx: Actor, problem_ref: Any,
          incident_ref: Any) -> tuple[Ticket, Ticket]:
    problem = tickets.get_ticket(session, rules, actor_ctx, problem_ref, for_update=True)
    _kind(problem, "problem", "problem")
    # locked too: the link bumps the incident's version (always after the problem's lock, so
    # two links cannot wait for each other)
    incident = tickets.get_ticket(session, rules, actor_ctx, incident_ref, for_update=True)
    _kind(incident, "incident", "incident")
    if incident.customer_id != problem.customer_id:
        raise ValidationError("The incident belongs to another customer.",
                              {"incident": ["Not a ticket of the problem's customer."]})
    if not _may_link(rules, actor_ctx, problem, incident):
        raise NotPermitted("Only the party working the problem or the incident links them.")
    return problem, incident


def link_incident(session: Session, rules: Rules, actor: User, actor_ctx: Actor,
                  problem_ref: Any, incident_ref: Any, *, now: datetime) -> Ticket:
    """Link an incident to a problem; both histories record it. Linking twice is a 409."""
    problem, incident = _pair(session, rules, actor_ctx, problem_ref, incident_ref)
    if rules.workflow("problem").is_final(problem.state):
        raise InvalidTransition("The problem is closed; open a new one.")
    if incident in problem.incidents:
        raise Conflict("The incident is linked to this problem already.")
    problem.incidents.append(incident)
    _record_link(session, rules, actor, problem, incident, "linked", now)
    return problem


def unlink_incident(session: Session, rules: Rules, actor: User, actor_ctx: Actor,
                    problem_ref: Any, incident_ref: Any, *, now: datetime) -> Ticket:
    """Remove a link; both histories record it. An incident not linked is a 409."""
    problem, incident = _pair(session, rules, actor_ctx, problem_ref, incident_ref)
    if rules.workflow("problem").is_final(problem.state):
        raise InvalidTransition("The problem is closed; open a new one.")
    if incident not in problem.incidents:
        raise Conflict("The incident is not linked to this problem.")
    problem.incidents.remove(incident)
    _record_link(session, rules, actor, problem, incident, "unlinked", now)
    return problem


def _record_link(session: Session, rules: Rules, actor: User, problem: Ticket, incident: Ticket,
                 kind: str, now: datetime) -> None:
    """Both tickets' histories record a link change, each naming the other."""
    problem.updated_at = now
    incident.updated_at = now
    session.flush()
    append_event(session, problem, kind=kind, actor=actor, now=now,
                 data={"incident": tickets.number_of(rules, incident)})
    append_event(session, incident, kind=kind, actor=actor, now=now,
                 data={"problem": tickets.number_of(rules, problem)})
    session.flush()
    known.forget(session, problem.id, incident.id)  # their links changed: read them again


#: the history events of a link, and the keys naming the other ticket in their data
LINK_EVENTS = ("linked", "unlinked")
LINK_KEYS = ("incident", "problem")


def hidden_link_events(session: Session, rules: Rules, actor_ctx: Actor,
                       events: Iterable[TicketEvent]) -> set[int]:
    """The ``seq`` of each link event of one ticket's history that names a ticket the actor
    may not see (a supplier reading a problem whose incident is on a system it is not attached
    to). The history keeps the number; such a reader is told only that a ticket it cannot see
    was linked (``redacted_link``), as the ticket's ``incidents``/``problems`` leave it out."""
    named: dict[int, list[int]] = {}
    for event in events:
        if event.kind not in LINK_EVENTS:
            continue
        data = event.data or {}
        ticket_id = tickets.ticket_id_of(rules, data.get("incident") or data.get("problem"))
        if ticket_id is not None:
            named.setdefault(ticket_id, []).append(event.seq)
    if not named or tickets.visibility_clause(actor_ctx) is None:
        return set()
    seen = set(session.scalars(tickets.visible_to(
        select(Ticket.id).where(Ticket.id.in_(list(named))), actor_ctx)))
    return {seq for ticket_id, seqs in named.items() if ticket_id not in seen for seq in seqs}


def redacted_link(data: dict[str, Any]) -> dict[str, Any]:
    """A link event's data as a reader who may not see the other ticket reads it: the other
    ticket's number is null, and ``hidden`` says why."""
    return {**{k: None if k in LINK_KEYS else v for k, v in data.items()}, "hidden": True}


def _summary(rules: Rules, ticket: Ticket) -> dict[str, Any]:
    return {"id": ticket.id, "number": tickets.number_of(rules, ticket), "title": ticket.title,
            "state": ticket.state, "layer": ticket.layer, "system": ticket.system.key,
            "responsible_party": ticket.responsible_party}


def problems_of(session: Session, rules: Rules, actor_ctx: Actor, incident_ref: Any
                ) -> list[dict[str, Any]]:
    """The problems an incident is linked to (the other direction of the link)."""
    incident = tickets.get_ticket(session, rules, actor_ctx, incident_ref)
    return [_summary(rules, p) for p in sorted(incident.problems, key=lambda t: t.id)
            if access.can_see(actor_ctx, tickets.facts(p))]


def linked_incidents(session: Session, rules: Rules, actor_ctx: Actor, problem_ref: Any
                     ) -> list[dict[str, Any]]:
    """The incidents of a problem, each with whether this actor may resolve it now."""
    problem = tickets.get_ticket(session, rules, actor_ctx, problem_ref)
    _kind(problem, "problem", "problem")
    items = []
    for incident in sorted(problem.incidents, key=lambda t: t.id):
        if not access.can_see(actor_ctx, tickets.facts(incident)):
            continue
        item = _summary(rules, incident)
        item["can_resolve"] = "resolve" in tickets.available_transitions(
            session, rules, actor_ctx, incident)
        items.append(item)
    return items


def matching_known_errors(session: Session, rules: Rules, actor_ctx: Actor, incident: Any, *,
                          limit: int = 5) -> list[dict[str, Any]]:
    """Known errors an agent should see while triaging ``incident`` (a Ticket, id or number):
    problems on the same system with a recorded workaround whose title or root cause shares
    words with the incident's title, best match first."""
    if not isinstance(incident, Ticket):
        incident = tickets.get_ticket(session, rules, actor_ctx, incident)
    return _known_errors(session, rules, actor_ctx, _words(incident.title),
                         system_id=incident.system_id, limit=limit, incident=incident)


def search_known_errors(session: Session, rules: Rules, actor_ctx: Actor, *, q: Any = None,
                        system: Any = None, limit: int = 20) -> list[dict[str, Any]]:
    """Known errors (with a workaround) the actor may see, by words of ``q`` and/or a system
    key; without ``q`` every known error (of the system), newest first."""
    text = clean_text(q, "q", required=False, max_length=200) if q is not None else None
    system_id = None
    if system is not None:
        system_id = directory.system_for(session, actor_ctx, system).id
    return _known_errors(session, rules, actor_ctx, _words(text) if text else None,
                         system_id=system_id, limit=limit)


def _known_errors(session: Session, rules: Rules, actor_ctx: Actor, wanted: set[str] | None, *,
                  system_id: int | None, limit: int, incident: Ticket | None = None
                  ) -> list[dict[str, Any]]:
    if wanted is not None and not wanted:
        return []
    query = (select(Ticket).where(Ticket.kind == "problem", Ticket.state.in_(KNOWN_ERROR_STATES))
             .order_by(Ticket.id.desc()).limit(500))
    if system_id is not None:
        query = query.where(Ticket.system_id == system_id)
    query = tickets.visible_to(query, actor_ctx)
    # the incident's problems once, not each matching problem's incidents (a query apiece)
    linked = {p.id for p in incident.problems} if incident is not None else set()
    found = []
    for problem in session.scalars(query):
        details = problem.details or {}
        if not details.get("workaround"):
            continue
        shared = set() if wanted is None else wanted & _words(problem.title,
                                                              details.get("root_cause"))
        if wanted is not None and not shared:
            continue
        item = _summary(rules, problem)
        item.update(workaround=details["workaround"], root_cause=details.get("root_cause"),
                    matched_words=sorted(shared), score=len(shared))
        if incident is not None:
            item["linked"] = problem.id in linked
        found.append(item)
    found.sort(key=lambda i: (-i["score"], -i["id"]))
    return found[:max(1, min(int(limit), 50))]


def resolve_linked_incidents(session: Session, rules: Rules, actor: User, actor_ctx: Actor,
                             problem_ref: Any, *, now: datetime, resolution: Any = None
                             ) -> list[dict[str, Any]]:
    """Once the problem is resolved: resolve each still-open linked incident that this actor may
    resolve, each through ``fire_transition`` (its own history event and notices). Returns one
    result per linked incident: resolved, already_resolved or not_permitted."""
    problem = tickets.get_ticket(session, rules, actor_ctx, problem_ref)
    _kind(problem, "problem", "problem")
    if rules.workflow("problem").states[problem.state].category not in ("resolved", "done") \
            or problem.state == "cancelled":
        raise InvalidTransition("Resolve the problem first.")
    number = tickets.number_of(rules, problem)
    text = clean_text(resolution, "resolution", required=False) or \
        f"Resolved by {number}: {problem.resolution or problem.title}"
    incident_flow = rules.workflow("incident")
    results = []
    for incident in sorted(problem.incidents, key=lambda t: t.id):
        if not access.can_see(actor_ctx, tickets.facts(incident)):
            continue
        result = {"id": incident.id, "number": tickets.number_of(rules, incident)}
        if incident_flow.states[incident.state].category in ("resolved", "done"):
            result.update(result="already_resolved", state=incident.state)
        elif "resolve" not in tickets.available_transitions(session, rules, actor_ctx, incident):
            result.update(result="not_permitted", state=incident.state,
                          reason=_why_not_resolve(session, rules, actor_ctx, incident))
        else:
            try:
                fired = tickets.fire_transition(session, rules, actor, actor_ctx, incident.id,
                                                "resolve", {"resolution": text}, now=now)
                result.update(result="resolved", state=fired.state)
            except DomainError as exc:  # checked above; kept so one incident never sinks all
                result.update(result="failed", state=incident.state, reason=exc.message)
        results.append(result)
    return results


def _why_not_resolve(session: Session, rules: Rules, actor_ctx: Actor, incident: Ticket) -> str:
    """Why this actor may not resolve the incident now, as the refusal of ``resolve`` says it
    (who may, and why; or why not in its state): sentences the Danish catalogue knows."""
    workflow = rules.workflow("incident")
    fx = tickets.ticket_facts(session, incident)
    try:
        spec = workflow.spec_for(incident.state, "resolve", fx.fields)
    except DomainError as exc:
        return exc.message
    if not access.may_fire(rules.matrix, workflow, fx, actor_ctx, spec):
        return access.refusal(rules.matrix, workflow, fx, actor_ctx, spec)
    return access.gate_refusal(rules.matrix, workflow, fx, actor_ctx, spec) or \
        access.refusal(rules.matrix, workflow, fx, actor_ctx, spec)
