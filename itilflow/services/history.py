"""Append-only, hash-chained ticket history."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from itilflow.models import Ticket, TicketEvent, User
from itilflow.services import known

GENESIS = known.GENESIS


def _digest(prev_hash: str, event: TicketEvent) -> str:
    body = json.dumps(
        {
            "ticket_id": event.ticket_id, "seq": event.seq, "kind": event.kind,
            "trigger": event.trigger, "from": event.from_state, "to": event.to_state,
            "actor_id": event.actor_id, "actor_label": event.actor_label, "data": event.data,
            "workflow_version": event.workflow_version,
            "created_at": event.created_at.isoformat(timespec="microseconds"),
        },
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str,
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def append_event(session: Session, ticket: Ticket, *, kind: str, actor: User | None,
                 now: datetime, trigger: str | None = None, from_state: str | None = None,
                 to_state: str | None = None, data: dict[str, Any] | None = None) -> TicketEvent:
    """Write one history row chained to the ticket's last one (read once per transaction:
    ``services.known`` keeps the head while the ticket's row lock is held)."""
    head = known.get(session, ticket.id)
    if head is not None:
        last_seq, prev_hash = head.head
    else:
        if session.bind.dialect.name == "postgresql":
            # every appender holds the ticket's row lock, so two cannot take the same seq (a
            # use case that locked or updated the ticket holds it already: this is a no-op)
            session.execute(select(Ticket.id).where(Ticket.id == ticket.id).with_for_update())
        last = session.execute(
            select(TicketEvent.seq, TicketEvent.hash)
            .where(TicketEvent.ticket_id == ticket.id)
            .order_by(TicketEvent.seq.desc())
            .limit(1)
        ).first()
        last_seq, prev_hash = (last.seq, last.hash) if last else (0, GENESIS)
    seq = last_seq + 1
    event = TicketEvent(
        ticket_id=ticket.id, seq=seq, kind=kind, trigger=trigger, from_state=from_state,
        to_state=to_state, actor_id=actor.id if actor else None,
        actor_label=f"{actor.name} <{actor.email}>" if actor else "itilflow",
        data=data or {}, workflow_version=ticket.workflow_version, created_at=now,
        prev_hash=prev_hash,
    )
    event.hash = _digest(prev_hash, event)
    session.add(event)
    known.advance_head(session, ticket.id, seq, event.hash)
    return event


@dataclass(frozen=True)
class ChainFault:
    ticket_id: int
    seq: int
    reason: str


def verify_chains(session: Session) -> tuple[int, list[ChainFault]]:
    """Recompute every ticket's chain; return the number of events checked and the faults."""
    faults: list[ChainFault] = []
    checked = 0
    current, prev_hash, expected_seq = None, GENESIS, 1
    rows = session.execute(
        select(TicketEvent).order_by(TicketEvent.ticket_id, TicketEvent.seq)
        .execution_options(yield_per=1000)
    ).scalars()
    for event in rows:
        if event.ticket_id != current:
            current, prev_hash, expected_seq = event.ticket_id, GENESIS, 1
        checked += 1
        if event.seq != expected_seq:
            faults.append(ChainFault(event.ticket_id, event.seq,
                                     f"sequence gap: expected {expected_seq}"))
        if event.prev_hash != prev_hash:
            faults.append(ChainFault(event.ticket_id, event.seq, "link to previous event broken"))
        if _digest(event.prev_hash, event) != event.hash:
            faults.append(ChainFault(event.ticket_id, event.seq, "content changed after writing"))
        prev_hash, expected_seq = event.hash, event.seq + 1
    return checked, faults

