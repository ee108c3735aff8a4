"""Who answers a consultation, and when it is offered, through the services on real databases:
only the consulted organisation itself (never its supplier, never SIT), only while one of its
consultations is open, with the open stages as the form's choices; the page of tickets gives
the same answer as the single ticket."""

from __future__ import annotations

import pytest

from itilflow.domain.errors import InvalidTransition, NotPermitted
from itilflow.models import Consultation, Ticket
from itilflow.services import ticket_pages, tickets
from tests.changes.common import available, fire, notices, submit_change
from tests.changes.test_changes import approved_os_change

ANSWERERS = ("agent@gst.test", "boss@gst.test")
NOT_ANSWERERS = ("sup@supplier.test", "agent@sit.test", "boss@sit.test", "rep@gst.test")
EVERYONE = ANSWERERS + NOT_ANSWERERS


def offered(session, rules, world, email, ticket):
    return "answer_consultation" in available(session, rules, world, email, ticket)


def stage_choices(session, rules, world, email, ticket, trigger="answer_consultation"):
    _, ctx = world.actor(session, email)
    spec = next(s for s in tickets.available_specs(session, rules, ctx, ticket)
                if s.trigger == trigger)
    return spec.field("stage").choices


def same_on_a_page(session, rules, world, *rows):
    for email in EVERYONE:
        _, ctx = world.actor(session, email)
        many = ticket_pages.available_transitions_many(session, rules, ctx, list(rows))
        for row in rows:
            assert many[row.id] == tickets.available_transitions(session, rules, ctx, row), email


def test_nothing_to_answer_before_the_question_or_after_the_answer(session, rules, world):
    change = approved_os_change(session, rules, world)
    for email in EVERYONE:
        assert not offered(session, rules, world, email, change), email
    with pytest.raises(InvalidTransition, match="No consultation of the customer is open"):
        fire(session, rules, world, "agent@gst.test", change, "answer_consultation",
             stage="installation_test", answer="Yes")
    fire(session, rules, world, "agent@sit.test", change, "consult", stage="installation_test",
         question="Tuesday?")
    assert [e for e in EVERYONE if offered(session, rules, world, e, change)] == list(ANSWERERS)
    fire(session, rules, world, "boss@gst.test", change, "answer_consultation",
         stage="installation_test", answer="Yes.")
    for email in EVERYONE:
        assert not offered(session, rules, world, email, change), email
    with pytest.raises(InvalidTransition):
        fire(session, rules, world, "agent@gst.test", change, "answer_consultation",
             stage="installation_test", answer="Yes again.")


def test_a_supplier_cannot_give_the_customers_answer(session, rules, world):
    change = approved_os_change(session, rules, world)
    fire(session, rules, world, "agent@sit.test", change, "consult", stage="installation_test",
         question="May we reboot both nodes on Tuesday?")
    assert not offered(session, rules, world, "sup@supplier.test", change)
    version = change.version
    with pytest.raises(NotPermitted, match="only the customer itself") as refused:
        fire(session, rules, world, "sup@supplier.test", change, "answer_consultation",
             stage="installation_test", answer="Sure.")
    assert refused.value.status == 403
    assert change.version == version
    assert session.query(Consultation).filter(Consultation.answered_at.is_not(None)).count() == 0
    # SIT's gate stays shut until the customer itself answers
    assert "start_installation_test" not in available(session, rules, world, "agent@sit.test",
                                                      change)
    fire(session, rules, world, "agent@gst.test", change, "answer_consultation",
         stage="installation_test", answer="Yes, after 18:00.")
    assert "start_installation_test" in available(session, rules, world, "agent@sit.test", change)


def test_the_answer_form_lists_the_stages_asked(session, rules, world):
    change = approved_os_change(session, rules, world)
    fire(session, rules, world, "agent@sit.test", change, "consult", stage="operational_test",
         question="Operational test next week?")
    fire(session, rules, world, "agent@sit.test", change, "consult", stage="installation_test",
         question="Tuesday?")
    assert stage_choices(session, rules, world, "agent@gst.test", change) == (
        "installation_test", "operational_test")  # the workflow's order
    # the seven stages with someone to ask, but the two whose question stands
    asked = stage_choices(session, rules, world, "agent@sit.test", change, "consult")
    assert len(asked) == 5 and not {"installation_test", "operational_test"} & set(asked)
    fire(session, rules, world, "agent@gst.test", change, "answer_consultation",
         stage="installation_test", answer="Yes.")
    assert stage_choices(session, rules, world, "boss@gst.test", change) == ("operational_test",)
    with pytest.raises(InvalidTransition, match="No open consultation of the customer on "
                                                "Acceptance test"):
        fire(session, rules, world, "agent@gst.test", change, "answer_consultation",
             stage="acceptance_test", answer="Yes.")


def test_a_page_of_tickets_offers_the_same(session, rules, world):
    asked = approved_os_change(session, rules, world)
    fire(session, rules, world, "agent@sit.test", asked, "consult", stage="installation_test",
         question="Tuesday?")
    answered = approved_os_change(session, rules, world)
    fire(session, rules, world, "agent@sit.test", answered, "consult", stage="installation_test",
         question="Tuesday?")
    fire(session, rules, world, "agent@gst.test", answered, "answer_consultation",
         stage="installation_test", answer="Yes.")
    not_asked = approved_os_change(session, rules, world)
    session.commit()
    session.expunge_all()
    rows = list(session.query(Ticket).order_by(Ticket.id))
    same_on_a_page(session, rules, world, *rows)
    _, gst = world.actor(session, "agent@gst.test")
    many = ticket_pages.available_transitions_many(session, rules, gst, rows)
    assert ["answer_consultation" in many[t.id] for t in (asked, answered, not_asked)] == [
        True, False, False]


def test_consult_is_not_offered_where_nobody_is_consulted(session, rules, world):
    change = submit_change(session, rules, world, "agent@gst.test", layer="application")
    fire(session, rules, world, "agent@gst.test", change, "assess")
    assert "consult" not in available(session, rules, world, "agent@gst.test", change)
    with pytest.raises(InvalidTransition, match="Nobody is consulted"):
        fire(session, rules, world, "agent@gst.test", change, "consult", stage="design",
             question="Anyone?")
    assert notices(session, change, "consultation") == []
