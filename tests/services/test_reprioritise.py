"""Changing an incident's priority after it is raised (``reprioritise``), on both backends: the
priority follows the new impact and urgency, the SLA due times follow the priority, the history
keeps old and new, paging decides again (a P3 raised to P1 after hours pages; lowered, the
escalation stops), only the R and A parties may, and the ticket page offers it with its fields."""

from __future__ import annotations

import html
import re
from datetime import UTC, timedelta

import pytest
from sqlalchemy import select

from itilflow.domain.access import Actor
from itilflow.domain.errors import (
    ConfigError,
    InvalidTransition,
    NotFound,
    NotPermitted,
    ValidationError,
)
from itilflow.domain.parties import Role
from itilflow.domain.workflow import load_workflow
from itilflow.models import Ticket
from itilflow.services import directory, tickets
from tests.conftest import WORK_TIME
from tests.paging.conftest import EVENING, drain, events, make_hooks, raise_incident
from tests.web.conftest import csrf_of, sign_in

ADMIN = Actor(0, Role.ADMIN, 0)


def _fire(rt, number, trigger, *, email="agent@sit.test", now=EVENING, **data):
    with rt.session_factory() as s:
        user = directory.user_by_email(s, email)
        tickets.fire_transition(s, rt.rules, user, directory.load_actor(s, user), number,
                                trigger, data, now=now)
        s.commit()


def _ticket(rt, number) -> Ticket:
    with rt.session_factory() as s:
        ticket = tickets.get_ticket(s, rt.rules, ADMIN, number)
        s.expunge(ticket)
        return ticket


def _types(receiver) -> list[str]:
    return [r["body"]["type"] for r in receiver.requests]


def test_a_p3_raised_to_p1_after_hours_pages_on_call(rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(300, 600))
    number = raise_incident(rt, impact=2, urgency=2)          # P3 at 20:00: nobody is called
    drain(relay, EVENING)
    assert receiver.requests == []
    before = _ticket(rt, number)
    assert before.priority == "P3"
    later = EVENING + timedelta(minutes=20)
    _fire(rt, number, "reprioritise", now=later, impact=1, urgency=1,
          comment="The whole map service is down")
    drain(relay, later)
    after = _ticket(rt, number)
    assert (after.impact, after.urgency, after.priority) == (1, 1, "P1")
    assert after.state == before.state and after.version == before.version + 1
    # the due time follows the priority: P1 counts around the clock on production here
    assert after.sla_due_at.astimezone(UTC) == EVENING + timedelta(minutes=15)
    assert before.sla_due_at.astimezone(UTC) > after.sla_due_at.astimezone(UTC)
    assert _types(receiver) == ["incident.trigger"] and receiver.requests[0]["body"]["ticket"][
        "priority"] == "P1"
    (step,) = [d for _k, t, d in events(rt, number, "transition") if t == "reprioritise"]
    assert (step["from_priority"], step["priority"]) == ("P3", "P1")
    assert (step["from_impact"], step["from_urgency"], step["impact"], step["urgency"]) == \
        (2, 2, 1, 1)
    assert step["comment"] == "The whole map service is down"
    paged = [d for _k, _t, d in events(rt, number, "paging")]
    assert [(d["party"], d["paged"]) for d in paged] == [("provider", True)]


def test_lowered_below_the_paging_priorities_the_escalation_stops(rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(300, 600))
    number = raise_incident(rt)                                # P1: level 1 paged
    drain(relay, EVENING)
    lowered = EVENING + timedelta(minutes=2)
    _fire(rt, number, "reprioritise", now=lowered, impact=2, urgency=2, comment="One user only")
    drain(relay, lowered)
    drain(relay, EVENING + timedelta(hours=2))                 # level 2 would be due by now
    assert _types(receiver) == ["incident.trigger", "incident.resolve"]
    assert receiver.on("/l2") == []
    assert _ticket(rt, number).priority == "P3"
    # within the paging priorities the escalation goes on (P1 -> P2: same party, no new page)
    other = raise_incident(rt, now=EVENING + timedelta(hours=3), title="Virk nede")
    drain(relay, EVENING + timedelta(hours=3))
    _fire(rt, other, "reprioritise", now=EVENING + timedelta(hours=3, minutes=1), impact=1,
          urgency=2, comment="Mostly fine")
    drain(relay, EVENING + timedelta(hours=3, minutes=1))
    assert [r["body"]["ticket"]["number"] for r in receiver.requests].count(other) == 1
    drain(relay, EVENING + timedelta(hours=3, minutes=5))      # its level 2 after 300 s
    assert [r["path"] for r in receiver.requests if r["body"]["ticket"]["number"] == other] == \
        ["/l1", "/l2"]


def test_in_working_time_nothing_is_paged(rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(300,))
    number = raise_incident(rt, now=WORK_TIME, impact=3, urgency=3)
    _fire(rt, number, "reprioritise", now=WORK_TIME + timedelta(minutes=5), impact=1, urgency=1,
          comment="Outage")
    drain(relay, WORK_TIME + timedelta(minutes=5))
    assert receiver.requests == [] and _ticket(rt, number).priority == "P1"
    assert [d["paged"] for _k, _t, d in events(rt, number, "paging")] == []


def test_only_the_r_and_a_parties_may_and_only_while_open(rt, world):
    number = raise_incident(rt, layer="application", impact=2, urgency=2)   # customer's R and A
    for email in ("rep@gst.test", "agent@sit.test", "agent@erst.test"):
        with pytest.raises((NotPermitted, NotFound)):
            _fire(rt, number, "reprioritise", email=email, impact=1, urgency=1, comment="x")
    _fire(rt, number, "reprioritise", email="agent@gst.test", impact=1, urgency=2, comment="R")
    _fire(rt, number, "reprioritise", email="boss@gst.test", impact=2, urgency=1, comment="A")
    assert _ticket(rt, number).priority == "P2"
    with rt.session_factory() as s:
        _user, ctx = world.actor(s, "agent@gst.test")
        assert "reprioritise" in tickets.available_transitions(
            s, rt.rules, ctx, tickets.get_ticket(s, rt.rules, ctx, number))
    _fire(rt, number, "resolve", email="agent@gst.test", resolution="Fixed")
    with pytest.raises(InvalidTransition):
        _fire(rt, number, "reprioritise", email="agent@gst.test", impact=3, urgency=3,
              comment="too late")


@pytest.mark.parametrize(("data", "field"), [
    ({"impact": 4, "urgency": 1, "comment": "x"}, "impact"),
    ({"impact": 1, "urgency": 0, "comment": "x"}, "urgency"),
    ({"impact": "1", "urgency": 1, "comment": "x"}, "impact"),
    ({"impact": True, "urgency": 1, "comment": "x"}, "impact"),
    ({"urgency": 1, "comment": "x"}, "impact"),
    ({"impact": 1, "urgency": 1}, "comment"),
    ({"impact": 1, "urgency": 1, "comment": "x", "priority": "P1"}, "priority"),
])
def test_fields_are_checked(rt, world, data, field):
    number = raise_incident(rt, impact=2, urgency=2)
    with pytest.raises(ValidationError) as refused:
        _fire(rt, number, "reprioritise", **data)
    assert field in refused.value.errors
    assert _ticket(rt, number).priority == "P3"


def test_the_ticket_page_offers_it_with_its_fields(app, rt, world):
    number = raise_incident(rt, now=WORK_TIME, layer="operating_system", impact=2, urgency=2)
    app.extensions["itilflow_limiter"].reset()
    client = app.test_client()
    sign_in(client, "agent@sit.test")
    page = client.get(f"/tickets/{number}").get_data(as_text=True)
    assert 'id="action-reprioritise"' in page
    form = page[page.index('id="action-reprioritise"'):]
    form = form[:form.index("</form>")]
    # the fields start at the ticket's own impact and urgency, the choices the workflow bounds
    for name in ("impact", "urgency"):
        select = re.search(rf'<select id="reprioritise-{name}" name="{name}".*?</select>', form,
                           re.S).group(0)
        assert re.findall(r'<option value="(\d)"', select) == ["1", "2", "3"]
        assert re.search(r'<option value="2"\s+selected>', select)
    assert 'id="reprioritise-comment" name="comment"' in form and "Change priority" in form
    answer = client.post(f"/tickets/{number}/transitions/reprioritise", data={
        "csrf_token": csrf_of(page), "version": str(_ticket(rt, number).version),
        "impact": "1", "urgency": "2", "comment": "More users now"})
    assert answer.status_code == 303, answer.get_data(as_text=True)[:300]
    assert _ticket(rt, number).priority == "P2"
    refused = client.post(f"/tickets/{number}/transitions/reprioritise", data={
        "csrf_token": csrf_of(page), "impact": "7", "urgency": "2", "comment": "x"},
        headers={"Accept-Language": "da"})
    assert refused.status_code == 422
    text = html.unescape(re.sub(r"<[^>]+>", " ", refused.get_data(as_text=True)))
    assert "Et helt tal fra 1 til 3." in text
    da = client.get(f"/tickets/{number}", headers={"Accept-Language": "da"}).get_data(
        as_text=True)
    assert "Skift prioritet" in da


def test_workflow_int_fields_take_bounds(tmp_path):
    def workflow(field: str) -> str:
        path = tmp_path / "w.yaml"
        path.write_text("\n".join([
            "name: w", "kind: w", "prefix: W", "activity: incident_management",
            "initial: open", "states:", "  open: {label: Open}",
            "  done: {label: Done, final: true}", "transitions:",
            "  - trigger: rate", "    source: [open]", '    dest: "="', "    allowed: [R]",
            "    fields:", f"      n: {field}",
            "  - trigger: finish", "    source: [open]", "    dest: done", "    allowed: [R]",
            ""]))
        return path

    spec = load_workflow(workflow("{type: int, min: 1, max: 3}")).spec_for("open", "rate")
    assert (spec.fields[0].minimum, spec.fields[0].maximum) == (1, 3)
    assert load_workflow(workflow("{type: int}")).spec_for("open", "rate").fields[0].minimum \
        is None
    for bad, reason in [("{type: text, min: 1}", "are for int fields"),
                        ("{type: int, min: one}", "whole numbers"),
                        ("{type: int, max: true}", "whole numbers"),
                        ("{type: int, min: 3, max: 1}", "min is above max")]:
        with pytest.raises(ConfigError, match=reason):
            load_workflow(workflow(bad))


def test_the_queue_sorts_on_the_new_due_time(rt, world):
    number = raise_incident(rt, now=WORK_TIME, layer="operating_system", impact=3, urgency=3)
    before = _ticket(rt, number).sla_due_at
    _fire(rt, number, "reprioritise", now=WORK_TIME + timedelta(minutes=1), impact=1, urgency=1,
          comment="Outage")
    with rt.session_factory() as s:
        due = s.scalar(select(Ticket.sla_due_at).where(Ticket.id == int(number[4:])))
    assert due < before and due.astimezone(UTC) == WORK_TIME + timedelta(minutes=15)
