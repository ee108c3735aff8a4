"""Writing side effects to the outbox, in the caller's transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from itilflow.models import OutboxMessage


def enqueue(session: Session, topic: str, payload: dict[str, Any], *, now: datetime,
            due_at: datetime | None = None, ticket_id: int | None = None,
            message_id: str | None = None) -> OutboxMessage:
    """Add one outbox row; it is sent only if the surrounding transaction commits."""
    message = OutboxMessage(
        message_id=message_id or f"msg_{uuid.uuid4().hex}", topic=topic, ticket_id=ticket_id,
        payload=payload, due_at=due_at or now, status="pending", attempts=0, created_at=now,
    )
    session.add(message)
    return message


def enqueue_once(session: Session, topic: str, payload: dict[str, Any], *, now: datetime,
                 message_id: str, due_at: datetime | None = None, ticket_id: int | None = None
                 ) -> None:
    """Add an outbox row unless one with this ``message_id`` exists: one statement, no read
    first (``INSERT ... ON CONFLICT DO NOTHING`` on both PostgreSQL and SQLite)."""
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    session.execute(
        dialect.insert(OutboxMessage).values(
            message_id=message_id, topic=topic, ticket_id=ticket_id, payload=payload,
            due_at=due_at or now, status="pending", attempts=0, created_at=now)
        .on_conflict_do_nothing(index_elements=[OutboxMessage.message_id]))
