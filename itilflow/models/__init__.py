"""SQLAlchemy 2 typed models. Works on SQLite (the embedded default) and PostgreSQL."""

from itilflow.models.base import Base
from itilflow.models.directory import ApiToken, Organisation, System, User, system_suppliers
from itilflow.models.outbox import OutboxMessage
from itilflow.models.ticket import (
    Consultation,
    Ticket,
    TicketEvent,
    problem_incidents,
)

__all__ = [
    "ApiToken",
    "Base",
    "Consultation",
    "Organisation",
    "OutboxMessage",
    "System",
    "Ticket",
    "TicketEvent",
    "User",
    "problem_incidents",
    "system_suppliers",
]
