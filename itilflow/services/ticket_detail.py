"""What the one-ticket page shows beyond the ticket row: each consultation with who asked and who
answered, a change's window, layers, approvals and warnings, a problem's known error and its
incidents. Read-only: it reads what the use cases keep (``changes``, ``problems``) and writes
nothing, so the page never decides a rule of its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from itilflow.domain.access import Actor
from itilflow.domain.errors import ValidationError
from itilflow.models import Consultation, Ticket, TicketEvent, User
from itilflow.models.change import ChangeWindow
from itilflow.services import changes, problems, tickets
from itilflow.services.fields import clean_text, parse_id
from itilflow.services.rules import Rules

#: the kinds whose impact and urgency a person chose; a change's or a problem's are defaults
RATED_KINDS = frozenset({"incident", "request"})


@dataclass(frozen=True)
class ConsultationView:
    stage: str
    party: str
    question: str
    asked_by: User | None
    asked_at: datetime
    answer: str | None
    answered_by: User | None
    answered_at: datetime | None

    @property
    def open(self) -> bool:
        return self.answered_at is None


def consultations(session: Session, ticket: Ticket) -> list[ConsultationView]:
    """The ticket's consultations, oldest first, with the people who asked and answered (one
    query for the consultations, one for their users)."""
    rows = list(session.scalars(select(Consultation).where(Consultation.ticket_id == ticket.id)
                                .order_by(Consultation.id)))
    ids = {i for c in rows for i in (c.asked_by_id, c.answered_by_id) if i is not None}
    users = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))} \
        if ids else {}
    return [ConsultationView(stage=c.activity, party=c.party, question=c.question,
                             asked_by=users.get(c.asked_by_id), asked_at=c.asked_at,
                             answer=c.answer, answered_by=users.get(c.answered_by_id),
                             answered_at=c.answered_at) for c in rows]


def _instant(raw: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


def change_card(session: Session, rules: Rules, actor_ctx: Actor, ticket: Ticket
                ) -> dict[str, Any] | None:
    """A change's type, planned window, affected layers, approvals given and still needed (per
    accountable party), what its next steps wait on, live overlap and freeze warnings while it
    is still to run, the assessment and the outcome once recorded."""
    if ticket.kind != "change":
        return None
    details = ticket.details or {}
    window = session.get(ChangeWindow, ticket.id)
    waiting = changes.waiting_on(session, rules, actor_ctx, ticket.id)
    workflow = rules.workflow("change")
    # once carried out (in review) or ended, its window no longer clashes with anything
    finished = workflow.is_final(ticket.state) or \
        workflow.states[ticket.state].category == "resolved"
    approvals = waiting["approvals"] or {}
    return {
        "change_type": details.get("change_type"),
        "template": details.get("template"),
        "planned_start": window.planned_start if window else _instant(details.get("planned_start")),
        "planned_end": window.planned_end if window else _instant(details.get("planned_end")),
        "affected_layers": details.get("affected_layers") or [ticket.layer],
        "approvers": approvals.get("required", []),
        "approvals": [dict(a, at=_instant(a.get("at"))) for a in approvals.get("given", [])],
        "pending": approvals.get("pending", []),
        "gates": waiting["gates"],
        "warnings": [] if finished else
        changes.change_warnings(session, rules, actor_ctx, ticket.id),
        "risk": details.get("risk"),
        "impact_assessment": details.get("impact_assessment"),
        "outcome": details.get("outcome"),
    }


def problem_card(session: Session, rules: Rules, actor_ctx: Actor, ticket: Ticket
                 ) -> dict[str, Any] | None:
    """A problem's root cause and workaround (its known error) and the incidents linked to it
    that the viewer may see."""
    if ticket.kind != "problem":
        return None
    details = ticket.details or {}
    return {"root_cause": details.get("root_cause"), "workaround": details.get("workaround"),
            "incidents": problems.linked_incidents(session, rules, actor_ctx, ticket.id)}


def linked_problems(session: Session, rules: Rules, actor_ctx: Actor, ticket: Ticket
                    ) -> list[dict[str, Any]]:
    """The problems an incident is linked to, each with its workaround where one is known."""
    if ticket.kind != "incident" or not ticket.problems:
        return []
    known_error = {p.id: (p.details or {}).get("workaround") for p in ticket.problems}
    return [dict(p, workaround=known_error.get(p["id"]))
            for p in problems.problems_of(session, rules, actor_ctx, ticket.id)]


def raci_layers(ticket: Ticket) -> list[str | None]:
    """The layers whose matrix cells govern the ticket: every affected layer of a change, the
    main one first; otherwise its one layer (None while unknown)."""
    affected = (ticket.details or {}).get("affected_layers") if ticket.kind == "change" else None
    return list(dict.fromkeys([ticket.layer, *(affected or [])]))


def last_seq(events: list[TicketEvent]) -> int:
    return events[-1].seq if events else 0


def comment_resubmitted(session: Session, rules: Rules, actor_ctx: Actor, user: User,
                        ticket_ref: Any, body: Any, seen: Any) -> bool:
    """Whether ``user`` already made this comment after the history entry ``seen`` (the last
    one their form showed): the same form sent twice (a double click, the back button). The
    ticket's row is locked first on PostgreSQL, so a concurrent twin waits until the first one
    commits and then finds it. Without ``seen`` nothing counts as a resubmit."""
    seen_seq = parse_id(seen, lowest=0)  # no seq past int32: as if the form showed nothing
    if seen_seq is None:
        return False
    ticket = tickets.get_ticket(session, rules, actor_ctx, ticket_ref, for_update=True)
    try:
        text = clean_text(body, "body", required=True)
    except ValidationError:
        return False  # the use case names the fault
    return any(event.data.get("body") == text for event in session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                  TicketEvent.kind == "comment", TicketEvent.actor_id == user.id,
                                  TicketEvent.seq > seen_seq)))
