"""What the API and the UI show of a ticket's paging: the pages sent and the acknowledgement.

The paging module fills ``pages``; this is the one place to extend.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from itilflow.models import Ticket


def paging_of(session: Session, ticket: Ticket) -> dict[str, Any]:
    """``{"pages": [...], "acknowledged_at": datetime | None}`` for the ticket."""
    from itilflow.services.paging import paging_summary

    return paging_summary(session, ticket)


def paging_of_many(session: Session, tickets: list[Ticket]) -> dict[int, dict[str, Any]]:
    """``paging_of`` for a page of tickets, in two queries."""
    from itilflow.services.paging import paging_summaries

    return paging_summaries(session, tickets)
