"""The SLA clock of a ticket, computed from its stored pauses with the domain's rules."""

from __future__ import annotations

from datetime import datetime

from itilflow.domain.paging import vagtordning_covers
from itilflow.domain.sla import SlaStatus, sla_status
from itilflow.models import Ticket
from itilflow.services.rules import Rules

#: ticket kinds that run an SLA clock
SLA_KINDS = frozenset({"incident"})


def paused_intervals(ticket: Ticket) -> list[tuple[datetime, datetime | None]]:
    return [(datetime.fromisoformat(start), datetime.fromisoformat(end) if end else None)
            for start, end in (ticket.sla_pauses or [])]


def covered_by_vagtordning(rules: Rules, ticket: Ticket) -> bool:
    """Whether on-call covers the ticket after hours: the rule that decides paging, so only a
    ticket somebody is called out for counts its SLA around the clock."""
    return vagtordning_covers(kind=ticket.kind, priority=ticket.priority,
                              environment=ticket.environment,
                              vagtordning=ticket.system.vagtordning,
                              page_priorities=rules.page_priorities)


def sla_of(rules: Rules, ticket: Ticket, now: datetime) -> SlaStatus | None:
    if ticket.kind not in SLA_KINDS:
        return None
    return sla_status(
        rules.sla, rules.calendar, priority=ticket.priority,
        vagtordning=covered_by_vagtordning(rules, ticket), started_at=ticket.created_at, now=now,
        paused_intervals=paused_intervals(ticket), responded_at=ticket.responded_at,
        resolved_at=ticket.resolved_at,
    )


def sla_paused(ticket: Ticket, now: datetime) -> bool:
    """``sla_of(...).paused`` without running the clocks: an open pause begun by ``now``."""
    if ticket.kind not in SLA_KINDS:
        return False
    return any(end is None and datetime.fromisoformat(start) <= now
               for start, end in (ticket.sla_pauses or []))


def refresh_due(rules: Rules, ticket: Ticket, now: datetime) -> None:
    """Keep ``sla_due_at`` (the next open deadline) current, for the queue's sort."""
    status = sla_of(rules, ticket, now)
    if status is None or ticket.closed_at is not None or ticket.resolved_at is not None:
        ticket.sla_due_at = None
    elif ticket.responded_at is None:
        ticket.sla_due_at = status.response_due_at
    else:
        ticket.sla_due_at = status.resolution_due_at
