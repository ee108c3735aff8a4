"""The access log: append-only, hash-chained across the whole log (ISO 27001 A.8.15)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from itilflow.models.base import Base


class AccessLogEntry(Base):
    """One access event; ``hash`` chains it to the previous entry (by ``seq``).

    No foreign keys: an entry outlives the user or ticket it names. Retention purges the oldest
    entries only, and the first kept entry's ``prev_hash`` anchors the rest of the chain.
    """

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[datetime]
    #: login, logout, login_failed, token_use, token_refused, ticket_read, export,
    #: admin_action, permission_refused, report_read
    action: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_email: Mapped[str | None] = mapped_column(String(254))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str | None] = mapped_column(String(10))
    path: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[int | None] = mapped_column(Integer)
    #: what was touched, e.g. a ticket number ``INC-000042`` or a token prefix
    target: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[dict] = mapped_column(default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


Index("ix_access_log_at", AccessLogEntry.at)
Index("ix_access_log_actor_at", AccessLogEntry.actor_email, AccessLogEntry.at)
Index("ix_access_log_action_at", AccessLogEntry.action, AccessLogEntry.at)
Index("ix_access_log_addr_at", AccessLogEntry.remote_addr, AccessLogEntry.at)


# The monthly report's access paths: a customer's (or everybody's) tickets of a kind by month.
from itilflow.models.ticket import Ticket  # noqa: E402

Index("ix_tickets_customer_kind_created", Ticket.customer_id, Ticket.kind, Ticket.created_at)
Index("ix_tickets_kind_created", Ticket.kind, Ticket.created_at)
