"""Tickets, their append-only hash-chained history and consultations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from itilflow.models.base import Base
from itilflow.models.directory import Organisation, System, User

problem_incidents = Table(
    "problem_incidents",
    Base.metadata,
    Column("problem_id", ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column("incident_id", ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True,
           index=True),
)


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    system_id: Mapped[int] = mapped_column(ForeignKey("systems.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    environment: Mapped[str] = mapped_column(String(40))
    layer: Mapped[str | None] = mapped_column(String(20))
    activity: Mapped[str] = mapped_column(String(60))
    impact: Mapped[int] = mapped_column(Integer, default=3)
    urgency: Mapped[int] = mapped_column(Integer, default=3)
    priority: Mapped[str] = mapped_column(String(2))
    responsible_party: Mapped[str] = mapped_column(String(10))
    accountable_party: Mapped[str] = mapped_column(String(10))
    on_request: Mapped[bool] = mapped_column(Boolean, default=False)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outage: Mapped[bool] = mapped_column(Boolean, default=False)
    after_hours: Mapped[bool] = mapped_column(Boolean, default=False)
    resolution: Mapped[str | None] = mapped_column(Text)
    #: kind-specific fields (change type and window, risk, outcome, workaround, ...)
    details: Mapped[dict] = mapped_column(default=dict)
    # SLA clock: started at created_at; paused while in a paused state, [[start, end|null], ...]
    sla_pauses: Mapped[list] = mapped_column(default=list)
    responded_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    #: the next SLA deadline still open, for the queue's sort and the breach job
    sla_due_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    #: who acknowledged: a person's email, or "pager hook NAME" for a pager's call
    acknowledged_by: Mapped[str | None] = mapped_column(String(300))
    #: bumps on each escalation change: a stale timer whose token differs does nothing
    escalation_token: Mapped[int] = mapped_column(Integer, default=0)
    workflow_version: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    __mapper_args__ = {"version_id_col": version}

    system: Mapped[System] = relationship(lazy="joined")
    customer: Mapped[Organisation] = relationship(lazy="joined")
    reporter: Mapped[User | None] = relationship(foreign_keys=[reporter_id], lazy="joined")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="joined")
    incidents: Mapped[list[Ticket]] = relationship(
        secondary=problem_incidents,
        primaryjoin=id == problem_incidents.c.problem_id,
        secondaryjoin=id == problem_incidents.c.incident_id,
        back_populates="problems",
        order_by=problem_incidents.c.incident_id,  # a defined order: oldest incident first
        lazy="select",
    )
    problems: Mapped[list[Ticket]] = relationship(
        secondary=problem_incidents,
        primaryjoin=id == problem_incidents.c.incident_id,
        secondaryjoin=id == problem_incidents.c.problem_id,
        back_populates="incidents",
        order_by=problem_incidents.c.problem_id,
        lazy="select",
    )


# The queue and list access paths: keyset pagination on id, per party/state/kind.
Index("ix_tickets_party_state_id", Ticket.responsible_party, Ticket.state, Ticket.id)
Index("ix_tickets_customer_id", Ticket.customer_id, Ticket.id)
Index("ix_tickets_system_id", Ticket.system_id, Ticket.id)
Index("ix_tickets_kind_state_id", Ticket.kind, Ticket.state, Ticket.id)
Index("ix_tickets_sla_due", Ticket.sla_due_at, Ticket.id)
# The title search (ILIKE '%word%'): on PostgreSQL a trigram index, so a rare word does not scan
# the table (1.5 s at a million tickets without it); elsewhere a plain index on the title.
Index("ix_tickets_title_trgm", Ticket.title, postgresql_using="gin",
      postgresql_ops={"title": "gin_trgm_ops"})


class TicketEvent(Base):
    """One append-only history row; ``hash`` chains it to the ticket's previous event."""

    __tablename__ = "ticket_events"
    __table_args__ = (UniqueConstraint("ticket_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(30))  # created, transition, handover, comment, ...
    trigger: Mapped[str | None] = mapped_column(String(60))
    from_state: Mapped[str | None] = mapped_column(String(40))
    to_state: Mapped[str | None] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(300), default="")
    data: Mapped[dict] = mapped_column(default=dict)
    workflow_version: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Consultation(Base):
    """A C party's consultation on one stage of a ticket: question, answer, who and when."""

    __tablename__ = "consultations"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"),
                                           index=True)
    activity: Mapped[str] = mapped_column(String(60))
    party: Mapped[str] = mapped_column(String(10))
    question: Mapped[str] = mapped_column(Text)
    asked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    asked_at: Mapped[datetime]
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime | None]
