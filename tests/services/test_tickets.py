"""The ticket use cases on real databases (SQLite and PostgreSQL): routing, hand-over,
permissions, optimistic locking, the history chain and the transaction boundary."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update

from itilflow.domain.errors import NotFound, NotPermitted, StaleTicket, ValidationError
from itilflow.domain.parties import Layer
from itilflow.models import OutboxMessage, Ticket, TicketEvent
from itilflow.services import tickets
from itilflow.services.history import verify_chains
from tests.conftest import WORK_TIME

NOW = WORK_TIME


def submit(session, rules, world, email="rep@gst.test", **fields):
    user, ctx = world.actor(session, email)
    data = {"system": "kort", "environment": "production", "title": "Map tiles time out",
            "description": "GetMap requests time out.", "impact": 2, "urgency": 2, **fields}
    return tickets.submit_incident(session, rules, user, ctx, data, now=NOW)


def fire(session, rules, world, email, ticket, trigger, **fields):
    user, ctx = world.actor(session, email)
    version = fields.pop("version", None)
    return tickets.fire_transition(session, rules, user, ctx, ticket.id, trigger, fields,
                                   now=NOW + timedelta(minutes=5), version=version)


@pytest.mark.parametrize(("layer", "party"), [
    (None, "provider"), ("application", "customer"), ("middleware", "customer"),
    ("operating_system", "provider"), ("infrastructure", "provider"),
])
def test_incident_is_routed_by_layer(session, rules, world, layer, party):
    ticket = submit(session, rules, world, layer=layer)
    assert ticket.responsible_party == party
    assert ticket.accountable_party == party
    assert ticket.state == "new"
    assert ticket.priority == "P3"
    assert tickets.number_of(rules, ticket) == f"INC-{ticket.id:06d}"


def test_routing_follows_the_matrix_for_every_activity_and_layer(session, rules, world):
    """Every cell of the matrix: the R of the cell gets the work, the A approves."""
    base = submit(session, rules, world, layer="operating_system")
    for activity, act in rules.matrix.activities.items():
        for layer in Layer:
            base.activity, base.layer = activity, layer.value
            tickets._route(rules, base)
            cell = act.cells[layer]
            assert base.responsible_party == cell.responsible().value, (activity, layer)
            assert base.accountable_party == cell.accountable.value, (activity, layer)
    session.rollback()


def test_reclassify_hands_over_and_history_says_so(session, rules, world):
    ticket = submit(session, rules, world)
    fire(session, rules, world, "agent@sit.test", ticket, "assign", assignee="agent@sit.test")
    assert ticket.assignee.email == "agent@sit.test"
    fire(session, rules, world, "agent@sit.test", ticket, "reclassify", layer="application",
         comment="The WMS application itself fails.")
    session.commit()
    assert ticket.responsible_party == "customer"
    assert ticket.assignee_id is None
    kinds = [(e.kind, e.trigger) for e in tickets.events_of(session, ticket)]
    assert kinds == [("created", None), ("transition", "assign"),
                     ("transition", "reclassify"), ("handover", None)]
    handover = tickets.events_of(session, ticket)[-1]
    assert handover.data == {"from_party": "provider", "to_party": "customer",
                             "layer": "application"}
    # now SIT has no action and the customer's agent does
    _, sit = world.actor(session, "agent@sit.test")
    _, gst = world.actor(session, "agent@gst.test")
    assert tickets.available_transitions(session, rules, sit, ticket) == []
    assert "resolve" in tickets.available_transitions(session, rules, gst, ticket)


def test_permission_is_denied_by_default(session, rules, world):
    ticket = submit(session, rules, world, layer="application")
    with pytest.raises(NotPermitted):
        fire(session, rules, world, "agent@sit.test", ticket, "resolve", resolution="x")
    with pytest.raises(NotFound):  # another organisation: not even visible
        fire(session, rules, world, "agent@erst.test", ticket, "resolve", resolution="x")
    with pytest.raises(NotPermitted):  # the reporter may not work it
        fire(session, rules, world, "rep@gst.test", ticket, "resolve", resolution="x")


def test_fields_are_validated(session, rules, world):
    ticket = submit(session, rules, world, layer="operating_system")
    with pytest.raises(ValidationError) as excinfo:
        fire(session, rules, world, "agent@sit.test", ticket, "resolve", bogus=1)
    assert set(excinfo.value.errors) == {"resolution", "bogus"}
    with pytest.raises(ValidationError):
        fire(session, rules, world, "agent@sit.test", ticket, "assign", assignee="rep@gst.test")


def test_submit_rejects_bad_input_and_other_organisations_systems(session, rules, world):
    with pytest.raises(ValidationError) as excinfo:
        submit(session, rules, world, impact=7, urgency="x", title="", layer="kernel")
    assert set(excinfo.value.errors) == {"impact", "urgency", "title", "layer"}
    with pytest.raises(ValidationError) as excinfo:
        submit(session, rules, world, email="rep@erst.test")  # kort is GST's
    assert "system" in excinfo.value.errors
    with pytest.raises(ValidationError):
        submit(session, rules, world, title="bad\x00title")


def test_stale_version_is_a_conflict(session, rules, world):
    ticket = submit(session, rules, world, layer="operating_system")
    session.commit()
    version = ticket.version
    fire(session, rules, world, "agent@sit.test", ticket, "start_work", version=version)
    session.commit()
    with pytest.raises(StaleTicket):
        fire(session, rules, world, "agent@sit.test", ticket, "resolve", resolution="done",
             version=version)


def test_concurrent_writer_loses_with_optimistic_locking(rt, rules, world):
    first, second = rt.session_factory(), rt.session_factory()
    try:
        ticket = submit(first, rules, world, layer="operating_system")
        first.commit()
        a = first.get(Ticket, ticket.id)
        b = second.get(Ticket, ticket.id)
        a.title = "changed by A"
        first.commit()
        b.title = "changed by B"
        with pytest.raises(Exception, match="expected to update 1 row"):
            second.commit()
    finally:
        first.close()
        second.close()


def test_rolled_back_transition_leaves_no_event_and_no_outbox_row(rt, rules, world):
    session = rt.session_factory()
    ticket = submit(session, rules, world, layer="operating_system")
    session.commit()
    ticket_id = ticket.id
    events_before = session.scalar(select(func.count()).select_from(TicketEvent))
    outbox_before = session.scalar(select(func.count()).select_from(OutboxMessage))
    fire(session, rules, world, "agent@sit.test", ticket, "resolve", resolution="Rebooted.")
    assert session.scalar(select(func.count()).select_from(OutboxMessage)) > outbox_before
    session.rollback()
    session.close()
    check = rt.session_factory()
    assert check.scalar(select(func.count()).select_from(TicketEvent)) == events_before
    assert check.scalar(select(func.count()).select_from(OutboxMessage)) == outbox_before
    assert check.get(Ticket, ticket_id).state == "new"
    check.close()


def test_informed_party_is_notified_through_the_outbox(session, rules, world):
    ticket = submit(session, rules, world, layer="operating_system")
    fire(session, rules, world, "agent@sit.test", ticket, "resolve", resolution="Disk freed.")
    session.commit()
    notes = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "notify")).all()
    assert {(n.payload["party"], n.payload["event"]) for n in notes} == {
        ("customer", "created"), ("customer", "resolve")}


def test_history_chain_detects_tampering(session, rules, world):
    ticket = submit(session, rules, world, layer="operating_system")
    fire(session, rules, world, "agent@sit.test", ticket, "start_work")
    fire(session, rules, world, "agent@sit.test", ticket, "resolve", resolution="Fixed.")
    session.commit()
    checked, faults = verify_chains(session)
    assert (checked, faults) == (3, [])
    session.execute(update(TicketEvent).where(TicketEvent.seq == 2)
                    .values(data={"resolution": "forged"}))
    session.commit()
    _, faults = verify_chains(session)
    assert [(f.seq, f.reason) for f in faults] == [(2, "content changed after writing")]


def test_history_is_append_only_in_order(session, rules, world):
    ticket = submit(session, rules, world, layer="infrastructure")
    for trigger, fields in [("start_work", {}), ("wait_for_customer", {"comment": "Which pool?"}),
                            ("resume", {}), ("resolve", {"resolution": "Pool fixed."})]:
        fire(session, rules, world, "agent@sit.test", ticket, trigger, **fields)
    fire(session, rules, world, "rep@gst.test", ticket, "confirm")
    session.commit()
    events = tickets.events_of(session, ticket)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6]
    assert events[-1].to_state == "closed"
    assert ticket.sla_pauses and ticket.sla_pauses[0][1] is not None


def test_sla_due_time_is_kept_for_the_queue(session, rules, world):
    ticket = submit(session, rules, world, layer="operating_system", impact=1, urgency=1)
    assert ticket.priority == "P1"
    assert ticket.sla_due_at == NOW + timedelta(minutes=15)  # vagtordning P1: around the clock
    fire(session, rules, world, "agent@sit.test", ticket, "start_work")
    assert ticket.responded_at is not None
    assert ticket.sla_due_at == NOW + timedelta(hours=4)


def test_list_is_keyset_paginated_and_isolated(session, rules, world):
    for n in range(5):
        submit(session, rules, world, title=f"GST {n}", layer="application")
    submit(session, rules, world, email="rep@erst.test", system="virk", title="ERST only")
    session.commit()
    _, gst = world.actor(session, "agent@gst.test")
    page, cursor = tickets.list_tickets(session, rules, gst, tickets.TicketFilters(), limit=2)
    seen = [t.title for t in page]
    while cursor:
        page, cursor = tickets.list_tickets(session, rules, gst, tickets.TicketFilters(),
                                            cursor=cursor, limit=2)
        seen += [t.title for t in page]
    assert seen == ["GST 4", "GST 3", "GST 2", "GST 1", "GST 0"]
    _, sit = world.actor(session, "agent@sit.test")
    found, _ = tickets.list_tickets(session, rules, sit, tickets.TicketFilters(q="erst"))
    assert [t.title for t in found] == ["ERST only"]
    with pytest.raises(ValidationError):
        tickets.list_tickets(session, rules, sit, tickets.TicketFilters(), cursor="!!")


def test_database_backend_is_real(session, backend):
    version = session.execute(text(
        "select version()" if backend == "postgresql" else "select sqlite_version()")).scalar()
    assert ("PostgreSQL" in version) if backend == "postgresql" else version[0] == "3"


def test_an_agent_logs_an_incident_for_a_caller(session, rules, world):
    ticket = submit(session, rules, world, "agent@sit.test", reporter="Rep@GST.test")
    assert ticket.reporter.email == "rep@gst.test"
    created = session.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)).one()
    assert created.actor_id == world.actor(session, "agent@sit.test")[0].id  # who logged it
    assert created.data["reporter"] == "rep@gst.test"
    # the caller follows it as their own: another customer's staff do not see it
    _user, rep = world.actor(session, "rep@gst.test")
    assert tickets.get_ticket(session, rules, rep, ticket.id) is ticket
    _user, stranger = world.actor(session, "rep@erst.test")
    with pytest.raises(NotFound):
        tickets.get_ticket(session, rules, stranger, ticket.id)
    # SIT's own staff may be callers too
    assert submit(session, rules, world, "agent@gst.test",
                  reporter="boss@sit.test").reporter.email == "boss@sit.test"


@pytest.mark.parametrize("caller", ["nobody@gst.test", "rep@erst.test", "sup@supplier.test", 42,
                                    "x" * 300])
def test_a_caller_must_be_a_user_of_the_systems_customer(session, rules, world, caller):
    before = session.scalar(select(func.count()).select_from(Ticket))
    with pytest.raises(ValidationError) as exc:
        submit(session, rules, world, "agent@sit.test", reporter=caller)
    assert list(exc.value.errors) == ["reporter"]
    assert session.scalar(select(func.count()).select_from(Ticket)) == before


def test_only_staff_log_for_someone_else(session, rules, world):
    with pytest.raises(NotPermitted):
        submit(session, rules, world, "rep@gst.test", reporter="boss@gst.test")
