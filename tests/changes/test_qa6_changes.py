"""QA round 6 on change management (docs/changes.md): a standard change needs its template
(#1), the planned window's sanity (#7), current warnings in the CAB view (#8), stopping a change
in its test stages (#9), a freeze naming another customer's system (#14), one open
consultation per stage (#18), an implementation outside the window (#6) and template
validation (#17). Through the services on real databases, and the change form."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from itilflow.domain.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    NotPermitted,
    ValidationError,
)
from itilflow.models import Consultation, System, Ticket, TicketEvent
from itilflow.models.change import ChangeWindow
from itilflow.services import changes, tickets
from tests.changes.common import LATER, NOW, available, fire, submit_change
from tests.web.conftest import csrf_of, sign_in


@pytest.fixture(autouse=True)
def _reset_limits(request):
    if "app" in request.fixturenames:
        request.getfixturevalue("app").extensions["itilflow_limiter"].reset()


def _template(session, rules, world, key="infra-patch", activity="patch_management",
              layer="infrastructure"):
    _, admin = world.actor(session, "admin@sit.test")
    return changes.create_template(session, rules, admin, {
        "key": key, "name": f"{activity} on {layer}", "activity": activity, "layer": layer},
        now=NOW)


# --- 1: a standard change names an active template -----------------------------------------

def test_a_standard_change_without_a_template_is_refused(session, rules, world):
    for extra in ({}, {"affected_layers": ["application", "middleware"]}):
        with pytest.raises(ValidationError) as bad:
            submit_change(session, rules, world, change_type="standard", **extra)
        assert bad.value.status == 422
        assert set(bad.value.errors) == {"template"}
        assert "pre-approved by its template" in bad.value.errors["template"][0]
    # an inactive template is no template either
    _template(session, rules, world)
    changes.set_template_active(session, world.actor(session, "admin@sit.test")[1],
                                "infra-patch", False)
    with pytest.raises(ValidationError) as bad:
        submit_change(session, rules, world, template="infra-patch", layer=None,
                      change_type="standard", title=None)
    assert bad.value.errors == {"template": ["No such template."]}  # its error alone
    assert session.scalar(select(Ticket.id).where(Ticket.kind == "change")) is None
    # normal and emergency changes need none
    assert submit_change(session, rules, world).details["template"] is None


def test_the_demo_standard_change_comes_from_a_template(session, rules):
    from itilflow.demo import load_demo

    load_demo(session, rules, now=NOW)
    release = session.scalar(select(Ticket).where(
        Ticket.title == "Monthly application release 2026.12"))
    assert release.details["change_type"] == "standard"
    assert release.details["template"] == "app-release"
    assert release.activity == "installation_in_production"
    for ticket in session.scalars(select(Ticket).where(Ticket.kind == "change")):
        if ticket.details["change_type"] == "standard":
            assert ticket.details["template"], ticket.title


def _change_form(client):
    page = client.get("/agent/new/change").get_data(as_text=True)
    key = re.search(r'name="form_key" value="([^"]+)"', page)
    return page, {"csrf_token": csrf_of(page), **({"form_key": key.group(1)} if key else {})}


def test_the_change_form_offers_no_standard_change_without_a_template(app, rt, world):
    client = app.test_client()
    sign_in(client, "agent@sit.test")
    page, _ = _change_form(client)
    assert 'value="normal"' in page and 'value="standard"' not in page  # no templates yet
    with rt.session_factory() as s:
        _template(s, rt.rules, world, key="os-patch", layer="operating_system")
        s.commit()
    page, hidden = _change_form(client)
    assert 'value="standard"' in page and "None (a normal or emergency change)" in page
    answer = client.post("/agent/new/change", data={
        **hidden, "system": "kort", "environment": "production", "layer": "operating_system",
        "change_type": "standard", "template": "", "title": "Patch", "description": "Kernel",
        "planned_start": "2026-12-03T22:00", "planned_end": "2026-12-04T01:30"})
    assert answer.status_code == 422
    assert 'id="template-error"' in answer.get_data(as_text=True)
    with rt.session_factory() as s:
        assert s.scalar(select(Ticket.id).where(Ticket.kind == "change")) is None


# --- 7: the planned window's sanity: warnings ---------------------------------------------

def test_a_window_in_the_past_or_too_long_is_warned_about(session, rules, world):
    started = submit_change(session, rules, world, days=0, hours=2,
                            planned_start=(NOW - timedelta(hours=1)).isoformat())
    assert [(w["kind"], w["reason"]) for w in started.details["warnings"]] == [
        ("window", "started")]
    over = submit_change(session, rules, world, system="arkiv",
                         planned_start="2020-01-01T00:00:00Z",
                         planned_end="2020-01-01T02:00:00Z")
    assert [(w["kind"], w["reason"]) for w in over.details["warnings"]] == [("window", "past")]
    decade = submit_change(session, rules, world, system="virk", days=1,
                           planned_end=(NOW + timedelta(days=3653)).isoformat())
    [long] = decade.details["warnings"]
    assert (long["kind"], long["reason"], long["days"]) == ("window", "long", 3652)
    assert long["message"] == "The planned window is longer than 31 days."
    # warnings, not refusals; and a month is still fine
    assert {started.state, over.state, decade.state} == {"new"}
    month = submit_change(session, rules, world, system="arkiv", days=2, hours=24 * 31)
    assert month.details["warnings"] == []
    # the recorded warning is shown with the live ones
    sit = world.actor(session, "agent@sit.test")[1]
    assert [w["reason"] for w in changes.change_warnings(session, rules, sit, over.id)] == [
        "past"]


# --- 8: the CAB view shows the warnings as of now --------------------------------------------

def _awaiting(session, rules, world, **extra):
    change = submit_change(session, rules, world, **extra)
    fire(session, rules, world, "agent@sit.test", change, "assess")
    fire(session, rules, world, "agent@sit.test", change, "request_approval", risk="low",
         impact_assessment="None.")
    return change


def test_the_cab_view_shows_current_warnings(session, rules, world):
    boss = world.actor(session, "boss@sit.test")[1]
    first = _awaiting(session, rules, world, days=3, hours=4)
    assert first.details["warnings"] == []
    second = submit_change(session, rules, world, days=3, hours=1)  # planned later, overlapping
    [item] = changes.cab_view(session, rules, boss)
    assert [w["ticket"] for w in item["warnings"]] == [tickets.number_of(rules, second)]
    start = NOW + timedelta(days=2)
    changes.create_freeze_period(session, world.actor(session, "admin@sit.test")[1], {
        "name": "Release week", "system": "kort", "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(days=3)).isoformat()}, now=NOW)
    [item] = changes.cab_view(session, rules, boss)
    assert [w["kind"] for w in item["warnings"]] == ["overlap", "freeze"]
    assert item["warnings"] == changes.change_warnings(session, rules, boss, first.id)
    fire(session, rules, world, "agent@sit.test", second, "cancel", comment="Merged.")
    [item] = changes.cab_view(session, rules, boss)
    assert [w["kind"] for w in item["warnings"]] == ["freeze"]


def test_the_cab_view_and_calendar_work_warnings_out_without_a_query_per_change(
        session, rules, world, rt):
    boss = world.actor(session, "boss@sit.test")[1]

    def queries(call):
        seen = []

        def count(conn, cursor, statement, parameters, context, executemany):
            if "change_windows" in statement or "freeze_periods" in statement:
                seen.append(statement)
        session.expire_all()
        event.listen(rt.engine, "before_cursor_execute", count)
        try:
            call()
        finally:
            event.remove(rt.engine, "before_cursor_execute", count)
        return len(seen)

    def cab():
        return changes.cab_view(session, rules, boss)

    def calendar():
        return changes.change_calendar(session, rules, boss, start=NOW,
                                       end=NOW + timedelta(days=30))

    for day in (3, 4):
        _awaiting(session, rules, world, days=day)
    few = queries(cab), queries(calendar)
    for day in (5, 6, 7, 8):
        _awaiting(session, rules, world, days=day)
    assert len(cab()) == 6 and len(calendar()) == 6
    assert (queries(cab), queries(calendar)) == few


# --- 9: a change is stopped from its test stages -------------------------------------------

def test_a_change_is_cancelled_from_its_test_stages(session, rules, world):
    for stop_in, who in [("installation_test", "agent@gst.test"),
                         ("acceptance_test", "boss@gst.test")]:
        change = submit_change(session, rules, world, "agent@gst.test", layer="application",
                               days=3 if stop_in == "installation_test" else 5)
        for trigger in ("assess", "request_approval", "approve", "start_installation_test",
                        "start_acceptance_test"):
            email = "boss@gst.test" if trigger == "approve" else "agent@gst.test"
            fire(session, rules, world, email, change, trigger,
                 **({"risk": "low", "impact_assessment": "None."}
                    if trigger == "request_approval" else {}))
            if change.state == stop_in:
                break
        assert change.state == stop_in
        # the other party has no say in it
        assert "cancel" not in available(session, rules, world, "agent@sit.test", change)
        with pytest.raises(NotPermitted):
            fire(session, rules, world, "boss@sit.test", change, "cancel", comment="No.")
        assert "cancel" in available(session, rules, world, who, change)
        fire(session, rules, world, who, change, "cancel", comment="The installation failed.")
        assert change.state == "cancelled" and change.closed_at is not None
        # its window is free again
        again = submit_change(session, rules, world, "agent@gst.test", layer="application",
                              days=3 if stop_in == "installation_test" else 5)
        assert again.details["warnings"] == []


def test_an_os_change_is_cancelled_in_its_operational_test(session, rules, world):
    change = submit_change(session, rules, world)
    fire(session, rules, world, "agent@sit.test", change, "assess")
    fire(session, rules, world, "agent@sit.test", change, "request_approval", risk="low",
         impact_assessment="None.")
    fire(session, rules, world, "boss@sit.test", change, "approve")
    for trigger, stage in [("start_installation_test", "installation_test"),
                           ("start_acceptance_test", "acceptance_test"),
                           ("start_operational_test", "operational_test")]:
        fire(session, rules, world, "agent@sit.test", change, "consult", stage=stage,
             question="OK?")
        fire(session, rules, world, "agent@gst.test", change, "answer_consultation",
             stage=stage, answer="Yes.")
        fire(session, rules, world, "agent@sit.test", change, trigger)
    assert change.state == "operational_test"
    fire(session, rules, world, "boss@sit.test", change, "cancel", comment="Back to the drawing.")
    assert change.state == "cancelled"


# --- 14: a freeze names the customer that owns its system ---------------------------------

def test_a_freeze_naming_another_customers_system_is_refused(session, rules, world):
    admin = world.actor(session, "admin@sit.test")[1]
    start = NOW + timedelta(days=10)
    period = {"name": "Year-end", "starts_at": start.isoformat(),
              "ends_at": (start + timedelta(days=5)).isoformat()}
    with pytest.raises(ValidationError) as bad:
        changes.create_freeze_period(session, admin, {**period, "customer": "GST",
                                                      "system": "virk"}, now=NOW)
    assert bad.value.status == 422
    assert bad.value.errors == {"system": ["The system belongs to another customer."]}
    assert changes.list_freeze_periods(session, admin) == []
    fine = changes.create_freeze_period(session, admin, {**period, "customer": "ERST",
                                                         "system": "virk"}, now=NOW)
    virk = session.scalar(select(System).where(System.key == "virk"))
    assert (fine.customer_id, fine.system_id) == (virk.customer_id, virk.id)


# --- 18: one open consultation per stage ----------------------------------------------------

def _consultations(session, change):
    return session.scalars(select(Consultation).where(Consultation.ticket_id == change.id)
                           .order_by(Consultation.id)).all()


def test_asking_again_about_an_open_stage_is_refused(session, rules, world):
    change = submit_change(session, rules, world)
    fire(session, rules, world, "agent@sit.test", change, "assess")
    fire(session, rules, world, "agent@sit.test", change, "consult", stage="installation_test",
         question="Tuesday?")
    session.commit()
    events = session.query(TicketEvent).filter_by(ticket_id=change.id).count()
    with pytest.raises(Conflict, match=r"The consultation on Installation test.* waits for "
                                       r"the answer of the customer") as twice:
        fire(session, rules, world, "boss@sit.test", change, "consult",
             stage="installation_test", question="Tuesday, really?")
    assert twice.value.status == 409 and "stage" in twice.value.errors
    session.rollback()  # what the request does with the refusal
    assert [c.question for c in _consultations(session, change)] == ["Tuesday?"]
    assert session.query(TicketEvent).filter_by(ticket_id=change.id).count() == events
    # another stage may be asked, and the same one once it is answered
    fire(session, rules, world, "agent@sit.test", change, "consult", stage="acceptance_test",
         question="And the acceptance test?")
    fire(session, rules, world, "agent@gst.test", change, "answer_consultation",
         stage="installation_test", answer="Yes.")
    fire(session, rules, world, "agent@sit.test", change, "consult", stage="installation_test",
         question="Wednesday instead?")
    assert [c.activity for c in _consultations(session, change)] == [
        "installation_test", "acceptance_test", "installation_test"]


def test_a_standard_change_asks_its_row_once(session, rules, world):
    _template(session, rules, world, key="os-install", activity="installation_in_production",
              layer="operating_system")
    change = submit_change(session, rules, world, template="os-install", layer=None,
                           change_type=None)
    fire(session, rules, world, "agent@sit.test", change, "consult", question="Thursday?")
    # not offered while the question stands (a demo user found it offered, then refused)
    assert "consult" not in available(session, rules, world, "agent@sit.test", change)
    with pytest.raises(InvalidTransition, match="The consultation on Installation in production"
                                                " waits for the answer of the customer"):
        fire(session, rules, world, "agent@sit.test", change, "consult", question="Friday?")


# --- 6: implementing outside the planned window is recorded -------------------------------

def test_implementing_outside_the_window_is_recorded_not_refused(session, rules, world):
    _template(session, rules, world)
    early = submit_change(session, rules, world, template="infra-patch", layer=None,
                          change_type=None, days=8)
    on_time = submit_change(session, rules, world, template="infra-patch", layer=None,
                            change_type=None, days=0, system="arkiv")  # NOW to NOW + 2 h
    for change in (early, on_time):
        fire(session, rules, world, "agent@sit.test", change, "pre_approve")
        fire(session, rules, world, "agent@sit.test", change, "implement")  # at LATER
        assert change.state == "implementing"
    [warning] = early.details["warnings"]
    assert (warning["kind"], warning["trigger"], warning["at"]) == (
        "outside_window", "implement", LATER.isoformat())
    assert warning["message"] == "Implemented before its planned window."
    kinds = [e.kind for e in tickets.events_of(session, early)]
    assert kinds[-2:] == ["transition", "window_deviation"]
    assert tickets.events_of(session, early)[-1].data["planned_start"] == \
        early.details["planned_start"]
    assert on_time.details["warnings"] == []
    assert "window_deviation" not in [e.kind for e in tickets.events_of(session, on_time)]
    sit = world.actor(session, "agent@sit.test")[1]
    assert [w["kind"] for w in changes.change_warnings(session, rules, sit, early.id)] == [
        "outside_window"]


# --- 17: template validation ----------------------------------------------------------------

def test_a_template_needs_a_row_with_a_doer_and_a_short_key(session, rules, world):
    for activity, layer in [("incident_management", "operating_system"),
                            ("backup", "application")]:
        with pytest.raises(ValidationError) as bad:
            _template(session, rules, world, key="t", activity=activity, layer=layer)
        assert set(bad.value.errors) == {"activity"}, (activity, layer)
    with pytest.raises(ValidationError) as bad:
        _template(session, rules, world, key="k" * (changes.TEMPLATE_KEY_MAX + 1))
    assert set(bad.value.errors) == {"key"}
    assert "at most 60 characters" in bad.value.errors["key"][0]
    made = _template(session, rules, world, key="k" * changes.TEMPLATE_KEY_MAX,
                     activity="backup", layer="middleware")
    assert len(made.key) == changes.TEMPLATE_KEY_MAX
    assert _template(session, rules, world, key="restore-db", activity="restore",
                     layer="middleware").activity == "restore"


# --- 6: rescheduling a change before its implementation ------------------------------------

def _reschedule(session, rules, world, email, change, days, hours=2, **extra):
    user, ctx = world.actor(session, email)
    start = NOW + timedelta(days=days)
    return changes.reschedule_change(session, rules, user, ctx, change.id, {
        "planned_start": start.isoformat(),
        "planned_end": (start + timedelta(hours=hours)).isoformat(), **extra}, now=LATER)


def test_a_change_is_rescheduled_by_its_responsible_party_before_implementation(
        session, rules, world):
    first = submit_change(session, rules, world, days=3)
    change = submit_change(session, rules, world, days=10)
    fire(session, rules, world, "agent@sit.test", change, "assess")
    # only the R (SIT's agents and managers on the OS layer): not the customer's people
    for email in ("agent@gst.test", "rep@gst.test"):
        with pytest.raises((NotPermitted, NotFound)):
            _reschedule(session, rules, world, email, change, 3)
    moved = _reschedule(session, rules, world, "agent@sit.test", change, 3,
                        comment="Postponed by the vendor.")
    assert moved.details["planned_start"] == (NOW + timedelta(days=3)).isoformat()
    assert session.get(ChangeWindow, change.id).planned_start == NOW + timedelta(days=3)
    # the warnings of the new window: the overlap with the first change
    assert [w["ticket"] for w in change.details["warnings"]] == [
        tickets.number_of(rules, first)]
    sit = world.actor(session, "agent@sit.test")[1]
    assert [w["ticket"] for w in changes.change_warnings(session, rules, sit, first.id)] == [
        tickets.number_of(rules, change)]
    last = tickets.events_of(session, change)[-1]
    assert last.kind == "rescheduled" and last.data["comment"] == "Postponed by the vendor."
    assert last.data["from_start"] == (NOW + timedelta(days=10)).isoformat()
    # the window rules as at submission: a 422, nothing moved
    with pytest.raises(ValidationError) as bad:
        _reschedule(session, rules, world, "agent@sit.test", change, 3, hours=-1)
    assert set(bad.value.errors) == {"planned_end"}
    with pytest.raises(ValidationError):
        _reschedule(session, rules, world, "agent@sit.test", change, 3)  # unchanged
    long = _reschedule(session, rules, world, "agent@sit.test", change, 20, hours=24 * 40)
    assert [w["reason"] for w in long.details["warnings"]] == ["long"]
    # not once the implementation has started
    application = submit_change(session, rules, world, "agent@gst.test", layer="application")
    for trigger in ("assess", "request_approval", "approve", "start_installation_test"):
        fire(session, rules, world, "boss@gst.test" if trigger == "approve" else
             "agent@gst.test", application, trigger,
             **({"risk": "low", "impact_assessment": "None."}
                if trigger == "request_approval" else {}))
    with pytest.raises(InvalidTransition):
        _reschedule(session, rules, world, "agent@gst.test", application, 12)


def test_the_api_answers_a_second_question_with_409_and_keeps_the_first(app, rt, world):
    from tests.api.conftest import Api, make_tokens

    api = Api(app, make_tokens(rt))
    made = api.post("/changes", "agent@sit.test", {
        "system": "kort", "environment": "production", "layer": "operating_system",
        "change_type": "normal", "title": "Kernel update", "description": "Reboot.",
        "planned_start": "2036-12-01T20:00:00+01:00", "planned_end": "2036-12-01T22:00:00+01:00"})
    assert made.status_code == 201, made.get_json()
    number = made.get_json()["id"]
    assert api.fire("agent@sit.test", number, "assess").status_code == 200
    asked = api.fire("agent@sit.test", number, "consult", stage="installation_test",
                     question="Tuesday?")
    assert asked.status_code == 200, asked.get_json()
    again = api.fire("boss@sit.test", number, "consult", stage="installation_test",
                     question="Tuesday, really?")
    assert again.status_code == 409, again.get_json()
    assert "stage" in again.get_json()["errors"]
    items = api.get(f"/tickets/{number}/consultations", "agent@sit.test").get_json()["items"]
    assert [(c["stage"], c["question"], c["open"]) for c in items] == [
        ("installation_test", "Tuesday?", True)]


def test_rescheduling_through_the_api_tells_those_who_approved_the_old_window(app, rt, world):
    from tests.api.conftest import Api, make_tokens
    from tests.api.test_inbox import _deliver, _inbox

    api = Api(app, make_tokens(rt))
    made = api.post("/changes", "agent@sit.test", {
        "system": "kort", "environment": "production", "layer": "operating_system",
        "change_type": "normal", "title": "Kernel update", "description": "Reboot.",
        "affected_layers": ["application"],
        "planned_start": "2036-12-01T20:00:00+01:00", "planned_end": "2036-12-01T22:00:00+01:00"})
    assert made.status_code == 201, made.get_json()
    number = made.get_json()["id"]
    for email, trigger, extra in (
            ("agent@sit.test", "assess", {}),
            ("agent@sit.test", "request_approval", {"risk": "low", "impact_assessment": "None."}),
            ("boss@gst.test", "approve", {}), ("boss@sit.test", "approve", {})):
        assert api.fire(email, number, trigger, **extra).status_code == 200
    path = f"/changes/{number}/reschedule"
    new = {"planned_start": "2036-12-08T20:00:00+01:00", "planned_end": "2036-12-08T22:00:00+01:00",
           "comment": "The vendor's patch is late."}
    assert api.post(path, "agent@gst.test", new).status_code == 403   # not the R
    bad = api.post(path, "agent@sit.test", {**new, "planned_end": "2036-12-08T19:00:00+01:00"})
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"planned_end"}
    moved = api.post(path, "agent@sit.test", new)
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["state"] == "approved"                  # approvals kept
    _deliver(rt)
    told = [n["message"] for n in _inbox(api, "boss@gst.test")["items"]
            if "moved the planned window" in n["message"]]
    assert told and "to 2036-12-08 20:00 - 2036-12-08 22:00" in told[0]
