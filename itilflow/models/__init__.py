"""SQLAlchemy 2 typed models. Works on SQLite (the embedded default) and PostgreSQL."""

import itilflow.models.change  # change templates, freeze periods, windows
import itilflow.models.oncall  # on-call schedules, overrides
import itilflow.models.paging  # noqa: F401 (pager hooks, escalations, pages)
from itilflow.models.audit import AccessLogEntry
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
    "AccessLogEntry",
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
