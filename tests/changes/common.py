"""Helpers for the change, problem, request and matrix tests."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from itilflow.models import OutboxMessage
from itilflow.services import changes, tickets
from tests.conftest import WORK_TIME

NOW = WORK_TIME
LATER = NOW + timedelta(minutes=5)


def actor(session, world, email):
    return world.actor(session, email)


def fire(session, rules, world, email, ticket, trigger, **fields):
    user, ctx = world.actor(session, email)
    return tickets.fire_transition(session, rules, user, ctx, ticket.id, trigger, fields,
                                   now=LATER)


def available(session, rules, world, email, ticket):
    _, ctx = world.actor(session, email)
    return tickets.available_transitions(session, rules, ctx, ticket)


def window(days: int, hours: int = 2):
    start = NOW + timedelta(days=days)
    return start.isoformat(), (start + timedelta(hours=hours)).isoformat()


def submit_change(session, rules, world, email="agent@sit.test", *, layer="operating_system",
                  change_type="normal", days=7, hours=2, system="kort", **extra):
    user, ctx = world.actor(session, email)
    start, end = window(days, hours)
    data = {"system": system, "environment": "production", "layer": layer,
            "change_type": change_type, "title": f"Upgrade {layer}", "description": "Planned.",
            "planned_start": start, "planned_end": end, **extra}
    return changes.submit_change(session, rules, user, ctx, data, now=NOW)


def notices(session, ticket, event=None):
    """(party, event, deviation) of the notify rows written for a ticket, oldest first."""
    rows = session.scalars(select(OutboxMessage).where(
        OutboxMessage.topic == "notify", OutboxMessage.ticket_id == ticket.id)
        .order_by(OutboxMessage.id))
    found = [(r.payload["party"], r.payload["event"], r.payload.get("deviation")) for r in rows]
    return [f for f in found if event is None or f[1] == event]
