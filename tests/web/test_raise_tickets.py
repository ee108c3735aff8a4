"""Staff raise incidents, problems and changes from the workspace (``/agent/new/...``), through
the real login form and CSRF tokens, on both backends."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from itilflow.models import Ticket
from itilflow.models.change import ChangeWindow
from itilflow.services import changes, directory, tickets
from tests.conftest import WORK_TIME
from tests.web.conftest import csrf_of

FORM_KEY_RE = re.compile(r'name="form_key" value="([^"]+)"')


def _count(rt) -> int:
    with rt.session_factory() as s:
        return s.scalar(select(func.count()).select_from(Ticket))


def _form(client, path: str, **fields) -> dict[str, str]:
    page = client.get(path).get_data(as_text=True)
    data = {"csrf_token": csrf_of(page)}
    if key := FORM_KEY_RE.search(page):
        data["form_key"] = key.group(1)
    data.update(fields)
    return data


def _incident(client, **fields) -> dict[str, str]:
    return _form(client, "/agent/new/incident", **{
        "system": "kort", "environment": "production", "layer": "",
        "title": "Caller: map tiles fail", "description": "Jens from GST called at 09:12.",
        "impact": "2", "urgency": "2", **fields})


def _reported(rt, email: str, system: str = "kort", title: str = "Broken") -> str:
    """An incident reported through the service, as a customer would; its number."""
    with rt.session_factory() as s:
        user = directory.user_by_email(s, email)
        ticket = tickets.submit_incident(s, rt.rules, user, directory.load_actor(s, user), {
            "system": system, "environment": "production", "title": title, "impact": 2,
            "urgency": 2}, now=WORK_TIME)
        s.commit()
        return tickets.number_of(rt.rules, ticket)


def _ticket(rt, number: str) -> Ticket:
    """The ticket with what the tests read of it, its session closed (a session left open
    holds a connection idle in a transaction past the test)."""
    with rt.session_factory() as s:
        return s.get(Ticket, int(number.split("-")[1]),
                     options=[selectinload(Ticket.incidents), selectinload(Ticket.problems)])


def test_the_workspace_leads_to_the_three_forms(app, world, login):
    for email in ("agent@sit.test", "boss@sit.test", "agent@gst.test", "boss@gst.test",
                  "sup@supplier.test"):
        page = login(email).get("/agent").get_data(as_text=True)
        for path, label in [("/agent/new/incident", "New incident"),
                            ("/agent/new/problem", "New problem"),
                            ("/agent/new/change", "New change")]:
            assert f'href="{path}"' in page and label in page, (email, path)


def test_sit_agent_logs_a_callers_incident_for_gst(app, world, rt, login):
    sit = login("agent@sit.test")
    page = sit.get("/agent/new/incident").get_data(as_text=True)
    for field in ("system", "environment", "title", "description", "impact", "urgency", "outage"):
        assert f'<label for="{field}"' in page or f'<label class="check" for="{field}"' in page
    assert "Kortforsyningen" in page and "Virk" in page  # SIT sees every customer's systems
    response = sit.post("/agent/new/incident", data=_incident(sit, outage="on"))
    assert response.status_code == 303
    number = response.headers["Location"].rsplit("/", 1)[1]
    assert number.startswith("INC-")
    ticket_page = sit.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Incident {number} is registered." in ticket_page
    assert "Caller: map tiles fail" in ticket_page and "Outage reported" in ticket_page
    assert "GST" in ticket_page and "Kortforsyningen" in ticket_page
    # layer not known: SIT's triage queue, and the customer sees it in its portal
    assert number in sit.get("/agent?queue=triage").get_data(as_text=True)
    assert number in login("rep@gst.test").get("/portal").get_data(as_text=True)

    # classified now as the application: straight to GST's own queue, not SIT's triage
    response = sit.post("/agent/new/incident", data=_incident(
        sit, layer="application", title="Caller: login button does nothing"))
    assert response.status_code == 303
    classified = response.headers["Location"].rsplit("/", 1)[1]
    assert f"Incident {classified} is registered." in sit.get(response.headers["Location"]).get_data(
        as_text=True)
    assert classified not in sit.get("/agent?queue=triage").get_data(as_text=True)
    assert classified in login("agent@gst.test").get("/agent?queue=mine").get_data(as_text=True)
    ticket = _ticket(rt, classified)
    assert (ticket.layer, ticket.responsible_party, ticket.reporter.email) == \
        ("application", "customer", "agent@sit.test")
    assert _count(rt) == 2


def test_a_bad_incident_form_is_422_with_the_reasons_and_writes_nothing(app, world, rt, login):
    sit = login("agent@sit.test")
    response = sit.post("/agent/new/incident", data=_incident(
        sit, title="", impact="7", system="nope", description="kept words"))
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    for field in ("title", "impact", "system"):
        assert f'id="{field}-error"' in body, field
    assert "No such system." in body and "Must be 1 (high), 2 or 3 (low)." in body
    assert "kept words" in body and "Please correct the marked fields." in body
    assert _count(rt) == 0
    # the customer's agent may not log one on another customer's system
    gst = login("agent@gst.test")
    refused = gst.post("/agent/new/incident", data=_incident(gst, system="virk"))
    assert refused.status_code == 422 and 'id="system-error"' in refused.get_data(as_text=True)
    assert _count(rt) == 0


def test_a_double_submit_logs_one_incident(app, world, rt, login):
    sit = login("agent@sit.test")
    data = _incident(sit)
    first, second = sit.post("/agent/new/incident", data=data), sit.post("/agent/new/incident",
                                                                          data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert _count(rt) == 1


PROBLEM = {"system": "kort", "layer": "infrastructure", "title": "Storage latency",
           "description": "Both point at the SAN."}
CHANGE = {"system": "kort", "environment": "production", "layer": "operating_system",
          "change_type": "normal", "title": "Kernel update", "description": "Reboot both nodes.",
          "planned_start": "2026-12-03T22:00", "planned_end": "2026-12-04T01:30"}


@pytest.mark.parametrize(("kind", "fields"), [("problem", PROBLEM), ("change", CHANGE)])
def test_a_problem_or_change_form_posted_twice_opens_one(app, world, rt, login, kind, fields):
    """A double click, the back button and submit again, a retry: the form's one-time key
    gives back the ticket it opened, and the second answer leads to it too."""
    sit = login("agent@sit.test")
    data = _form(sit, f"/agent/new/{kind}", **fields)
    assert data.get("form_key"), "the form has no one-time key"
    first, second = (sit.post(f"/agent/new/{kind}", data=data) for _ in range(2))
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert _count(rt) == 1
    other = sit.post(f"/agent/new/{kind}", data=_form(sit, f"/agent/new/{kind}", **fields))
    assert other.headers["Location"] != first.headers["Location"]  # a new form: a new ticket
    assert _count(rt) == 2


def test_a_refused_form_keeps_its_one_time_key(app, world, login):
    sit = login("agent@sit.test")
    data = _form(sit, "/agent/new/change", **{**CHANGE, "title": ""})
    refused = sit.post("/agent/new/change", data=data)
    assert refused.status_code == 422
    assert FORM_KEY_RE.search(refused.get_data(as_text=True)).group(1) == data["form_key"]


def test_a_problem_groups_two_incidents(app, world, rt, login):
    one = _reported(rt, "rep@gst.test", title="Tiles grey")
    two = _reported(rt, "rep@gst.test", system="arkiv", title="Archive slow")
    other_customer = _reported(rt, "rep@erst.test", system="virk")
    sit = login("agent@sit.test")
    page = sit.get("/agent/new/problem").get_data(as_text=True)
    assert '<label for="incidents"' in page and 'name="layer"' in page
    fields = {"system": "kort", "layer": "infrastructure", "title": "Storage latency",
              "description": "Both point at the SAN."}

    refused = sit.post("/agent/new/problem", data=_form(
        sit, "/agent/new/problem", **fields, incidents=f"{one} nonsense, {other_customer}"))
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422 and 'id="incidents-error"' in body
    assert "Not an incident number: nonsense." in body
    assert f"{one} nonsense, {other_customer}" in body  # kept as typed
    assert _count(rt) == 3
    foreign = sit.post("/agent/new/problem", data=_form(
        sit, "/agent/new/problem", **fields, incidents=f"{one} {other_customer}"))
    assert foreign.status_code == 422
    assert f"{other_customer} is not an incident of this system&#39;s customer." in \
        foreign.get_data(as_text=True)

    response = sit.post("/agent/new/problem", data=_form(
        sit, "/agent/new/problem", **fields, incidents=f"{one.lower()},  {two}"))
    assert response.status_code == 303
    number = response.headers["Location"].rsplit("/", 1)[1]
    assert number.startswith("PRB-")
    problem_page = sit.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Problem {number} is registered." in problem_page and "Storage latency" in problem_page
    assert one in problem_page and two in problem_page  # its timeline names the incidents
    for incident in (one, two):
        assert number in sit.get(f"/tickets/{incident}").get_data(as_text=True)  # linked
    assert sorted(tickets.number_of(rt.rules, i) for i in _ticket(rt, number).incidents) == \
        sorted([one, two])


def test_a_change_lands_with_its_planned_window_in_utc(app, world, rt, login):
    sit = login("agent@sit.test")
    page = sit.get("/agent/new/change").get_data(as_text=True)
    for field in ("system", "environment", "change_type", "title", "description",
                  "planned_start", "planned_end"):
        assert f'<label for="{field}"' in page, field
    assert 'type="datetime-local"' in page and 'id="template"' not in page  # no templates yet
    fields = {"system": "kort", "environment": "production", "layer": "operating_system",
              "change_type": "normal", "title": "Kernel update",
              "description": "Reboot both nodes.",
              "planned_start": "2026-12-03T22:00", "planned_end": "2026-12-04T01:30"}

    backwards = sit.post("/agent/new/change", data=_form(
        sit, "/agent/new/change", **{**fields, "planned_end": "2026-12-03T21:00"}))
    assert backwards.status_code == 422
    assert 'id="planned_end-error"' in backwards.get_data(as_text=True)
    not_sits = sit.post("/agent/new/change", data=_form(
        sit, "/agent/new/change", **{**fields, "layer": "application"}))
    assert not_sits.status_code == 403  # an application change is the customer's to raise
    assert "change is raised by the customer" in not_sits.get_data(as_text=True)
    assert "Kernel update" in not_sits.get_data(as_text=True)
    assert _count(rt) == 0

    response = sit.post("/agent/new/change", data=_form(sit, "/agent/new/change", **fields))
    assert response.status_code == 303
    number = response.headers["Location"].rsplit("/", 1)[1]
    assert number.startswith("CHG-")
    assert f"Change {number} is registered." in sit.get(response.headers["Location"]).get_data(
        as_text=True)
    ticket = _ticket(rt, number)
    # Copenhagen is UTC+1 in December
    assert ticket.details["planned_start"] == "2026-12-03T21:00:00+00:00"
    assert ticket.details["planned_end"] == "2026-12-04T00:30:00+00:00"
    assert ticket.details["change_type"] == "normal"
    with rt.session_factory() as s:
        window = s.get(ChangeWindow, ticket.id)
        utc = [(v if v.tzinfo else v.replace(tzinfo=UTC)).astimezone(UTC)
               for v in (window.planned_start, window.planned_end)]
    assert utc == [datetime(2026, 12, 3, 21, 0, tzinfo=UTC), datetime(2026, 12, 4, 0, 30, tzinfo=UTC)]


def test_a_standard_change_from_a_template(app, world, rt, login):
    with rt.session_factory() as s:
        _, boss = world.actor(s, "boss@sit.test")
        changes.create_template(s, rt.rules, boss, {
            "key": "os-patch", "name": "Monthly OS patching", "activity": "patch_management",
            "layer": "operating_system", "description": "The usual monthly patch round."},
            now=WORK_TIME)
        s.commit()
    sit = login("agent@sit.test")
    page = sit.get("/agent/new/change").get_data(as_text=True)
    assert '<label for="template"' in page and "Monthly OS patching" in page
    response = sit.post("/agent/new/change", data=_form(
        sit, "/agent/new/change", system="kort", environment="production", layer="",
        change_type="standard", template="os-patch", title="", description="",
        planned_start="2026-07-01T22:00", planned_end="2026-07-01T23:00"))
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    ticket = _ticket(rt, response.headers["Location"].rsplit("/", 1)[1])
    assert (ticket.title, ticket.layer, ticket.details["template"]) == \
        ("Monthly OS patching", "operating_system", "os-patch")
    assert ticket.details["planned_start"] == "2026-07-01T20:00:00+00:00"  # summer: UTC+2


def test_reporters_and_admins_get_404(app, world, rt, login):
    for email in ("rep@gst.test", "admin@sit.test"):
        client = login(email)
        token = csrf_of(client.get("/account").get_data(as_text=True))
        for kind in ("incident", "problem", "change"):
            assert client.get(f"/agent/new/{kind}").status_code == 404, (email, kind)
            assert client.post(f"/agent/new/{kind}", data={
                "csrf_token": token, "system": "kort", "environment": "production",
                "title": "x", "impact": "2", "urgency": "2"}).status_code == 404
    assert "/agent/new/" not in login("rep@gst.test").get("/portal").get_data(as_text=True)
    assert app.test_client().get("/agent/new/incident").status_code == 302  # to the login
    assert _count(rt) == 0


def test_a_missing_csrf_token_is_refused_and_writes_nothing(app, world, rt, login):
    sit = login("agent@sit.test")
    data = _incident(sit)
    del data["csrf_token"]
    response = sit.post("/agent/new/incident", data=data)
    assert response.status_code == 400
    assert "The form has expired" in response.get_data(as_text=True)
    for kind in ("problem", "change"):
        assert sit.post(f"/agent/new/{kind}", data={"system": "kort", "title": "x"}).status_code \
            == 400
    assert _count(rt) == 0


def test_the_change_form_offers_the_layers_the_party_raises_changes_on(app, world, login):
    def offered(email):
        page = login(email).get("/agent/new/change").get_data(as_text=True)
        return sorted(set(re.findall(r'name="layer" value="([a-z_]+)"', page)))

    assert offered("agent@sit.test") == ["infrastructure", "operating_system"]
    assert offered("agent@gst.test") == ["application", "middleware"]


def test_the_service_desk_logs_a_callers_incident(app, world, rt, login):
    sit = login("agent@sit.test")
    fields = {"system": "kort", "environment": "production", "title": "Caller: maps are grey",
              "description": "Anne called at 09:10.", "impact": "2", "urgency": "2"}
    refused = sit.post("/agent/new/incident", data=_form(sit, "/agent/new/incident", **fields,
                                                         reporter="rep@erst.test"))
    assert refused.status_code == 422 and 'id="reporter-error"' in refused.get_data(as_text=True)
    response = sit.post("/agent/new/incident", data=_form(sit, "/agent/new/incident", **fields,
                                                          reporter="rep@gst.test"))
    assert response.status_code == 303
    number = response.headers["Location"].rsplit("/", 1)[1]
    assert _ticket(rt, number).reporter.email == "rep@gst.test"
    portal = login("rep@gst.test").get("/portal").get_data(as_text=True)
    assert number in portal
