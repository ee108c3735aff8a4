"""The customer's answer resumes the work: a comment from the reporter's side on a ticket that
waits for it fires the waiting state's ``answered_by`` trigger (``customer_answered``) through
the normal transition path, on real databases: the history says so, the SLA clock runs again,
the working party is told once. The working party's own note, a comment in another state, and
an answer from someone who may not fire the trigger change no state."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from itilflow.domain.errors import ConfigError, ValidationError
from itilflow.domain.workflow import load_workflow
from itilflow.models import OutboxMessage
from itilflow.services import directory, notifications, tickets
from itilflow.services.sla import sla_of
from itilflow.settings import PROJECT_ROOT
from tests.api.conftest import Api, make_tokens
from tests.conftest import PASSWORD, WORK_TIME

NOW = WORK_TIME
ASKED = NOW + timedelta(minutes=10)
ANSWERED = NOW + timedelta(minutes=40)  # 30 minutes waiting for the customer
INCIDENT_YAML = PROJECT_ROOT / "workflows" / "incident.yaml"


def step(session, rules, world, email, ticket, trigger, at, **fields):
    user, ctx = world.actor(session, email)
    return tickets.fire_transition(session, rules, user, ctx, ticket.id, trigger, fields, now=at)


def comment(session, rules, world, email, ticket, body, at=ANSWERED):
    user, ctx = world.actor(session, email)
    return tickets.add_comment(session, rules, user, ctx, ticket.id, body, now=at)


def notices_after(session, ticket, seen: int) -> list[dict]:
    """The notify payloads written for the ticket after the first ``seen`` of them."""
    session.flush()
    return [r.payload for r in session.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == "notify",
                                    OutboxMessage.ticket_id == ticket.id)
        .order_by(OutboxMessage.id))][seen:]


def count_notices(session, ticket) -> int:
    return len(notices_after(session, ticket, 0))


def waiting(session, rules, world):
    """A P1 OS incident on a system with vagtordning (its clock runs around the clock, so the
    pause moves the due time by exactly the time waited), SIT working it and asking GST."""
    user, ctx = world.actor(session, "rep@gst.test")
    ticket = tickets.submit_incident(session, rules, user, ctx, {
        "system": "kort", "environment": "production", "layer": "operating_system",
        "title": "Map tiles time out", "description": "GetMap requests time out.",
        "impact": 1, "urgency": 1}, now=NOW)
    step(session, rules, world, "agent@sit.test", ticket, "start_work", NOW + timedelta(minutes=5))
    assert ticket.sla_due_at == NOW + timedelta(hours=4)  # responded: the resolution is next
    step(session, rules, world, "agent@sit.test", ticket, "wait_for_customer", ASKED,
         comment="Please send the logs.")
    assert ticket.state == "waiting_customer"
    return ticket


def test_the_reporters_answer_resumes_the_work(session, rules, world):
    ticket = waiting(session, rules, world)
    version, seen = ticket.version, count_notices(session, ticket)
    comment(session, rules, world, "rep@gst.test", ticket, "Logs attached.")
    session.commit()
    assert ticket.state == "in_progress"
    answered, said = tickets.events_of(session, ticket)[-2:]
    rep, _ = world.actor(session, "rep@gst.test")
    assert (answered.kind, answered.trigger, answered.from_state, answered.to_state,
            answered.actor_id, answered.created_at) == (
        "transition", "customer_answered", "waiting_customer", "in_progress", rep.id, ANSWERED)
    assert (said.kind, said.data, said.actor_id) == ("comment", {"body": "Logs attached."},
                                                     rep.id)
    assert "Logs attached." not in str(answered.data)  # the answer is the comment, once
    assert ticket.version > version
    # the clock ran again from the answer: the resolution is due 30 minutes later
    assert ticket.sla_pauses == [[ASKED.isoformat(), ANSWERED.isoformat()]]
    assert ticket.sla_due_at == NOW + timedelta(hours=4, minutes=30)
    status = sla_of(rules, ticket, ANSWERED)
    assert not status.paused
    assert status.resolution_due_at == NOW + timedelta(hours=4, minutes=30)
    # the working party, once, with the answer; nobody else
    told = notices_after(session, ticket, seen)
    assert [(p["party"], p["event"]) for p in told] == [("provider", "customer_answered")]
    assert notifications.message_text(told[0], rules) == (
        f"{tickets.number_of(rules, ticket)} Map tiles time out: rep@gst.test answered your "
        "question: \"Logs attached.\" It is In progress again.")
    # it is back to work: the next comment is an ordinary one
    comment(session, rules, world, "rep@gst.test", ticket, "Thanks.", ANSWERED + timedelta(1))
    assert ticket.state == "in_progress" and notices_after(session, ticket, seen + 1) == []


def test_another_reporter_of_the_organisation_answers_too(session, rules, world):
    directory.create_user(session, email="rep2@gst.test", name="rep2", organisation="GST",
                          role="reporter", password=PASSWORD, now=NOW)
    ticket = waiting(session, rules, world)
    comment(session, rules, world, "rep2@gst.test", ticket, "I am covering for my colleague.")
    assert ticket.state == "in_progress"
    assert tickets.events_of(session, ticket)[-2].trigger == "customer_answered"


def test_the_working_partys_own_note_changes_nothing(session, rules, world):
    ticket = waiting(session, rules, world)
    version, seen = ticket.version, count_notices(session, ticket)
    comment(session, rules, world, "agent@sit.test", ticket, "Still no logs; asked by phone.")
    session.commit()
    assert ticket.state == "waiting_customer"
    assert [e.kind for e in tickets.events_of(session, ticket)][-2:] == ["transition", "comment"]
    assert tickets.events_of(session, ticket)[-2].trigger == "wait_for_customer"
    assert ticket.sla_pauses == [[ASKED.isoformat(), None]]  # still paused
    assert ticket.version == version + 1  # the comment itself bumps it, once
    assert notices_after(session, ticket, seen) == []


def test_an_answer_from_who_may_not_fire_it_only_tells_the_working_party(session, rules, world):
    """The customer's agent is on the reporter's side but not the reporter: the working party
    hears it (``reply``) and resuming stays its own step."""
    ticket = waiting(session, rules, world)
    seen = count_notices(session, ticket)
    comment(session, rules, world, "agent@gst.test", ticket, "The logs are on the share.")
    assert ticket.state == "waiting_customer"
    assert [(p["party"], p["event"]) for p in notices_after(session, ticket, seen)] == [
        ("provider", "reply")]


def test_a_comment_in_another_state_changes_nothing(session, rules, world):
    ticket = waiting(session, rules, world)
    step(session, rules, world, "agent@sit.test", ticket, "resume", ASKED + timedelta(minutes=1))
    seen, events = count_notices(session, ticket), len(tickets.events_of(session, ticket))
    comment(session, rules, world, "rep@gst.test", ticket, "By the way, it is slow too.")
    assert ticket.state == "in_progress"
    assert [e.kind for e in tickets.events_of(session, ticket)[events:]] == ["comment"]
    assert notices_after(session, ticket, seen) == []


def test_the_answer_is_also_a_step_the_reporter_may_take(session, rules, world):
    """Offered to the reporter only while the ticket waits for it, and it asks for the answer."""
    ticket = waiting(session, rules, world)
    _, rep = world.actor(session, "rep@gst.test")
    _, sit = world.actor(session, "agent@sit.test")
    assert "customer_answered" in tickets.available_transitions(session, rules, rep, ticket)
    assert "customer_answered" not in tickets.available_transitions(session, rules, sit, ticket)
    with pytest.raises(ValidationError) as refused:
        step(session, rules, world, "rep@gst.test", ticket, "customer_answered", ANSWERED)
    assert "comment" in refused.value.errors
    seen = count_notices(session, ticket)
    step(session, rules, world, "rep@gst.test", ticket, "customer_answered", ANSWERED,
         comment="Done: rebooted.")
    assert ticket.state == "in_progress"
    assert [(p["event"], p["comment"]) for p in notices_after(session, ticket, seen)] == [
        ("customer_answered", "Done: rebooted.")]


def test_the_api_comment_resumes_the_ticket(app, rt, world):
    api = Api(app, make_tokens(rt))
    ticket = api.incident(layer="operating_system")
    assert api.fire("agent@sit.test", ticket["id"], "start_work").status_code == 200
    asked = api.fire("agent@sit.test", ticket["id"], "wait_for_customer",
                     comment="Please send the logs.")
    assert asked.status_code == 200 and asked.json["sla"]["paused"] is True
    said = api.post(f"/tickets/{ticket['id']}/comments", "rep@gst.test", {"body": "Attached."})
    assert said.status_code == 201, said.json
    now = api.get(f"/tickets/{ticket['id']}", "rep@gst.test").json
    assert now["state"] == "in_progress" and now["sla"]["paused"] is False
    assert now["version"] > asked.json["version"]
    history = api.get(f"/tickets/{ticket['id']}/events", "agent@sit.test").json
    assert [(e["kind"], e.get("trigger")) for e in history][-2:] == [
        ("transition", "customer_answered"), ("comment", None)]


# --- the workflow file --------------------------------------------------------------------

@pytest.mark.parametrize(("answered_by", "reason"), [
    ("customer_answerd", "answered_by 'customer_answerd' is not a trigger of this workflow"),
    ("acknowledge", "answered_by 'acknowledge' must lead out of 'waiting_customer'"),
    ("resume", "answered_by 'resume' must be allowed for 'reporter', whose answer fires it"),
])
def test_the_loader_refuses_a_bad_answered_by(tmp_path: Path, answered_by, reason):
    text = INCIDENT_YAML.read_text(encoding="utf-8")
    assert text.count("answered_by: customer_answered") == 1
    broken = tmp_path / "incident.yaml"
    broken.write_text(text.replace("answered_by: customer_answered",
                                   f"answered_by: {answered_by}"), encoding="utf-8")
    line = next(n for n, row in enumerate(broken.read_text().splitlines(), start=1)
                if f"answered_by: {answered_by}" in row)
    with pytest.raises(ConfigError) as refused:
        load_workflow(broken)
    assert str(refused.value) == f"{broken}:{line}: state 'waiting_customer': {reason}"


def test_answered_by_needs_a_waiting_state(tmp_path: Path):
    text = INCIDENT_YAML.read_text(encoding="utf-8")
    broken = tmp_path / "incident.yaml"
    broken.write_text(text.replace("waits_for: reporter, answered_by", "answered_by"),
                      encoding="utf-8")
    with pytest.raises(ConfigError, match=r"incident.yaml:\d+: state 'waiting_customer': "
                                          "answered_by names a trigger, and needs waits_for"):
        load_workflow(broken)
