"""The notify points beyond the I parties, on real databases: who gets a notification row
(through the outbox, delivered to the organisation's inbox) when a ticket waits for the
customer, when the customer answers it, when it is handed over, and when a party is consulted.
Each test asserts exactly the rows it expects: no more, no fewer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from itilflow.domain.errors import InvalidTransition
from itilflow.models import Organisation, OutboxMessage, Ticket
from itilflow.models.paging import Notification
from itilflow.services import notifications, tickets
from tests.changes.common import fire, submit_change
from tests.conftest import WORK_TIME

NOW = WORK_TIME


def submit(session, rules, world, email="rep@gst.test", **fields):
    user, ctx = world.actor(session, email)
    data = {"system": "kort", "environment": "production", "title": "Map tiles time out",
            "description": "GetMap requests time out.", "impact": 2, "urgency": 2, **fields}
    return tickets.submit_incident(session, rules, user, ctx, data, now=NOW)


def comment(session, rules, world, email, ticket, body):
    user, ctx = world.actor(session, email)
    return tickets.add_comment(session, rules, user, ctx, ticket.id, body,
                               now=NOW + timedelta(minutes=10))


class Inbox:
    """The notify rows of one ticket, as they reach the organisations' inboxes."""

    def __init__(self, session, ticket: Ticket) -> None:
        self.session, self.ticket, self.seen = session, ticket, 0

    def new(self) -> list[tuple[str, str, str]]:
        """(organisation, party, event) of the rows written since the last call, delivered."""
        session = self.session
        session.flush()
        rows = list(session.scalars(select(OutboxMessage).where(
            OutboxMessage.topic == "notify", OutboxMessage.ticket_id == self.ticket.id)
            .order_by(OutboxMessage.id)))[self.seen:]
        self.seen += len(rows)
        notifications.deliver_in_app_many(session, [(r.message_id, r.payload) for r in rows],
                                          NOW)
        found = []
        for row in rows:
            note = session.scalar(select(Notification)
                                  .where(Notification.message_id == row.message_id))
            org = session.get(Organisation, note.organisation_id)
            found.append((org.name, note.party, note.event))
        return sorted(found)

    def payloads(self, event: str) -> list[dict]:
        return [r.payload for r in self.session.scalars(select(OutboxMessage).where(
            OutboxMessage.topic == "notify", OutboxMessage.ticket_id == self.ticket.id))
            if r.payload["event"] == event]


def working_on_it(session, rules, world, **fields):
    ticket = submit(session, rules, world, layer="operating_system", **fields)
    inbox = Inbox(session, ticket)
    assert inbox.new() == [("GST", "customer", "created")]  # the customer is I of OS incidents
    fire(session, rules, world, "agent@sit.test", ticket, "start_work")
    assert inbox.new() == []
    return ticket, inbox


def test_waiting_for_the_customer_asks_the_reporters_side(session, rules, world):
    ticket, inbox = working_on_it(session, rules, world)
    fire(session, rules, world, "agent@sit.test", ticket, "wait_for_customer",
         comment="Please send the logs.")
    assert ticket.state == "waiting_customer"
    assert inbox.new() == [("GST", "customer", "wait_for_customer")]
    assert inbox.payloads("wait_for_customer")[0]["comment"] == "Please send the logs."


def test_sits_own_ticket_waits_for_sit(session, rules, world):
    """The reporter's side is the reporter's organisation: SIT staff's own ticket asks SIT."""
    ticket = submit(session, rules, world, email="agent2@sit.test", layer="operating_system")
    inbox = Inbox(session, ticket)
    inbox.new()
    fire(session, rules, world, "agent@sit.test", ticket, "start_work")
    fire(session, rules, world, "agent@sit.test", ticket, "wait_for_customer", comment="Which?")
    assert inbox.new() == [("SIT", "provider", "wait_for_customer")]


def test_the_customers_answer_by_comment_tells_the_working_party(session, rules, world):
    ticket, inbox = working_on_it(session, rules, world)
    comment(session, rules, world, "rep@gst.test", ticket, "Not waiting yet: nobody is told.")
    assert inbox.new() == []
    fire(session, rules, world, "agent@sit.test", ticket, "wait_for_customer",
         comment="Please send the logs.")
    inbox.new()
    comment(session, rules, world, "agent@sit.test", ticket, "The working party's own note.")
    assert inbox.new() == []
    assert ticket.state == "waiting_customer"
    # the reporter's answer puts the ticket back to work (tests/services/test_customer_reply.py)
    comment(session, rules, world, "rep@gst.test", ticket, "Logs attached.")
    assert inbox.new() == [("SIT", "provider", "customer_answered")]
    assert inbox.payloads("customer_answered")[0]["comment"] == "Logs attached."
    assert ticket.state == "in_progress"
    # the customer's agent may answer for the customer: SIT is told, resuming stays its step
    fire(session, rules, world, "agent@sit.test", ticket, "wait_for_customer",
         comment="And the config?")
    inbox.new()
    comment(session, rules, world, "agent@gst.test", ticket, "And the config.")
    assert inbox.new() == [("SIT", "provider", "reply")]
    assert ticket.state == "waiting_customer"
    fire(session, rules, world, "agent@sit.test", ticket, "resume")
    comment(session, rules, world, "rep@gst.test", ticket, "Thanks.")
    assert inbox.new() == []


def test_a_hand_over_tells_the_party_that_now_has_it(session, rules, world):
    ticket = submit(session, rules, world)  # layer unknown: SIT triages, the customer is I
    inbox = Inbox(session, ticket)
    assert inbox.new() == [("GST", "customer", "created")]
    fire(session, rules, world, "agent@sit.test", ticket, "reclassify", layer="application",
         comment="The WMS application itself fails.")
    assert inbox.new() == [("GST", "customer", "reclassify")]
    told = inbox.payloads("reclassify")[0]
    assert (told["from_party"], told["to_party"]) == ("provider", "customer")
    # back to SIT: SIT has it now, and the customer is I of OS incidents
    fire(session, rules, world, "agent@gst.test", ticket, "reclassify",
         layer="operating_system", comment="It is the disk after all.")
    assert inbox.new() == [("GST", "customer", "reclassify"), ("SIT", "provider", "reclassify")]
    # a new layer with the same party is no hand-over: nobody is told
    fire(session, rules, world, "agent@sit.test", ticket, "reclassify", layer="infrastructure")
    assert inbox.new() == []


def test_a_consultation_asks_the_consulted_party(session, rules, world):
    change = submit_change(session, rules, world)
    inbox = Inbox(session, change)
    inbox.new()
    fire(session, rules, world, "agent@sit.test", change, "assess")
    fire(session, rules, world, "agent@sit.test", change, "consult", stage="installation_test",
         question="May we run the installation test on Tuesday?")
    assert inbox.new() == [("GST", "customer", "consultation")]
    asked = inbox.payloads("consultation")[0]
    assert (asked["stage"], asked["question"]) == (
        "installation_test", "May we run the installation test on Tuesday?")


def test_acknowledge_once_no_repeated_event_or_version(session, rules, world):
    ticket, _ = working_on_it(session, rules, world)
    fire(session, rules, world, "agent@sit.test", ticket, "acknowledge")
    session.flush()
    version, events = ticket.version, len(tickets.events_of(session, ticket))
    _, ctx = world.actor(session, "agent@sit.test")
    assert "acknowledge" not in tickets.available_transitions(session, rules, ctx, ticket)
    with pytest.raises(InvalidTransition, match="already acknowledged") as refused:
        fire(session, rules, world, "agent@sit.test", ticket, "acknowledge")
    assert refused.value.status == 409
    session.flush()
    assert (ticket.version, len(tickets.events_of(session, ticket))) == (version, events)


def _mailed(session, ticket: Ticket) -> list[str]:
    """Whom the ticket's customer notification mails (``deliver_in_app``'s recipients)."""
    [row] = session.scalars(select(OutboxMessage).where(
        OutboxMessage.topic == "notify", OutboxMessage.ticket_id == ticket.id))
    _note, recipients = notifications.deliver_in_app(session, row.message_id, row.payload, NOW)
    return sorted(r.email for r in recipients)


@pytest.mark.parametrize("caller", ["rep@gst.test", None])
def test_sit_logging_into_the_customers_queue_tells_the_customer(session, rules, world, caller):
    """SIT logs an application incident (the customer is R), for a caller or not: the customer
    is told it has the ticket, as on a hand-over, and the caller with it; SIT is not told of
    what it did itself, nor mailed as the customer's reporter."""
    fields = {"reporter": caller} if caller else {}
    ticket = submit(session, rules, world, email="agent@sit.test", layer="application", **fields)
    assert ticket.responsible_party == "customer"
    inbox = Inbox(session, ticket)
    assert inbox.new() == [("GST", "customer", "created")]
    [told] = inbox.payloads("created")
    assert told["to_party"] == "customer"
    assert notifications.message_text(told, rules) == (
        f"{told['number']} Map tiles time out was raised by agent@sit.test for your "
        "organisation, which works it; it is now New.")
    # and the customer's supplier on kort, which works the customer's queue there (its R)
    assert _mailed(session, ticket) == sorted(
        ["agent@gst.test", "boss@gst.test", "sup@supplier.test", *([caller] if caller else [])])


def test_sit_logging_into_its_own_queue_tells_only_the_informed(session, rules, world):
    ticket = submit(session, rules, world, email="agent@sit.test")  # no layer: SIT triages
    assert Inbox(session, ticket).new() == [("GST", "customer", "created")]
    assert "to_party" not in Inbox(session, ticket).payloads("created")[0]
    assert _mailed(session, ticket) == ["agent@gst.test", "boss@gst.test"]


def test_a_customers_own_incident_in_its_own_queue_tells_nobody(session, rules, world):
    ticket = submit(session, rules, world, layer="application")
    assert ticket.responsible_party == "customer"
    assert Inbox(session, ticket).new() == []
