"""QA round 3 on paging, SLA clocks and the report, on both backends: a hand-over after the
on-call person acknowledged pages the new party's on-call (and clears the old party's
acknowledgement), a P1 nobody is called out for (not production) counts business time, two SLA
checks of one ticket falling due together record each breach once, and the monthly report counts
paged incidents, not escalation runs."""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from itilflow.domain import paging as rules_of_paging
from itilflow.domain.access import Actor
from itilflow.domain.parties import Role
from itilflow.jobs import tasks
from itilflow.models import Organisation, OutboxMessage, Ticket, TicketEvent
from itilflow.services import directory, paging, reports, tickets
from itilflow.services.outbox import enqueue
from itilflow.services.sla import sla_of
from tests.paging.conftest import (
    EVENING,
    Receiver,
    drain,
    events,
    fire,
    make_hooks,
    raise_incident,
)
from tests.threaded import at_once

ADMIN = Actor(0, Role.ADMIN, 0)
#: 1 December 2026: the November report is complete
DECEMBER = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def customer_receiver():
    r = Receiver()
    yield r
    r.stop()


def _types(receiver) -> list[str]:
    return [r["body"]["type"] for r in receiver.requests]


def _ticket_view(rt, number, email=None):
    """(paging summary, available transitions of ``email``) as the ticket JSON shows them."""
    with rt.session_factory() as s:
        ticket = tickets.get_ticket(s, rt.rules, ADMIN, number)
        summary = paging.paging_summary(s, ticket)
        offered = []
        if email:
            user = directory.user_by_email(s, email)
            offered = tickets.available_transitions(s, rt.rules, directory.load_actor(s, user),
                                                    ticket)
        return summary, offered


# --- 1: a hand-over after the acknowledgement -----------------------------------------------

def test_handover_after_acknowledgement_pages_the_new_partys_on_call(rt, world, receiver,
                                                                    customer_receiver, relay):
    make_hooks(rt, receiver, delays=(300, 600))                          # SIT: /l1, /l2
    make_hooks(rt, customer_receiver, delays=(300,), party="customer")  # GST: its own
    number = raise_incident(rt)          # no layer: SIT's service desk, SIT's on-call paged
    drain(relay, EVENING)
    fire(rt, number, "acknowledge", now=EVENING + timedelta(minutes=2))
    drain(relay, EVENING + timedelta(minutes=2))
    assert _types(receiver) == ["incident.trigger", "incident.acknowledge"]

    handed = EVENING + timedelta(minutes=10)
    fire(rt, number, "reclassify", now=handed, layer="application", comment="Appen selv")
    drain(relay, handed)
    # SIT's pager incident is closed, the customer's on-call is paged
    assert _types(receiver) == ["incident.trigger", "incident.acknowledge", "incident.resolve"]
    assert _types(customer_receiver) == ["incident.trigger"]
    assert customer_receiver.requests[0]["body"]["ticket"]["responsible_party"] == "customer"
    summary, offered = _ticket_view(rt, number, "agent@gst.test")
    assert summary["acknowledged_at"] is None and summary["party"] == "customer"
    assert summary["escalating"] is True
    assert "acknowledge" in offered          # the customer's own acknowledgement is open

    # the history says so: the hand-over, the acknowledgement cleared, the customer paged
    kinds = [k for k, _t, _d in events(rt, number)]
    assert kinds.index("handover") < kinds.index("acknowledgement_cleared")
    (cleared,) = events(rt, number, "acknowledgement_cleared")
    assert cleared[2]["from_party"] == "provider" and cleared[2]["to_party"] == "customer"
    assert cleared[2]["acknowledged_at"].startswith("2026-11-24T19:02")
    paged = [d for _k, _t, d in events(rt, number, "paging")]
    assert [(d["party"], d["paged"]) for d in paged] == [("provider", True), ("customer", True)]

    # the customer acknowledges: its hook is told, nobody else; SIT's level 2 never fires
    fire(rt, number, "acknowledge", email="agent@gst.test", now=handed + timedelta(minutes=1))
    drain(relay, handed + timedelta(hours=2))
    assert _types(customer_receiver) == ["incident.trigger", "incident.acknowledge"]
    assert receiver.on("/l2") == []
    fire(rt, number, "resolve", email="agent@gst.test", now=handed + timedelta(hours=3),
         resolution="Genstartet")
    drain(relay, handed + timedelta(hours=3))
    assert _types(customer_receiver) == ["incident.trigger", "incident.acknowledge",
                                         "incident.resolve"]
    assert len(receiver.requests) == 3       # SIT's hook got its resolve once, at the hand-over


def test_a_late_call_from_the_old_partys_pager_changes_nothing(rt, world, app, receiver,
                                                              customer_receiver, relay):
    """SIT's on-call acknowledges from the pager after the ticket went to the customer (or
    resolves it from there): the customer's escalation goes on, the ticket stays unresolved,
    the history says why; the customer's own pager still acknowledges."""
    secrets = make_hooks(rt, receiver, delays=(300, 600))
    customer = make_hooks(rt, customer_receiver, delays=(300,), party="customer")
    number = raise_incident(rt)
    drain(relay, EVENING)
    handed = EVENING + timedelta(minutes=10)
    fire(rt, number, "reclassify", now=handed, layer="application", comment="Appen selv")
    drain(relay, handed)
    client = app.test_client()
    key = rules_of_paging.dedup_key(number)
    now = datetime.now(UTC)
    for webhook_id, action in (("late-ack", "acknowledge"), ("late-resolve", "resolve")):
        raw = json.dumps({"dedup_key": key, "action": action}).encode()
        headers = rules_of_paging.signed_headers(secrets["kort-provider-l1"], webhook_id, now, raw)
        answer = client.post("/api/v1/pager/events", data=raw,
                             headers={**headers, "Content-Type": "application/json"})
        assert answer.status_code == 200 and answer.get_json()["applied"] is False
    summary, _offered = _ticket_view(rt, number)
    assert summary["acknowledged_at"] is None and summary["escalating"] is True
    with rt.session_factory() as s:
        assert s.scalar(select(Ticket.state).where(Ticket.id == int(number[-6:]))) != "resolved"
    refused = [d for _k, _t, d in events(rt, number, "pager_event")]
    assert [(d["action"], d["reason"]) for d in refused] == [
        ("acknowledge", paging.HANDED_OVER), ("resolve", paging.HANDED_OVER)]
    # the customer's own pager does acknowledge
    raw = json.dumps({"dedup_key": key, "action": "acknowledge"}).encode()
    (hook_name,) = customer
    headers = rules_of_paging.signed_headers(customer[hook_name], "own-ack", now, raw)
    own = client.post("/api/v1/pager/events", data=raw,
                      headers={**headers, "Content-Type": "application/json"})
    assert own.status_code == 200 and own.get_json()["applied"] is True


def test_handover_after_acknowledgement_in_working_time_clears_it_and_pages_nobody(
        rt, world, receiver, customer_receiver, relay):
    make_hooks(rt, receiver, delays=(300,))
    make_hooks(rt, customer_receiver, delays=(300,), party="customer")
    number = raise_incident(rt)
    drain(relay, EVENING)
    fire(rt, number, "acknowledge", now=EVENING + timedelta(minutes=2))
    morning = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)   # 09:00 in Copenhagen: working time
    fire(rt, number, "reclassify", now=morning, layer="middleware")
    drain(relay, morning)
    assert _types(receiver) == ["incident.trigger", "incident.acknowledge", "incident.resolve"]
    assert customer_receiver.requests == []              # the queue has it
    summary, offered = _ticket_view(rt, number, "agent@gst.test")
    assert summary["acknowledged_at"] is None and "acknowledge" in offered


def test_reclassify_within_the_party_keeps_the_acknowledgement(rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(300,))
    number = raise_incident(rt, layer="operating_system")
    drain(relay, EVENING)
    fire(rt, number, "acknowledge", now=EVENING + timedelta(minutes=2))
    fire(rt, number, "reclassify", now=EVENING + timedelta(minutes=5), layer="infrastructure")
    drain(relay, EVENING + timedelta(hours=1))
    assert _types(receiver) == ["incident.trigger", "incident.acknowledge"]
    summary, offered = _ticket_view(rt, number, "agent@sit.test")
    assert summary["acknowledged_at"] is not None and "acknowledge" not in offered
    assert events(rt, number, "acknowledgement_cleared") == []


# --- 5: the around-the-clock clock only where on-call covers the ticket ----------------------

@pytest.mark.parametrize(("environment", "priority", "vagtordning", "covered"), [
    ("production", "P1", True, True),
    ("production", "P2", True, True),
    ("test", "P1", True, False),
    ("production", "P3", True, False),
    ("production", "P1", False, False),
])
def test_one_rule_says_where_vagtordning_covers_a_ticket(environment, priority, vagtordning,
                                                         covered):
    assert rules_of_paging.vagtordning_covers(
        kind="incident", priority=priority, environment=environment, vagtordning=vagtordning,
        page_priorities={"P1", "P2"}) is covered


def _sla(rt, number, now, rules=None):
    with rt.session_factory() as s:
        return sla_of(rules or rt.rules, tickets.get_ticket(s, rt.rules, ADMIN, number), now)


def test_a_p1_on_the_test_environment_counts_business_time(rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(300,))
    test_env = raise_incident(rt, environment="test", layer="operating_system")
    production = raise_incident(rt, layer="operating_system")
    status = _sla(rt, test_env, EVENING)
    assert status.clock == "business_hours"
    # 08:15 the next working morning in Copenhagen (15 business minutes)
    assert status.response_due_at == datetime(2026, 11, 25, 7, 15, tzinfo=UTC)
    assert _sla(rt, production, EVENING).clock == "around_the_clock"
    # the queue's due time too, and no breach recorded overnight for the test one
    with rt.session_factory() as s:
        due = s.scalar(select(Ticket.sla_due_at).where(Ticket.id == int(test_env[4:])))
    assert due.astimezone(UTC) == datetime(2026, 11, 25, 7, 15, tzinfo=UTC)
    drain(relay, EVENING + timedelta(hours=6))
    assert events(rt, test_env, "sla_breach") == []
    assert len(events(rt, production, "sla_breach")) == 2
    assert len(receiver.requests) == 1   # only production paged


def test_the_clock_follows_the_paging_priorities(rt, world):
    number = raise_incident(rt, layer="operating_system", impact=1, urgency=2)   # P2
    assert _sla(rt, number, EVENING).clock == "around_the_clock"
    only_p1 = replace(rt.rules, page_priorities=frozenset({"P1"}))
    assert _sla(rt, number, EVENING, rules=only_p1).clock == "business_hours"


def test_the_report_measures_a_test_environment_p1_in_business_time(rt, world):
    number = raise_incident(rt, environment="test", layer="operating_system")
    # answered 08:10 and resolved 10:00 the next morning: both within business-time targets
    fire(rt, number, "start_work", now=datetime(2026, 11, 25, 7, 10, tzinfo=UTC))
    fire(rt, number, "resolve", now=datetime(2026, 11, 25, 9, 0, tzinfo=UTC),
         resolution="Genstartet")
    with rt.session_factory() as s:
        gst = s.scalar(select(Organisation).where(Organisation.name == "GST"))
        report = reports.build_report(s, rt.rules, gst, 2026, 11, now=DECEMBER)
    p1 = report["incidents"]["sla"]["P1"]
    assert (p1["total"], p1["response_met"], p1["response_breached"]) == (1, 1, 0)
    assert (p1["resolution_met"], p1["resolution_breached"]) == (1, 0)


# --- 8: two SLA checks of one ticket at once ------------------------------------------------

def test_two_sla_checks_at_once_record_each_breach_once(rt, world, ctx, monkeypatch):
    number = raise_incident(rt, layer="operating_system")   # P1 around the clock: due 19:15
    ticket_id = int(number[4:])
    with rt.session_factory() as s:
        enqueue(s, "sla_check", {"ticket_id": ticket_id}, now=EVENING,
                due_at=EVENING + timedelta(minutes=15), ticket_id=ticket_id,
                message_id=f"sla_{ticket_id}_second")
        s.commit()
        checks = [(m, a) for m, a in s.execute(
            select(OutboxMessage.message_id, OutboxMessage.attempts)
            .where(OutboxMessage.topic == "sla_check"))]
    assert len(checks) == 2

    # both checks read the ticket's SLA together, then go on: without the ticket's row lock
    # each then reads "nothing recorded yet"; with it the second waits for the first to commit
    barrier = threading.Barrier(2)
    real_sla_of = paging.sla_of

    def sla_of_together(*args, **kwargs):
        # broken: the other one waits for the lock this one holds
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=2)
        return real_sla_of(*args, **kwargs)

    monkeypatch.setattr(paging, "sla_of", sla_of_together)
    late = EVENING + timedelta(hours=5)
    results = at_once([lambda m=m, a=a: tasks.execute(ctx, m, a, now=late) for m, a in checks])
    assert sorted(results) == ["breached", "ok"]
    breaches = [d["target"] for _k, _t, d in events(rt, number, "sla_breach")]
    assert sorted(breaches) == ["resolution", "response"]
    with rt.session_factory() as s:
        notices = [m.payload["target"] for m in s.scalars(
            select(OutboxMessage).where(OutboxMessage.topic == "notify"))
            if m.payload.get("event") == "sla_breach"]
        assert sorted(notices) == ["resolution", "response"]
        assert s.scalar(select(func.count()).select_from(TicketEvent)
                        .where(TicketEvent.kind == "sla_breach")) == 2


# --- 10: the report counts paged incidents --------------------------------------------------

def test_report_counts_paged_incidents_not_escalation_runs(rt, world, receiver,
                                                           customer_receiver, relay):
    make_hooks(rt, receiver, delays=(300,))
    make_hooks(rt, customer_receiver, delays=(300,), party="customer")
    handed = raise_incident(rt)                               # SIT's run, then the customer's
    drain(relay, EVENING)
    fire(rt, handed, "acknowledge", now=EVENING + timedelta(minutes=5))
    fire(rt, handed, "reclassify", now=EVENING + timedelta(minutes=10), layer="application")
    drain(relay, EVENING + timedelta(minutes=10))
    fire(rt, handed, "acknowledge", email="agent@gst.test",
         now=EVENING + timedelta(minutes=13))
    raise_incident(rt, layer="operating_system", now=EVENING + timedelta(hours=1))  # one run
    drain(relay, EVENING + timedelta(hours=1))
    with rt.session_factory() as s:
        gst = s.scalar(select(Organisation).where(Organisation.name == "GST"))
        paging_figures = reports.build_report(s, rt.rules, gst, 2026, 11, now=DECEMBER)["paging"]
    assert paging_figures["sent"] == 3                   # three trigger pages
    assert paging_figures["paged_incidents"] == 2        # two incidents (three runs)
    assert paging_figures["acknowledged"] == 1           # one incident acknowledged ...
    # ... by each party's on-call: 5 and 3 minutes after its run began
    assert paging_figures["time_to_acknowledge"] == {"count": 2, "mean_seconds": 240.0,
                                                     "median_seconds": 240.0}
