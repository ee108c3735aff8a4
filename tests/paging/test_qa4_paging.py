"""QA round 4 on paging, on both backends: a covered incident left unacknowledged in working
time is paged when the working window ends (16:00, or a closure from noon) (5c); a ticket
waiting in an SLA-paused state is not paged, and is decided again when it leaves that state
(5b); a person's acknowledgement is recorded with who gave it (6)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from itilflow.domain.access import Actor
from itilflow.domain.calendar import BusinessCalendar
from itilflow.domain.parties import Role
from itilflow.jobs.context import JobContext
from itilflow.jobs.relay import Relay
from itilflow.models import OutboxMessage
from itilflow.services import paging, tickets
from tests.paging.conftest import EVENING, drain, events, fire, make_hooks, raise_incident

ADMIN = Actor(0, Role.ADMIN, 0)
#: Tuesday 24 November 2026 in Copenhagen (UTC+1): 10:00, and the end of the working day
MORNING = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
FOUR_PM = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)


def _types(receiver) -> list[str]:
    return [r["body"]["type"] for r in receiver.requests]


def _summary(rt, number):
    with rt.session_factory() as s:
        return paging.paging_summary(s, tickets.get_ticket(s, rt.rules, ADMIN, number))


def _decisions(rt) -> list[OutboxMessage]:
    with rt.session_factory() as s:
        return list(s.scalars(select(OutboxMessage)
                              .where(OutboxMessage.topic == paging.PAGE_DECISION)
                              .order_by(OutboxMessage.id)))


# --- 5c: decided again when working time ends ------------------------------------------------

def test_an_unacknowledged_p1_raised_in_working_time_is_paged_at_16(rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(300,))
    number = raise_incident(rt, now=MORNING, layer="operating_system")
    drain(relay, MORNING)
    assert receiver.requests == []                       # working time: the queue has it
    (row,) = _decisions(rt)
    assert row.due_at.astimezone(UTC) == FOUR_PM and row.status == "pending"
    drain(relay, FOUR_PM - timedelta(seconds=1))
    assert receiver.requests == []
    drain(relay, FOUR_PM)
    assert _types(receiver) == ["incident.trigger"]
    assert receiver.requests[0]["body"]["ticket"]["number"] == number
    paged = [d for _k, _t, d in events(rt, number, "paging")]
    assert [(d["party"], d["paged"]) for d in paged] == [("provider", True)]
    # the history says why a ticket raised in working time pages now
    assert paged[0]["reason"] == ("working time ended, nobody acknowledged: paging the on-call "
                                  "of the provider")
    summary = _summary(rt, number)
    assert summary["escalating"] is True and summary["party"] == "provider"
    assert [r.status for r in _decisions(rt)] == ["done"]


def test_a_closure_from_noon_ends_the_window_at_noon(rt, world, receiver, monkeypatch):
    """QA's reproduction: a P1 at 11:39 on a day closed from 12:00 is paged at 12:00."""
    closed = BusinessCalendar.from_settings(
        timezone="Europe/Copenhagen", working_hours="mon-fri 08:00-16:00", holidays="DK",
        closed_days="2026-11-24 from 12:00")
    monkeypatch.setattr(rt, "rules", replace(rt.rules, calendar=closed))
    relay = Relay(JobContext(session_factory=rt.session_factory, rules=rt.rules,
                             settings=rt.settings))
    make_hooks(rt, receiver, delays=(300,))
    raised = datetime(2026, 11, 24, 10, 39, tzinfo=UTC)          # 11:39 in Copenhagen
    noon = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)
    number = raise_incident(rt, now=raised, layer="operating_system")
    drain(relay, noon - timedelta(seconds=1))
    assert receiver.requests == []
    drain(relay, noon)
    assert _types(receiver) == ["incident.trigger"]
    assert _summary(rt, number)["escalating"] is True


@pytest.mark.parametrize("meanwhile", ["acknowledge", "resolve", "lowered", "cancel"])
def test_nothing_is_paged_at_16_for_a_ticket_dealt_with_meanwhile(rt, world, receiver, relay,
                                                                  meanwhile):
    make_hooks(rt, receiver, delays=(300,))
    number = raise_incident(rt, now=MORNING, layer="operating_system")
    later = MORNING + timedelta(hours=1)
    if meanwhile == "acknowledge":
        fire(rt, number, "acknowledge", now=later)
    elif meanwhile == "resolve":
        fire(rt, number, "resolve", now=later, resolution="Genstartet")
    elif meanwhile == "cancel":
        fire(rt, number, "cancel", now=later, comment="Fejlmelding")
    else:                                                 # P1 -> P3: on-call does not cover it
        fire(rt, number, "reprioritise", now=later, impact=2, urgency=2, comment="Kun én side")
    drain(relay, FOUR_PM + timedelta(hours=1))
    assert receiver.requests == []
    assert [d for _k, _t, d in events(rt, number, "paging")] == []
    assert [r.status for r in _decisions(rt)] == ["done"]


def test_one_decision_per_window_however_often_the_ticket_changes(rt, world, receiver, relay,
                                                                 ctx):
    make_hooks(rt, receiver, delays=(300,))
    number = raise_incident(rt, now=MORNING, layer="operating_system")
    fire(rt, number, "reprioritise", now=MORNING + timedelta(hours=1), impact=1, urgency=2,
         comment="P2 er nok")
    fire(rt, number, "reprioritise", now=MORNING + timedelta(hours=2), impact=1, urgency=1,
         comment="Alligevel P1")
    (row,) = _decisions(rt)
    drain(relay, FOUR_PM)
    assert _types(receiver) == ["incident.trigger"]
    # the decision run again (a stale RQ job, a second relay) starts nothing more
    with rt.session_factory() as s:
        assert paging.end_of_window(s, rt.rules, row.ticket_id, FOUR_PM) == "escalating"
        s.commit()
    drain(relay, FOUR_PM)
    assert _types(receiver) == ["incident.trigger"]
    assert len(events(rt, number, "paging")) == 1


def test_a_p1_raised_after_hours_schedules_no_decision(rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(300,))
    raise_incident(rt, now=EVENING, layer="operating_system")      # paged at once
    raise_incident(rt, now=MORNING, environment="test")             # not covered
    raise_incident(rt, now=MORNING, system="arkiv")                 # no vagtordning
    raise_incident(rt, now=MORNING, impact=3, urgency=3)            # P5
    assert _decisions(rt) == []


def test_a_handover_in_working_time_pages_the_new_party_at_16(rt, world, receiver, relay):
    from tests.paging.conftest import Receiver

    customer = Receiver()
    try:
        make_hooks(rt, receiver, delays=(300,))
        make_hooks(rt, customer, delays=(300,), party="customer")
        number = raise_incident(rt, now=MORNING, layer="operating_system")
        fire(rt, number, "reclassify", now=MORNING + timedelta(hours=1), layer="application",
             comment="Appen selv")
        drain(relay, FOUR_PM)
        assert receiver.requests == []
        assert _types(customer) == ["incident.trigger"]
        assert _summary(rt, number)["party"] == "customer"
    finally:
        customer.stop()


# --- 5b: not paged while waiting (SLA paused); decided when it leaves that state -------------

def _waiting_p3(rt, now):
    number = raise_incident(rt, now=now, layer="operating_system", impact=2, urgency=2)  # P3
    fire(rt, number, "start_work", now=now)
    fire(rt, number, "wait_for_customer", now=now, comment="Send logs please")
    return number


def test_raising_the_priority_of_a_waiting_ticket_pages_nobody_until_work_resumes(
        rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(300,))
    number = _waiting_p3(rt, EVENING)
    fire(rt, number, "reprioritise", now=EVENING + timedelta(minutes=5), impact=1, urgency=2,
         comment="Hele tjenesten")                                   # P2, at night
    drain(relay, EVENING + timedelta(hours=1))
    assert receiver.requests == []
    assert _summary(rt, number)["escalating"] is False
    (waiting,) = [d for _k, _t, d in events(rt, number, "paging")]
    assert waiting["paged"] is False and waiting["reason"] == paging.WAITING_NOT_PAGED
    assert waiting["state"] == "waiting_customer"

    # the customer answers (a comment fires customer_answered): back to work, paged now
    answered = EVENING + timedelta(hours=2)
    fire(rt, number, "customer_answered", email="rep@gst.test", now=answered,
         comment="Logs attached")
    drain(relay, answered)
    assert _types(receiver) == ["incident.trigger"]
    paged = [(d["paged"], d["party"]) for _k, _t, d in events(rt, number, "paging")]
    assert paged == [(False, "provider"), (True, "provider")]


def test_resume_after_a_wait_pages_after_hours(rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(300,))
    number = _waiting_p3(rt, EVENING)
    fire(rt, number, "reprioritise", now=EVENING, impact=1, urgency=1, comment="Nede")
    drain(relay, EVENING)
    assert receiver.requests == []
    fire(rt, number, "resume", now=EVENING + timedelta(minutes=30))
    drain(relay, EVENING + timedelta(minutes=30))
    assert _types(receiver) == ["incident.trigger"]
    # and nothing more on later steps of the same ticket
    fire(rt, number, "assign", now=EVENING + timedelta(minutes=40), assignee="agent2@sit.test")
    drain(relay, EVENING + timedelta(minutes=40))
    assert _types(receiver) == ["incident.trigger"]


def test_leaving_a_wait_in_working_time_is_decided_again_at_16(rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(300,))
    number = _waiting_p3(rt, MORNING)
    fire(rt, number, "reprioritise", now=MORNING, impact=1, urgency=1, comment="Nede")
    assert _decisions(rt) == []                 # waiting: decided when it leaves that state
    fire(rt, number, "resume", now=MORNING + timedelta(hours=1))
    drain(relay, MORNING + timedelta(hours=1))
    assert receiver.requests == []              # working time
    drain(relay, FOUR_PM)
    assert _types(receiver) == ["incident.trigger"]


def test_a_ticket_that_went_waiting_is_not_paged_at_16(rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(300,))
    number = raise_incident(rt, now=MORNING, layer="operating_system")
    fire(rt, number, "start_work", now=MORNING)
    fire(rt, number, "wait_for_customer", now=MORNING + timedelta(hours=1), comment="Logs?")
    drain(relay, FOUR_PM)
    assert receiver.requests == []
    (waiting,) = [d for _k, _t, d in events(rt, number, "paging")]
    assert waiting["reason"] == paging.WAITING_NOT_PAGED
    fire(rt, number, "resume", now=FOUR_PM + timedelta(hours=1))
    drain(relay, FOUR_PM + timedelta(hours=1))
    assert _types(receiver) == ["incident.trigger"]


# --- 6: who acknowledged --------------------------------------------------------------------

def test_a_persons_acknowledgement_records_who(rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(300,))
    number = raise_incident(rt, layer="operating_system")
    drain(relay, EVENING)
    fire(rt, number, "acknowledge", email="agent2@sit.test", now=EVENING + timedelta(minutes=3))
    summary = _summary(rt, number)
    assert summary["acknowledged_by"] == "agent2@sit.test"
    assert summary["acknowledged_at"] is not None and summary["escalating"] is False


def test_an_acknowledgement_with_no_escalation_running_records_who(rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(300,))
    number = raise_incident(rt, now=MORNING, layer="operating_system")   # working time: no page
    fire(rt, number, "acknowledge", email="agent2@sit.test", now=MORNING + timedelta(minutes=3))
    summary = _summary(rt, number)
    assert summary["pages"] == [] and summary["escalating"] is False
    assert summary["acknowledged_by"] == "agent2@sit.test"
    # the acknowledgement was SIT's: handed over to the customer, nobody has acknowledged it
    fire(rt, number, "reclassify", now=MORNING + timedelta(hours=1), layer="application",
         comment="Appen selv")
    summary = _summary(rt, number)
    assert summary["acknowledged_at"] is None and summary["acknowledged_by"] is None
