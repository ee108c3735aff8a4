"""What a page of tickets (the agent's queue, the API's list) needs beyond the ticket rows,
fetched once for the page instead of once per row.

A ticket's relationships load joined by default (system, customer, reporter, assignee, and
each one's organisation). For one ticket that is fine; for a page it is a join of eight tables
that PostgreSQL spends 10-50 ms planning on every request (the LIMIT is a parameter, so no
cached generic plan is used), far more than reading the rows. So a page selects the tickets
alone (``PAGE_LOADING``) and ``attach_related`` hands each row its system and users from one
small query per kind, or none when the session holds them already.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from itilflow.domain import access
from itilflow.domain.access import Actor
from itilflow.domain.parties import Party
from itilflow.models import Consultation, System, Ticket, User
from itilflow.services.rules import Rules
from itilflow.services.sql import id_in

#: loader options for a page of tickets: no joins; ``attach_related`` fills what is shown
PAGE_LOADING = (lazyload(Ticket.system), lazyload(Ticket.customer), lazyload(Ticket.reporter),
                lazyload(Ticket.assignee))


def _by_id(session: Session, model: Any, ids: Iterable[int | None]) -> dict[int, Any]:
    """The rows of ``model`` with these ids: from the session's identity map where held, the
    rest in one query."""
    found: dict[int, Any] = {}
    missing = []
    for ident in set(ids):
        if ident is None:
            continue
        held = session.identity_map.get(identity_key(model, ident))
        if held is not None:
            found[ident] = held
        else:
            missing.append(ident)
    if missing:
        found.update((row.id, row) for row in session.scalars(
            select(model).where(id_in(session, model.id, missing))))
    return found


def attach_related(session: Session, rows: list[Ticket], *, reporter: bool = True) -> None:
    """Give each ticket of the page its system, assignee (and reporter) without a query per
    row: at most one query for the systems and one for the users."""
    if not rows:
        return
    systems = _by_id(session, System, (t.system_id for t in rows))
    user_ids = [t.assignee_id for t in rows]
    if reporter:
        user_ids += [t.reporter_id for t in rows]
    users = _by_id(session, User, user_ids)
    for ticket in rows:
        set_committed_value(ticket, "system", systems.get(ticket.system_id))
        set_committed_value(ticket, "assignee", users.get(ticket.assignee_id)
                            if ticket.assignee_id is not None else None)
        if reporter:
            set_committed_value(ticket, "reporter", users.get(ticket.reporter_id)
                                if ticket.reporter_id is not None else None)


Pairs = frozenset[tuple[str, Party]]


def _consultations_of(session: Session, rows: list[Ticket], kinds: tuple[str, ...]
                      ) -> dict[int, tuple[Pairs, Pairs]]:
    """``tickets.consultation_pairs`` (answered, open) of every ticket of the page whose kind
    consults, in one query."""
    ids = [t.id for t in rows if t.kind in kinds]
    pairs: dict[int, tuple[set, set]] = {i: (set(), set()) for i in ids}
    if ids:
        for ticket_id, activity, party, done in session.execute(
            select(Consultation.ticket_id, Consultation.activity, Consultation.party,
                   Consultation.answered_at.is_not(None))
            .where(id_in(session, Consultation.ticket_id, ids))
        ):
            pairs[ticket_id][0 if done else 1].add((activity, Party(party)))
    return {i: (frozenset(a), frozenset(o)) for i, (a, o) in pairs.items()}


def available_transitions_many(session: Session, rules: Rules, actor: Actor,
                               rows: list[Ticket]) -> dict[int, list[str]]:
    """``tickets.available_transitions`` of each ticket of the page: the consultations of
    the page in one query (not one per change or request), and the rules asked once per
    distinct set of facts (rows that share kind, state, layer, system, reporter and the rest)."""
    # tickets imports this module
    from itilflow.services.tickets import CONSULTING_KINDS
    from itilflow.services.tickets import facts as facts_of

    consultations = _consultations_of(session, rows, CONSULTING_KINDS)
    none = (frozenset(), frozenset())
    answers: dict[tuple, list[str]] = {}
    found: dict[int, list[str]] = {}
    for ticket in rows:
        facts = facts_of(ticket, *consultations.get(ticket.id, none))
        key: tuple | None = (
            facts.kind, facts.state, facts.activity, facts.layer, facts.customer_id,
            facts.system_id, facts.reporter_id, facts.on_request,
            tuple(sorted(facts.fields.items())), facts.consulted, facts.affected_layers,
            facts.approved_by, facts.open_consultations, facts.acknowledged)
        try:
            triggers = answers.get(key)
        except TypeError:  # a field value that is not hashable: ask for this row alone
            key, triggers = None, None
        if triggers is None:
            triggers = access.available_triggers(rules.matrix, rules.workflow(ticket.kind),
                                                 facts, actor)
            if key is not None:
                answers[key] = triggers
        found[ticket.id] = list(triggers)
    return found
