"""Notifications to the I parties of a ticket (and to the A on an SLA breach): a row in the app
for the party's organisation, and an email to its staff when SMTP is configured."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from itilflow.domain.parties import MANAGER_ROLES, WORKER_ROLES, Party
from itilflow.models import Organisation, Ticket, User
from itilflow.models.paging import Notification
from itilflow.services.sql import id_in

EVENT_TEXT = {
    "created": "was raised", "resolve": "was resolved", "close": "was closed",
    "confirm": "was confirmed resolved", "cancel": "was cancelled", "reopen": "was reopened",
    "reject": "had its resolution rejected", "sla_breach": "breached its SLA",
}


def message_text(payload: dict[str, Any]) -> str:
    what = EVENT_TEXT.get(payload.get("event", ""), f"changed ({payload.get('event')})")
    text = f"{payload.get('number')} {payload.get('title')!s} {what}"
    if payload.get("target"):
        text += f" ({payload['target']} target)"
    if payload.get("actor"):
        text += f" by {payload['actor']}"
    return text + f"; it is now {payload.get('state')}."


def deliver_in_app(session: Session, message_id: str, payload: dict[str, Any], now: datetime
                   ) -> tuple[Notification | None, list[str]]:
    """Write the in-app notification once (a repeat delivery finds it); return it and the email
    addresses of the people to tell: the party's agents and managers (only managers for an
    SLA breach, the A), and the reporter where the party is the customer."""
    deliver_in_app_many(session, [(message_id, payload)], now)
    note = session.scalar(select(Notification).where(Notification.message_id == message_id))
    if note is None:  # no such ticket or party
        return None, []
    roles = MANAGER_ROLES if payload.get("event") == "sla_breach" else WORKER_ROLES
    users = session.scalars(select(User).where(User.organisation_id == note.organisation_id,
                                               User.active.is_(True),
                                               User.role.in_([r.value for r in roles])))
    emails = sorted({u.email for u in users})
    ticket = session.get(Ticket, note.ticket_id)
    if note.party == Party.CUSTOMER.value and ticket.reporter is not None and \
            ticket.reporter.active:
        emails = sorted(set(emails) | {ticket.reporter.email})
    return note, emails


def deliver_in_app_many(session: Session, messages: list[tuple[str, dict[str, Any]]],
                        now: datetime) -> int:
    """``deliver_in_app`` for many outbox rows at once, without the email addresses: one read of
    their tickets, one of the provider, one INSERT (a repeat delivery of a ``message_id``
    inserts nothing). Returns how many notifications are new."""
    ticket_ids = {p.get("ticket_id") for _, p in messages if isinstance(p.get("ticket_id"), int)}
    if not ticket_ids:
        return 0
    customer_of = dict(session.execute(
        select(Ticket.id, Ticket.customer_id).where(id_in(session, Ticket.id, ticket_ids))).all())
    provider_id = session.scalar(select(func.min(Organisation.id))
                                 .where(Organisation.kind == "provider"))
    rows = []
    for message_id, payload in messages:
        party = payload.get("party")
        ticket_id = payload.get("ticket_id")
        if ticket_id not in customer_of:
            continue
        org_id = customer_of[ticket_id] if party == Party.CUSTOMER.value else \
            provider_id if party == Party.PROVIDER.value else None
        if org_id is None:
            continue
        rows.append({"organisation_id": org_id, "ticket_id": ticket_id, "party": party,
                     "event": str(payload.get("event"))[:60], "message": message_text(payload),
                     "message_id": message_id, "created_at": now})
    if not rows:
        return 0
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    return session.execute(dialect.insert(Notification).values(rows)
                           .on_conflict_do_nothing(index_elements=[Notification.message_id])
                           ).rowcount


def notifications_for(session: Session, organisation_id: int, *, limit: int = 50
                      ) -> list[Notification]:
    return list(session.scalars(select(Notification).where(
        Notification.organisation_id == organisation_id).order_by(Notification.id.desc())
        .limit(limit)))
