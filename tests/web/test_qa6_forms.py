"""QA round 6, item 10: the web UI's pages for steps the services and the API already had,
through real HTTP (the Flask test client, the real login form and CSRF tokens), in English and
Danish, on both backends: raise a service request (workspace and portal), link and unlink an
incident on a problem's page, resolve a resolved problem's incidents too, the CAB view and the
change calendar, and reschedule a change."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from itilflow.models import AccessLogEntry, Ticket, TicketEvent
from itilflow.models.change import ChangeWindow
from itilflow.services import directory, tickets
from tests.conftest import WORK_TIME
from tests.web.conftest import csrf_of

DA = {"Accept-Language": "da"}


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.unescape(
        response.get_data(as_text=True))))


def _count(rt, kind: str) -> int:
    with rt.session_factory() as s:
        return s.scalar(select(func.count()).select_from(Ticket).where(Ticket.kind == kind))


def _ticket(rt, number: str) -> Ticket:
    with rt.session_factory() as s:
        return s.get(Ticket, int(number.split("-")[1]),
                     options=[selectinload(Ticket.incidents), selectinload(Ticket.problems)])


def _form(client, path: str, **fields) -> dict[str, str]:
    page = client.get(path).get_data(as_text=True)
    data = {"csrf_token": csrf_of(page)}
    if key := re.search(r'name="form_key" value="([^"]+)"', page):
        data["form_key"] = key.group(1)
    data.update(fields)
    return data


def _as(s, email: str):
    user = directory.user_by_email(s, email)
    return user, directory.load_actor(s, user)


def _fire(rt, email: str, number: str, trigger: str, **data) -> None:
    with rt.session_factory() as s:
        user, ctx = _as(s, email)
        tickets.fire_transition(s, rt.rules, user, ctx, int(number.split("-")[1]), trigger, data,
                                now=WORK_TIME)
        s.commit()


def _incident(rt, title: str, layer: str = "operating_system") -> str:
    with rt.session_factory() as s:
        user, ctx = _as(s, "rep@gst.test")
        ticket = tickets.submit_incident(s, rt.rules, user, ctx, {
            "system": "kort", "environment": "production", "layer": layer, "title": title,
            "impact": 2, "urgency": 2}, now=WORK_TIME)
        s.commit()
        return tickets.number_of(rt.rules, ticket)


def _problem(rt, *incidents: str, email: str = "agent@sit.test") -> str:
    with rt.session_factory() as s:
        user, ctx = _as(s, email)
        ticket = tickets.submit_problem(s, rt.rules, user, ctx, {
            "system": "kort", "layer": "operating_system", "title": "Disk fills up",
            "description": "", "incidents": [int(n.split("-")[1]) for n in incidents]},
            now=WORK_TIME)
        s.commit()
        return tickets.number_of(rt.rules, ticket)


def _change(rt, start="2027-01-10T08:00:00+00:00", end="2027-01-10T10:00:00+00:00",
            title="Patch the kernel", system="kort", email="agent@sit.test") -> str:
    with rt.session_factory() as s:
        user, ctx = _as(s, email)
        ticket = tickets.submit_change(s, rt.rules, user, ctx, {
            "system": system, "environment": "production", "layer": "operating_system",
            "change_type": "normal", "title": title, "description": "Kernel 6.1",
            "planned_start": start, "planned_end": end}, now=WORK_TIME)
        s.commit()
        return tickets.number_of(rt.rules, ticket)


def _reads(rt, number: str) -> list[int]:
    with rt.session_factory() as s:
        return list(s.scalars(select(AccessLogEntry.status).where(
            AccessLogEntry.action == "ticket_read", AccessLogEntry.target == number)))


# --- 1. service requests ----------------------------------------------------------------------

def _request(client, path="/agent/new/request", **fields) -> dict[str, str]:
    return _form(client, path, **{
        "system": "kort", "environment": "production", "activity": "restore",
        "layer": "operating_system", "title": "Restore /etc from last night",
        "description": "Someone deleted it.", "impact": "3", "urgency": "2", **fields})


def test_staff_raise_a_service_request_from_the_workspace(app, world, rt, login):
    sit = login("agent@sit.test")
    queue = sit.get("/agent").get_data(as_text=True)
    assert 'href="/agent/new/request"' in queue and "New request" in queue
    page = sit.get("/agent/new/request").get_data(as_text=True)
    for field in ("system", "environment", "activity", "title", "description", "impact",
                  "urgency", "on_request"):
        assert f'<label for="{field}"' in page or f'<label class="check" for="{field}"' in page
    assert 'aria-describedby="on_request-hint"' in page
    for label in ("Restore", "Backup", "Administrative access, prod/pre-prod",
                  "User access, prod/pre-prod"):
        assert label in page
    response = sit.post("/agent/new/request", data=_request(sit))
    assert response.status_code == 303
    number = response.headers["Location"].rsplit("/", 1)[1]
    assert number.startswith("REQ-")
    ticket = _ticket(rt, number)
    assert (ticket.kind, ticket.activity, ticket.layer, ticket.urgency) == \
        ("request", "restore", "operating_system", 2)
    assert ticket.responsible_party == "provider"
    assert f"Request {number} is registered." in _text(sit.get(f"/tickets/{number}"))


def test_a_bad_request_form_is_422_by_the_fields_in_english_and_danish(app, world, rt, login):
    sit = login("agent@sit.test")
    response = sit.post("/agent/new/request", data=_request(
        sit, activity="", layer="", title="", system=""))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for field in ("activity", "title", "system"):
        assert f'id="{field}-error"' in page, field
    assert 'aria-describedby="activity-error"' in page
    assert 'aria-invalid="true"' in page
    assert "Please correct the marked fields." in page
    # footnote 7 is only on the middleware layer: the service names the field
    response = sit.post("/agent/new/request", data=_request(sit, on_request="on"))
    assert response.status_code == 422
    assert 'id="on_request-error"' in response.get_data(as_text=True)
    assert "Only where the matrix has a conditional R" in _text(response)
    assert _count(rt, "request") == 0
    # in Danish
    danish = sit.post("/agent/new/request", headers=DA, data=_request(sit, activity="bogus",
                                                                       title=""))
    assert danish.status_code == 422
    text = _text(danish)
    assert "Ret venligst de markerede felter." in text
    assert "Hvad er der brug for" in text and "Opret anmodning" in text
    assert "Must be one of" not in text and "Required" not in text
    danish = sit.post("/agent/new/request", headers=DA, data=_request(sit, on_request="on"))
    assert "Kun hvor matricen har et betinget R" in _text(danish)
    assert _count(rt, "request") == 0


def test_customers_ask_for_a_service_from_the_portal(app, world, rt, login):
    rep = login("rep@gst.test")
    portal = rep.get("/portal").get_data(as_text=True)
    assert 'href="/portal/requests/new"' in portal
    page = rep.get("/portal/requests/new")
    assert page.status_code == 200 and '<label for="activity"' in page.get_data(as_text=True)
    # footnote 7: the customer asks SIT to restore its database
    response = rep.post("/portal/requests/new", data=_request(
        rep, "/portal/requests/new", layer="middleware", on_request="on"))
    assert response.status_code == 303
    number = response.headers["Location"].rsplit("/", 1)[1]
    ticket = _ticket(rt, number)
    assert (ticket.kind, ticket.on_request, ticket.responsible_party) == \
        ("request", True, "provider")
    # refused by the fields, in Danish, never a 500
    danish = rep.post("/portal/requests/new", headers=DA, data=_request(
        rep, "/portal/requests/new", layer="application", on_request="on"))
    assert danish.status_code == 422
    assert "Bed om en ydelse" in _text(danish) and 'id="on_request-error"' in \
        danish.get_data(as_text=True)
    assert _count(rt, "request") == 1


def test_the_request_forms_are_for_their_roles_and_need_the_csrf_token(app, world, rt, login):
    assert login("rep@gst.test").get("/agent/new/request").status_code == 404
    assert login("admin@sit.test").get("/agent/new/request").status_code == 404
    assert login("admin@sit.test").get("/portal/requests/new").status_code == 404
    assert login("agent@sit.test").get("/portal/requests/new").status_code == 404
    sit = login("agent@sit.test")
    data = _request(sit)
    data.pop("csrf_token")
    assert sit.post("/agent/new/request", data=data).status_code == 400
    assert _count(rt, "request") == 0


# --- 2. a problem's incidents -----------------------------------------------------------------

def test_link_and_unlink_an_incident_on_the_problems_page(app, world, rt, login):
    first, second = _incident(rt, "Disk full on kort01"), _incident(rt, "Disk full on kort02")
    problem = _problem(rt, first)
    sit = login("agent@sit.test")
    page = sit.get(f"/tickets/{problem}").get_data(as_text=True)
    assert '<label for="link-incident">' in page and 'aria-describedby="link-incident-hint"' in page
    assert f'action="/tickets/{problem}/incidents/{first}/unlink"' in page
    token = csrf_of(page)
    response = sit.post(f"/tickets/{problem}/incidents", data={
        "csrf_token": token, "incident": second.lower()})
    assert response.status_code == 303
    assert {t.id for t in _ticket(rt, problem).incidents} == {
        int(first.split("-")[1]), int(second.split("-")[1])}
    shown = sit.get(f"/tickets/{problem}")
    assert f"{second} is linked to this problem." in _text(shown)
    assert f'href="/tickets/{second}"' in shown.get_data(as_text=True)
    # twice: the service's 409, on the page
    again = sit.post(f"/tickets/{problem}/incidents", data={"csrf_token": token,
                                                             "incident": second})
    assert again.status_code == 409
    assert "The incident is linked to this problem already." in _text(again)
    # no such incident, a problem, nothing typed: by the field (422)
    for typed, message in [("INC-999999", "There is no incident INC-999999 that you may see."),
                           (problem, "Not an incident."),
                           ("", "Give an incident number, e.g. INC-000042.")]:
        bad = sit.post(f"/tickets/{problem}/incidents", data={"csrf_token": token,
                                                               "incident": typed})
        assert bad.status_code == 422, typed
        body = bad.get_data(as_text=True)
        assert 'id="link-incident-error"' in body and message in _text(bad)
        assert 'aria-describedby="link-incident-hint link-incident-error"' in body
        assert f'value="{typed}"' in body
    # unlink
    response = sit.post(f"/tickets/{problem}/incidents/{first}/unlink",
                        data={"csrf_token": token})
    assert response.status_code == 303
    assert [t.id for t in _ticket(rt, problem).incidents] == [int(second.split("-")[1])]
    assert f"{first} is no longer linked to this problem." in _text(sit.get(f"/tickets/{problem}"))
    again = sit.post(f"/tickets/{problem}/incidents/{first}/unlink", data={"csrf_token": token})
    assert again.status_code == 409 and "The incident is not linked to this problem." in \
        _text(again)
    # in Danish
    danish = sit.post(f"/tickets/{problem}/incidents", headers=DA,
                      data={"csrf_token": token, "incident": "INC-999999"})
    assert danish.status_code == 422
    assert "Der er ingen hændelse INC-999999, som du må se." in _text(danish)
    assert "Knyt en hændelse til" in _text(danish)
    danish = sit.post(f"/tickets/{problem}/incidents", headers=DA,
                      data={"csrf_token": token, "incident": second})
    assert "Hændelsen er allerede knyttet til dette problem." in _text(danish)
    # every redrawn page is a ticket read of the access log
    assert {409, 422} <= set(_reads(rt, problem))


def test_link_an_incident_to_a_problem_from_the_incidents_page(app, world, rt, login):
    grouped, incident = _incident(rt, "Disk full on kort01"), _incident(rt, "Disk full on kort02")
    problem = _problem(rt, grouped)
    sit = login("agent@sit.test")
    page = sit.get(f"/tickets/{incident}").get_data(as_text=True)
    assert '<label for="link-problem">' in page and 'aria-describedby="link-problem-hint"' in page
    assert "link-problem" not in login("rep@gst.test").get(f"/tickets/{incident}").get_data(
        as_text=True)
    token = csrf_of(page)
    response = sit.post(f"/tickets/{incident}/problems", data={"csrf_token": token,
                                                               "problem": problem})
    assert response.status_code == 303
    assert [t.id for t in _ticket(rt, incident).problems] == [int(problem.split("-")[1])]
    shown = sit.get(f"/tickets/{incident}")
    assert f"This incident is linked to {problem}." in _text(shown)
    assert f'action="/tickets/{incident}/problems/{problem}/unlink"' in shown.get_data(
        as_text=True)
    for typed, message in [("PRB-999999", "There is no problem PRB-999999 that you may see."),
                           (grouped, "Not a problem."),
                           ("", "Give a problem number, e.g. PRB-000042.")]:
        bad = sit.post(f"/tickets/{incident}/problems", data={"csrf_token": token,
                                                              "problem": typed})
        assert bad.status_code == 422, typed
        assert 'id="link-problem-error"' in bad.get_data(as_text=True) and message in _text(bad)
    danish = sit.post(f"/tickets/{incident}/problems", headers=DA,
                      data={"csrf_token": token, "problem": "PRB-999999"})
    assert "Der er intet problem PRB-999999, som du må se." in _text(danish)
    assert "Knyt til et problem" in _text(danish)
    response = sit.post(f"/tickets/{incident}/problems/{problem}/unlink",
                        data={"csrf_token": token})
    assert response.status_code == 303 and _ticket(rt, incident).problems == []
    assert f"This incident is no longer linked to {problem}." in _text(
        sit.get(f"/tickets/{incident}"))
    assert {422} <= set(_reads(rt, incident))


def test_linking_is_the_services_decision_and_csrf_is_required(app, world, rt, login):
    incident, other = _incident(rt, "Disk full"), _incident(rt, "Slow disk")
    problem = _problem(rt, incident)
    # a reporter is offered neither form
    rep_page = login("rep@gst.test").get(f"/tickets/{problem}").get_data(as_text=True)
    assert "link-incident" not in rep_page and "/unlink" not in rep_page
    # the supplier's agent sees the workspace's form; the service refuses it (403)
    sup = login("sup@supplier.test")
    page = sup.get(f"/tickets/{problem}").get_data(as_text=True)
    refused = sup.post(f"/tickets/{problem}/incidents", data={"csrf_token": csrf_of(page),
                                                               "incident": other})
    assert refused.status_code == 403
    assert "Only the party working the problem or the incident links them." in _text(refused)
    danish = sup.post(f"/tickets/{problem}/incidents", headers=DA,
                      data={"csrf_token": csrf_of(page), "incident": other})
    assert "Kun den part, der arbejder på problemet eller hændelsen, knytter dem sammen." in \
        _text(danish)
    sit = login("agent@sit.test")
    assert sit.post(f"/tickets/{problem}/incidents", data={"incident": other}).status_code == 400
    assert sit.post(f"/tickets/{problem}/incidents/{incident}/unlink").status_code == 400
    assert len(_ticket(rt, problem).incidents) == 1
    assert "link-incident" in sit.get(f"/tickets/{problem}").get_data(as_text=True)
    # a cancelled problem offers neither
    _fire(rt, "boss@sit.test", problem, "cancel", comment="Duplicate")
    page = sit.get(f"/tickets/{problem}").get_data(as_text=True)
    assert "link-incident" not in page and "/unlink" not in page


def test_resolve_the_incidents_of_a_resolved_problem_too(app, world, rt, login):
    first, second = _incident(rt, "Disk full on kort01"), _incident(rt, "Disk full on kort02")
    problem = _problem(rt, first, second)
    sit = login("agent@sit.test")
    assert "Resolve its incidents too" not in _text(sit.get(f"/tickets/{problem}"))
    _fire(rt, "agent@sit.test", problem, "investigate")
    _fire(rt, "agent@sit.test", problem, "resolve", resolution="Log rotation fixed")
    _fire(rt, "agent@sit.test", first, "resolve", resolution="Cleaned up by hand")
    page = sit.get(f"/tickets/{problem}").get_data(as_text=True)
    assert "Resolve its incidents too" in page
    assert '<label for="resolve-incidents-resolution">' in page
    # a reporter (who may resolve none of them) is not offered it
    assert "Resolve its incidents too" not in _text(login("rep@gst.test").get(
        f"/tickets/{problem}"))
    response = sit.post(f"/tickets/{problem}/resolve-incidents",
                        data={"csrf_token": csrf_of(page), "resolution": ""})
    assert response.status_code == 303
    assert _ticket(rt, second).state == "resolved"
    assert _ticket(rt, second).resolution == f"Resolved by {problem}: Log rotation fixed"
    text = _text(sit.get(f"/tickets/{problem}"))
    assert f"Resolved: {second}." in text and f"Already resolved: {first}." in text
    # in Danish
    danish = sit.post(f"/tickets/{problem}/resolve-incidents", headers=DA,
                      data={"csrf_token": csrf_of(page)}, follow_redirects=True)
    assert f"Allerede løst: {first}, {second}." in _text(danish)


def test_resolving_the_incidents_waits_for_the_problem(app, world, rt, login):
    incident = _incident(rt, "Disk full")
    problem = _problem(rt, incident)
    sit = login("agent@sit.test")
    page = sit.get(f"/tickets/{problem}").get_data(as_text=True)
    refused = sit.post(f"/tickets/{problem}/resolve-incidents", data={"csrf_token": csrf_of(page)})
    assert refused.status_code == 409 and "Resolve the problem first." in _text(refused)
    assert _ticket(rt, incident).state == "new"
    danish = sit.post(f"/tickets/{problem}/resolve-incidents", headers=DA,
                      data={"csrf_token": csrf_of(page)})
    assert "Løs problemet først." in _text(danish)


# --- 3. the CAB view and the change calendar ----------------------------------------------------

def _awaiting_approval(rt, number: str) -> None:
    _fire(rt, "agent@sit.test", number, "assess")
    _fire(rt, "agent@sit.test", number, "request_approval", risk="low",
          impact_assessment="A reboot of 5 minutes")


def test_the_cab_view_lists_the_changes_awaiting_approval(app, world, rt, login):
    waiting, fresh = _change(rt, title="Patch the kernel"), _change(rt, title="Not yet assessed")
    other = _change(rt, title="Virk patch", system="virk")
    _awaiting_approval(rt, waiting)
    _awaiting_approval(rt, other)
    sit = login("agent@sit.test")
    queue = sit.get("/agent").get_data(as_text=True)
    assert 'href="/changes/cab"' in queue and 'href="/changes/calendar"' in queue
    page = sit.get("/changes/cab")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert f'data-number="{waiting}"' in body and f'data-number="{other}"' in body
    assert f'data-number="{fresh}"' not in body
    assert "Patch the kernel" in body and "Approval" in body
    assert "You may approve it now" not in body          # an agent: the manager approves
    assert "You may approve it now" in login("boss@sit.test").get("/changes/cab").get_data(
        as_text=True)
    # GST sees its own, not ERST's
    gst = login("boss@gst.test").get("/changes/cab").get_data(as_text=True)
    assert f'data-number="{waiting}"' in gst and f'data-number="{other}"' not in gst
    # the window in local time (Copenhagen: UTC+1 in January)
    assert "10 Jan 2027 09:00" in body
    danish = _text(sit.get("/changes/cab", headers=DA))
    assert "CAB-oversigt" in danish and "Godkendelse" in danish
    assert login("rep@gst.test").get("/changes/cab").status_code == 404
    assert login("admin@sit.test").get("/changes/cab").status_code == 404


def test_the_change_calendar_shows_what_the_viewer_may_see(app, world, rt, login):
    kort = _change(rt, title="Patch the kernel")
    virk = _change(rt, title="Virk patch", system="virk", start="2027-01-12T08:00:00+00:00",
                   end="2027-01-12T09:00:00+00:00")
    later = _change(rt, title="Much later", start="2027-06-01T08:00:00+00:00",
                    end="2027-06-01T09:00:00+00:00")
    sit = login("agent@sit.test")
    page = sit.get("/changes/calendar?from=2027-01-01&to=2027-01-31")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert f'data-number="{kort}"' in body and f'data-number="{virk}"' in body
    assert f'data-number="{later}"' not in body
    assert '<label for="cal-start">' in body and "10 Jan 2027" in body
    only = sit.get("/changes/calendar?from=2027-01-01&to=2027-01-31&system=virk").get_data(
        as_text=True)
    assert f'data-number="{kort}"' not in only and f'data-number="{virk}"' in only
    gst = login("agent@gst.test").get("/changes/calendar?from=2027-01-01&to=2027-01-31")
    assert f'data-number="{kort}"' in gst.get_data(as_text=True)
    assert f'data-number="{virk}"' not in gst.get_data(as_text=True)
    # the default period is from today; bad periods by the field (422), never a 500
    assert sit.get("/changes/calendar").status_code == 200
    bad = sit.get("/changes/calendar?from=2027-02-01&to=2027-01-01")
    assert bad.status_code == 422 and 'id="cal-end-error"' in bad.get_data(as_text=True)
    assert 'aria-describedby="cal-end-error"' in bad.get_data(as_text=True)
    long = sit.get("/changes/calendar?from=2027-01-01&to=2029-01-01", headers=DA)
    assert long.status_code == 422 and "Højst 400 dage efter start." in _text(long)
    junk = sit.get("/changes/calendar?from=tomorrow&to=2027-01-01")
    assert junk.status_code == 422 and 'id="cal-start-error"' in junk.get_data(as_text=True)
    unknown = sit.get("/changes/calendar?from=2027-01-01&to=2027-01-31&system=nope")
    assert unknown.status_code == 422 and 'id="cal-system-error"' in unknown.get_data(
        as_text=True)
    danish = _text(sit.get("/changes/calendar?from=2027-01-01&to=2027-01-31", headers=DA))
    assert "Ændringskalender" in danish and "Tidspunkter er lokal tid" in danish
    assert login("rep@gst.test").get("/changes/calendar").status_code == 404


# --- 4. reschedule a change ---------------------------------------------------------------------

def test_the_changes_r_reschedules_it_from_its_page(app, world, rt, login):
    number = _change(rt)
    sit = login("agent@sit.test")
    page = sit.get(f"/tickets/{number}").get_data(as_text=True)
    assert '<label for="reschedule-start">' in page and '<label for="reschedule-end">' in page
    # the current window, in local time
    assert 'value="2027-01-10T09:00"' in page and 'value="2027-01-10T11:00"' in page
    response = sit.post(f"/tickets/{number}/reschedule", data={
        "csrf_token": csrf_of(page), "planned_start": "2027-07-01T22:00",
        "planned_end": "2027-07-02T01:30", "comment": "The vendor's patch is late"})
    assert response.status_code == 303
    with rt.session_factory() as s:
        window = s.get(ChangeWindow, int(number.split("-")[1]))
        # Copenhagen is UTC+2 in July
        assert (window.planned_start.astimezone(UTC), window.planned_end.astimezone(UTC)) == (
            datetime(2027, 7, 1, 20, 0, tzinfo=UTC), datetime(2027, 7, 1, 23, 30, tzinfo=UTC))
        event = s.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == window.ticket_id, TicketEvent.kind == "rescheduled")).one()
        assert event.data["comment"] == "The vendor's patch is late"
    assert "The change is rescheduled." in _text(sit.get(f"/tickets/{number}"))
    # the customer's reporter and agent are not its R: no form, and the service refuses them
    for email in ("rep@gst.test", "agent@gst.test"):
        client = login(email)
        other = client.get(f"/tickets/{number}").get_data(as_text=True)
        assert "reschedule-start" not in other, email
        refused = client.post(f"/tickets/{number}/reschedule", data={
            "csrf_token": csrf_of(other), "planned_start": "2027-08-01T10:00",
            "planned_end": "2027-08-01T11:00"})
        assert refused.status_code == 403, email
        assert "Only the provider, who is responsible for the change, reschedules it." in \
            _text(refused)


def test_a_bad_window_is_422_by_the_field_in_both_languages(app, world, rt, login):
    number = _change(rt)
    sit = login("agent@sit.test")
    token = csrf_of(sit.get(f"/tickets/{number}").get_data(as_text=True))
    bad = sit.post(f"/tickets/{number}/reschedule", data={
        "csrf_token": token, "planned_start": "2027-07-01T10:00", "planned_end": "2027-07-01T09:00"})
    assert bad.status_code == 422
    body = bad.get_data(as_text=True)
    assert 'id="reschedule-end-error"' in body and "Must be after planned_start." in _text(bad)
    assert 'aria-describedby="reschedule-hint reschedule-end-error"' in body
    assert 'value="2027-07-01T09:00"' in body                     # what was typed stays
    assert '<details class="action" id="action-reschedule" open>' in body
    danish = sit.post(f"/tickets/{number}/reschedule", headers=DA, data={
        "csrf_token": token, "planned_start": "2027-07-01T10:00", "planned_end": "2027-07-01T09:00"})
    assert "Skal ligge efter den planlagte start." in _text(danish)
    assert "Flyt" in _text(danish)
    unchanged = sit.post(f"/tickets/{number}/reschedule", data={
        "csrf_token": token, "planned_start": "2027-01-10T09:00", "planned_end": "2027-01-10T11:00"})
    assert unchanged.status_code == 422 and 'id="reschedule-start-error"' in \
        unchanged.get_data(as_text=True)
    assert sit.post(f"/tickets/{number}/reschedule", data={
        "planned_start": "2027-07-01T10:00", "planned_end": "2027-07-01T11:00"}).status_code == 400
    with rt.session_factory() as s:
        assert s.get(ChangeWindow, int(number.split("-")[1])).planned_start.astimezone(UTC) == \
            datetime(2027, 1, 10, 8, 0, tzinfo=UTC)
    assert {422} <= set(_reads(rt, number))


def test_no_reschedule_once_the_change_has_ended(app, world, rt, login):
    number = _change(rt)
    _fire(rt, "agent@sit.test", number, "cancel", comment="Not needed")
    sit = login("agent@sit.test")
    page = sit.get(f"/tickets/{number}").get_data(as_text=True)
    assert "reschedule-start" not in page
    refused = sit.post(f"/tickets/{number}/reschedule", data={
        "csrf_token": csrf_of(page), "planned_start": "2027-07-01T10:00",
        "planned_end": "2027-07-01T11:00"})
    assert refused.status_code == 409
    assert "A change is rescheduled before its implementation starts." in _text(refused)
