"""Notifications to the I parties of a ticket (and to the A on an SLA breach): a row in the app
for the party's organisation, and an email to its staff when SMTP is configured."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from itilflow.domain.parties import MANAGER_ROLES, WORKER_ROLES, Party
from itilflow.models import Organisation, Ticket, User
from itilflow.models.paging import Notification

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


def organisation_of(session: Session, ticket: Ticket, party: str) -> Organisation | None:
    if party == Party.CUSTOMER.value:
        return session.get(Organisation, ticket.customer_id)
    return session.scalar(select(Organisation).where(Organisation.kind == "provider")
                          .order_by(Organisation.id).limit(1))


def deliver_in_app(session: Session, message_id: str, payload: dict[str, Any], now: datetime
                   ) -> tuple[Notification | None, list[str]]:
    """Write the in-app notification once (a repeat delivery finds it); return it and the email
    addresses of the people to tell: the party's agents and managers (only managers for an
    SLA breach, the A), and the reporter where the party is the customer."""
    ticket = session.get(Ticket, payload.get("ticket_id"))
    party = payload.get("party")
    if ticket is None or party not in (Party.CUSTOMER.value, Party.PROVIDER.value):
        return None, []
    org = organisation_of(session, ticket, party)
    if org is None:
        return None, []
    note = session.scalar(select(Notification).where(Notification.message_id == message_id))
    if note is None:
        note = Notification(organisation_id=org.id, ticket_id=ticket.id, party=party,
                            event=str(payload.get("event"))[:60], message=message_text(payload),
                            message_id=message_id, created_at=now)
        session.add(note)
        session.flush()
    roles = MANAGER_ROLES if payload.get("event") == "sla_breach" else WORKER_ROLES
    users = session.scalars(select(User).where(User.organisation_id == org.id, User.active.is_(True),
                                               User.role.in_([r.value for r in roles])))
    emails = sorted({u.email for u in users})
    if party == Party.CUSTOMER.value and ticket.reporter is not None and ticket.reporter.active:
        emails = sorted(set(emails) | {ticket.reporter.email})
    return note, emails


def notifications_for(session: Session, organisation_id: int, *, limit: int = 50
                      ) -> list[Notification]:
    return list(session.scalars(select(Notification).where(
        Notification.organisation_id == organisation_id).order_by(Notification.id.desc())
        .limit(limit)))
