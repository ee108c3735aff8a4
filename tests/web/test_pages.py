"""The browser UI through real HTTP-shaped requests (Flask test client), on both backends."""

from __future__ import annotations

import re

import pytest
import requests
from sqlalchemy import func, select

from itilflow.models import ApiToken, Organisation, Ticket, TicketEvent
from itilflow.services import directory, tickets
from tests.conftest import PASSWORD, WORK_TIME
from tests.threaded import at_once, serve
from tests.web.conftest import csrf_of, sign_in


def _incident_form(client, **overrides):
    page = client.get("/portal/incidents/new").get_data(as_text=True)
    data = {"csrf_token": csrf_of(page), "form_key": re.search(r'name="form_key" value="([^"]+)"',
                                                               page).group(1),
            "system": "kort", "environment": "production", "layer": "", "title": "Map tiles fail",
            "description": "Since 09:00 the tiles are blank.", "impact": "2", "urgency": "2"}
    data.update(overrides)
    return data


def _count(rt):
    with rt.session_factory() as s:
        return s.scalar(select(func.count()).select_from(Ticket))


def _submit(rt, email="rep@gst.test", **data):
    with rt.session_factory() as s:
        user, ctx = _actor(s, email)
        payload = {"system": "kort", "environment": "production", "title": "Broken",
                   "impact": 2, "urgency": 2, **data}
        ticket = tickets.submit_incident(s, rt.rules, user, ctx, payload, now=WORK_TIME)
        number = tickets.number_of(rt.rules, ticket)
        s.commit()
        return number


def _actor(s, email):
    user = directory.user_by_email(s, email)
    return user, directory.load_actor(s, user)


def test_each_role_lands_on_its_home(app, world, login):
    for email, home in [("rep@gst.test", "/portal"), ("agent@sit.test", "/agent"),
                        ("boss@gst.test", "/agent"), ("admin@sit.test", "/admin")]:
        response = login(email).get("/")
        assert response.status_code == 302 and response.headers["Location"].endswith(home), email
    assert app.test_client().get("/").headers["Location"].endswith("/login")
    assert app.test_client().get("/agent").status_code == 302  # to the login


def test_portal_form_lists_only_own_systems_and_keeps_input_on_errors(app, world, rt, login):
    client = login("rep@gst.test")
    page = client.get("/portal/incidents/new").get_data(as_text=True)
    for label in ("System", "Environment", "Layer", "Title", "Description", "Impact", "Urgency",
                  "Outage"):
        assert label in page
    assert "Kortforsyningen" in page and "Matrikelarkivet" in page and "Virk" not in page
    assert "the application itself" in page and "hardware, storage or network" in page
    refused = client.post("/portal/incidents/new", data=_incident_form(
        client, title="", description="kept text", environment="test", system="arkiv"))
    body = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert 'id="title-error"' in body and 'id="environment-error"' in body
    assert "kept text" in body
    another_org = client.post("/portal/incidents/new", data=_incident_form(client, system="virk"))
    assert another_org.status_code == 422 and 'id="system-error"' in another_org.get_data(as_text=True)
    assert _count(rt) == 0


def test_double_submit_makes_one_ticket_and_it_is_listed(app, world, rt, login):
    client = login("rep@gst.test")
    data = _incident_form(client, outage="on", layer="application")
    first = client.post("/portal/incidents/new", data=data)
    second = client.post("/portal/incidents/new", data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert _count(rt) == 1
    listing = client.get("/portal").get_data(as_text=True)
    assert "Map tiles fail" in listing and "Your IT team" in listing
    ticket_page = client.get(first.headers["Location"]).get_data(as_text=True)
    assert "Map tiles fail" in ticket_page and "Outage reported" in ticket_page


def test_another_organisations_ticket_is_404(app, world, rt, login):
    number = _submit(rt)
    assert login("rep@erst.test").get(f"/tickets/{number}").status_code == 404
    assert login("agent@erst.test").get(f"/tickets/{number}").status_code == 404
    assert login("rep@gst.test").get(f"/tickets/{number}").status_code == 200
    assert login("rep@gst.test").get("/tickets/INC-999999").status_code == 404
    assert login("rep@gst.test").get("/tickets/garbage%00").status_code == 404


def test_agent_triage_reclassify_hands_over(app, world, rt, login):
    number = _submit(rt, title="Nobody knows")
    sit = login("agent@sit.test")
    queue = sit.get("/agent?queue=triage").get_data(as_text=True)
    assert number in queue
    page = sit.get(f"/tickets/{number}").get_data(as_text=True)
    assert "Who does what (RACI)" in page and "Reclassify layer" in page
    assert 'name="version"' in page
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    response = sit.post(f"/tickets/{number}/transitions/reclassify", data={
        "csrf_token": csrf_of(page), "version": version, "layer": "application",
        "comment": "It is the app"})
    assert response.status_code == 303
    assert number not in sit.get("/agent?queue=triage").get_data(as_text=True)
    customer_queue = login("agent@gst.test").get("/agent?queue=mine").get_data(as_text=True)
    assert number in customer_queue
    timeline = sit.get(f"/tickets/{number}").get_data(as_text=True)
    assert "handed over from SIT to the customer" in timeline
    stale = sit.post(f"/tickets/{number}/transitions/reclassify", data={
        "csrf_token": csrf_of(page), "version": version, "layer": "middleware"})
    assert stale.status_code in (403, 409)  # SIT is no longer R, or the version is stale


def test_action_form_errors_and_stale_version(app, world, rt, login):
    number = _submit(rt, layer="operating_system")
    sit = login("agent@sit.test")
    page = sit.get(f"/tickets/{number}").get_data(as_text=True)
    token = csrf_of(page)
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    missing = sit.post(f"/tickets/{number}/transitions/resolve",
                       data={"csrf_token": token, "version": version})
    assert missing.status_code == 422 and 'id="resolution-error"' in missing.get_data(as_text=True)
    ok = sit.post(f"/tickets/{number}/transitions/start_work",
                  data={"csrf_token": token, "version": version})
    assert ok.status_code == 303
    stale = sit.post(f"/tickets/{number}/transitions/resolve",
                     data={"csrf_token": token, "version": version, "resolution": "Rebooted"})
    assert stale.status_code == 409
    assert "Someone changed this ticket meanwhile" in stale.get_data(as_text=True)
    reporter = login("rep@gst.test")
    rep_page = reporter.get(f"/tickets/{number}").get_data(as_text=True)
    assert "Who does what (RACI)" not in rep_page and "Reclassify" not in rep_page
    comment = reporter.post(f"/tickets/{number}/comments",
                            data={"csrf_token": csrf_of(rep_page), "body": "Still down here"})
    assert comment.status_code == 303
    assert "Still down here" in sit.get(f"/tickets/{number}").get_data(as_text=True)


def test_resolution_confirmed_by_the_reporter(app, world, rt, login):
    number = _submit(rt, layer="operating_system")
    sit = login("agent@sit.test")
    page = sit.get(f"/tickets/{number}").get_data(as_text=True)
    assert sit.post(f"/tickets/{number}/transitions/resolve", data={
        "csrf_token": csrf_of(page), "resolution": "Disk replaced"}).status_code == 303
    reporter = login("rep@gst.test")
    assert "You: please confirm the solution" in reporter.get("/portal").get_data(as_text=True)
    rep_page = reporter.get(f"/tickets/{number}").get_data(as_text=True)
    assert "Confirm resolution" in rep_page and "Reject resolution" in rep_page
    done = reporter.post(f"/tickets/{number}/transitions/confirm",
                         data={"csrf_token": csrf_of(rep_page)})
    assert done.status_code == 303
    with rt.session_factory() as s:
        assert s.get(Ticket, int(number.split("-")[1])).state == "closed"


def test_bulk_assign_reports_each_ticket(app, world, rt, login):
    own = [_submit(rt, title=f"T{i}") for i in range(2)]
    other = _submit(rt, email="rep@erst.test", system="virk", layer="application")
    sit = login("agent@sit.test")
    page = sit.get("/agent?queue=triage").get_data(as_text=True)
    response = sit.post("/agent/bulk-assign", data={
        "csrf_token": csrf_of(page), "ticket": [*own, other], "assignee": "me"},
        follow_redirects=True)
    body = response.get_data(as_text=True)
    assert f"2 assigned. Not assigned: {other} (" in body
    with rt.session_factory() as s:
        assigned = s.scalars(select(Ticket).where(Ticket.assignee_id.is_not(None))).all()
        assert sorted(tickets.number_of(rt.rules, t) for t in assigned) == sorted(own)
    mine = sit.get("/agent?queue=assigned").get_data(as_text=True)
    assert all(n in mine for n in own)
    rows = sit.get("/agent/rows?queue=assigned")
    assert rows.status_code == 200 and own[0] in rows.get_data(as_text=True)


def test_bulk_assign_says_why_a_ticket_was_not_assigned(app, world, rt, login):
    """Assigning to someone who may not take the work names the field's reason, not the
    generic "Invalid fields for 'assign'"."""
    number = _submit(rt, title="Disk", layer="operating_system")
    with rt.session_factory() as s:
        customer_agent = directory.user_by_email(s, "agent@gst.test").id
    sit = login("agent@sit.test")
    page = sit.get("/agent?queue=triage").get_data(as_text=True)
    body = sit.post("/agent/bulk-assign", follow_redirects=True, data={
        "csrf_token": csrf_of(page), "ticket": [number], "assignee": str(customer_agent)},
    ).get_data(as_text=True)
    assert f"0 assigned. Not assigned: {number} (No such user)." in body


def _http_sign_in(base: str, email: str) -> requests.Session:
    browser = requests.Session()
    token = csrf_of(browser.get(f"{base}/login", timeout=30).text)
    signed = browser.post(f"{base}/login", data={"email": email, "password": PASSWORD,
                                                 "csrf_token": token}, timeout=30)
    assert signed.status_code == 200 and "/login" not in signed.url
    return browser


def test_two_agents_bulk_assigning_at_once_both_get_an_answer(app, world, rt):
    """Two agents select the same tickets and press "Assign" together. On SQLite the
    savepoints used to open a deferred transaction that could not start writing beside the
    other request ("database is locked": a 500); now one waits for the other and both are
    told what happened, over a real threaded server on both backends."""
    numbers = [_submit(rt, title=f"Same {i}") for i in range(4)]
    with serve(app) as base:
        agents = [_http_sign_in(base, email) for email in ("agent@sit.test", "agent2@sit.test")]

        def assign(browser):
            def call():
                page = browser.get(f"{base}/agent?queue=triage", timeout=30).text
                return browser.post(f"{base}/agent/bulk-assign", timeout=60, data={
                    "csrf_token": csrf_of(page), "ticket": numbers, "assignee": "me"})
            return call
        for _ in range(3):
            answers = at_once([assign(agent) for agent in agents])
            assert [a.status_code for a in answers] == [200, 200], [a.text[:300] for a in answers]
            assert all("4 assigned." in a.text for a in answers)
    with rt.session_factory() as s:
        assigned = s.scalars(select(Ticket)).all()
        emails = {t.assignee.email for t in assigned}
        assert len(assigned) == 4 and emails <= {"agent@sit.test", "agent2@sit.test"}
        # every assignment is in each history once, one after the other: 6 per ticket
        for t in assigned:
            seqs = s.scalars(select(TicketEvent.seq).where(TicketEvent.ticket_id == t.id)
                             .where(TicketEvent.trigger == "assign")).all()
            assert len(seqs) == 6 == len(set(seqs))


def test_queue_filters_search_and_keyset_pages(app, world, rt, login):
    numbers = [_submit(rt, title=f"Disk {i}", impact=1 if i % 2 else 3) for i in range(5)]
    sit = login("agent@sit.test")
    assert numbers[1] in sit.get("/agent?queue=open&priority=P2").get_data(as_text=True)
    assert numbers[0] not in sit.get("/agent?queue=open&priority=P2").get_data(as_text=True)
    found = sit.get(f"/agent?queue=open&q={numbers[3]}").get_data(as_text=True)
    assert numbers[3] in found and numbers[2] not in found
    assert sit.get("/agent?queue=open&layer=bogus").status_code == 200  # a message, not a 500
    with rt.session_factory() as s:
        _user, ctx = _actor(s, "agent@sit.test")
        from itilflow.services import queues
        seen, cursor = [], None
        while True:
            rows, cursor = queues.queue_tickets(s, rt.rules, ctx, "triage", queues.QueueFilters(),
                                                now=WORK_TIME, cursor=cursor, limit=2)
            seen += [r.id for r in rows]
            if not cursor:
                break
        assert len(seen) == 5 == len(set(seen))
        dues = [s.get(Ticket, i).sla_due_at for i in seen]
        assert dues == sorted(dues)


def test_forms_refuse_a_missing_csrf_token(app, world, rt, login):
    client = login("rep@gst.test")
    data = _incident_form(client)
    data.pop("csrf_token")
    response = client.post("/portal/incidents/new", data=data)
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)
    assert _count(rt) == 0


def test_login_throttles_password_guessing(app, world):
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    statuses = [client.post("/login", data={"email": "rep@gst.test", "password": f"guess{i}",
                                            "csrf_token": token}).status_code for i in range(12)]
    assert statuses[:10] == [401] * 10 and statuses[-1] == 429
    refused = client.post("/login", data={"email": "rep@gst.test", "password": PASSWORD,
                                          "csrf_token": token})
    assert refused.status_code == 429 and "Too many attempts" in refused.get_data(as_text=True)


@pytest.mark.parametrize(("email", "form"), [
    ("rep@gst.test", "/portal/incidents/new"), ("agent@sit.test", "/agent/new/incident"),
    ("agent@sit.test", "/agent/new/problem"), ("agent@sit.test", "/agent/new/change")])
def test_ticket_forms_throttle_a_flood_from_one_account_not_its_colleagues(
        app, world, login, email, form):
    flooding, colleague = login(email), login(email.replace("@", "2@") if "sit" in email
                                                 else "agent@gst.test")
    token = csrf_of(flooding.get(form).get_data(as_text=True))
    statuses = [flooding.post(form, data={"csrf_token": token}).status_code for _ in range(31)]
    assert statuses[:30] == [422] * 30 and statuses[30] == 429   # ITILFLOW_FORM_RATE_LIMIT
    assert "Too many attempts" in flooding.post(form, data={"csrf_token": token}).get_data(
        as_text=True)
    # the same address, another account: not throttled
    other = csrf_of(colleague.get(form).get_data(as_text=True))
    assert colleague.post(form, data={"csrf_token": other}).status_code == 422


def test_redis_away_is_no_500(app, world, database_url, tmp_path):
    from itilflow.app import create_app
    from itilflow.settings import Settings

    other = create_app(Settings.load(database_url=database_url, secret_key="x", testing=True,
                                     instance_dir=tmp_path, redis_url="redis://127.0.0.1:1/15"))
    client = other.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    for _ in range(3):
        assert client.post("/login", data={"email": "rep@gst.test", "password": "nope",
                                           "csrf_token": token}).status_code == 401
    sign_in(client, "rep@gst.test")
    other.extensions["itilflow"].engine.dispose()


def test_logout_and_password_change_end_the_session(app, world, rt):
    client = app.test_client()
    sign_in(client, "rep@gst.test")
    cookie = client.get_cookie("session").value
    page = client.get("/portal").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": csrf_of(page)}).status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", cookie)
    assert replay.get("/portal").status_code == 302  # the old cookie is void

    first, second = app.test_client(), app.test_client()
    sign_in(first, "agent@gst.test")
    sign_in(second, "agent@gst.test")
    page = first.get("/account").get_data(as_text=True)
    wrong = first.post("/account", data={"csrf_token": csrf_of(page), "form": "password",
                                         "current": "nope", "new": "a new password 1",
                                         "repeat": "a new password 1"})
    assert wrong.status_code == 403 or wrong.status_code == 422
    huge = "x" * 1025  # the rule of every other password form: at most 1024 characters
    too_long = first.post("/account", data={"csrf_token": csrf_of(page), "form": "password",
                                            "current": PASSWORD, "new": huge, "repeat": huge})
    assert too_long.status_code == 422
    assert "At most 1024 characters." in too_long.get_data(as_text=True)
    changed = first.post("/account", data={"csrf_token": csrf_of(page), "form": "password",
                                           "current": PASSWORD, "new": "a new password 1",
                                           "repeat": "a new password 1"})
    assert changed.status_code == 302
    assert second.get("/agent").status_code == 302 and first.get("/agent").status_code == 302
    sign_in(app.test_client(), "agent@gst.test", "a new password 1")


def test_danish_from_the_browser_or_the_users_setting(app, world, login):
    client = login("rep@gst.test")
    da = client.get("/portal/incidents/new", headers={"Accept-Language": "da,en;q=0.5"})
    assert "Meld en fejl" in da.get_data(as_text=True) and 'lang="da"' in da.get_data(as_text=True)
    page = client.get("/account").get_data(as_text=True)
    assert client.post("/account", data={"csrf_token": csrf_of(page), "form": "locale",
                                         "locale": "da"}).status_code == 302
    assert "Meld en fejl" in client.get("/portal").get_data(as_text=True)
    assert client.post("/account", data={"csrf_token": csrf_of(page), "form": "locale",
                                         "locale": "xx"}).status_code == 422


def test_admin_pages_and_writes(app, world, rt, login):
    admin = login("admin@sit.test")
    index = admin.get("/admin")
    assert index.status_code == 200 and "agent@sit.test" in index.get_data(as_text=True)
    token = csrf_of(index.get_data(as_text=True))
    assert admin.post("/admin", data={"csrf_token": token, "form": "organisation",
                                      "name": "Kystdirektoratet", "kind": "customer"}).status_code == 303
    duplicate = admin.post("/admin", data={"csrf_token": token, "form": "organisation",
                                           "name": "GST", "kind": "customer"})
    assert duplicate.status_code == 422
    bad_user = admin.post("/admin", data={"csrf_token": token, "form": "user", "email": "x@kdi.test",
                                          "organisation": "Kystdirektoratet", "role": "sit_agent",
                                          "password": PASSWORD})
    assert bad_user.status_code == 422 and "x@kdi.test" in bad_user.get_data(as_text=True)
    assert admin.post("/admin", data={"csrf_token": token, "form": "user", "email": "x@kdi.test",
                                      "organisation": "Kystdirektoratet", "role": "reporter",
                                      "password": PASSWORD}).status_code == 303
    created = admin.post("/admin/systems", data={
        "csrf_token": token, "key": "kyst", "name": "Kystportal", "customer": "Kystdirektoratet",
        "environments": "production, test", "vagtordning": "on", "load_balancer": "on",
        "suppliers": "Supplier A/S"})
    assert created.status_code == 303
    assert admin.post("/admin/systems/kyst", data={
        "csrf_token": token, "name": "Kystportalen", "environments": "production"}).status_code == 303
    too_many = admin.post("/admin/systems/kyst", data={   # the API's limit holds in the form too
        "csrf_token": token, "name": "Kystportalen",
        "environments": ", ".join(f"env{i}" for i in range(21))})
    assert too_many.status_code == 422 and "At most 20." in too_many.get_data(as_text=True)
    systems = admin.get("/admin/systems").get_data(as_text=True)
    assert "Kystportalen" in systems
    made = admin.post("/admin/tokens", data={"csrf_token": token, "form": "create",
                                             "email": "agent@sit.test", "name": "ci"})
    shown = re.search(r'id="new-token">(itf_[^<]+)<', made.get_data(as_text=True)).group(1)
    assert shown not in admin.get("/admin/tokens").get_data(as_text=True)  # shown once
    with rt.session_factory() as s:
        row = s.scalar(select(ApiToken))
        assert s.scalar(select(func.count()).select_from(Organisation)) == 5
    assert admin.post("/admin/tokens", data={"csrf_token": token, "form": "revoke",
                                             "token_id": str(row.id)}).status_code == 303
    with rt.session_factory() as s:
        assert s.get(ApiToken, row.id).revoked_at is not None
    diagram = admin.get("/admin/workflows/incident").get_data(as_text=True)
    assert "<svg" in diagram and "Reclassify layer" in diagram
    assert admin.get("/admin/workflows/nope").status_code == 404
    assert login("agent@sit.test").get("/admin").status_code == 404
    assert login("rep@gst.test").get("/agent").status_code == 404


def test_junk_input_is_never_a_500(app, world, rt, login):
    import base64
    import json

    number = _submit(rt)
    sit = login("agent@sit.test")
    naive = base64.urlsafe_b64encode(json.dumps(["2026-01-01T00:00:00", 1]).encode()).decode()
    huge = base64.urlsafe_b64encode(json.dumps([None, 2**40]).encode()).decode()
    for url in ["/agent?assignee=99999999999999", "/agent?assignee=x", "/agent?cursor=%%%",
                f"/agent?cursor={naive}", f"/agent/rows?cursor={huge}", "/agent?queue=nope",
                "/agent?priority=P9", "/agent/rows?layer=x", "/tickets/INC-99999999999",
                "/tickets/INC-2147483648", "/portal?cursor=junk", "/admin/workflows/x",
                "/agent?q=%25_%5C", "/tickets/%F0%9F%92%A5"]:
        assert sit.get(url).status_code < 500, url
    page = sit.get(f"/tickets/{number}").get_data(as_text=True)
    token = csrf_of(page)
    for trigger, data in [("assign", {"assignee": "99999999999999"}), ("assign", {"assignee": "x"}),
                          ("nope", {}), ("reclassify", {"layer": "kernel"}),
                          ("resolve", {"resolution": "x" * 30_000}),
                          ("start_work", {"version": "99999999999999999"})]:
        response = sit.post(f"/tickets/{number}/transitions/{trigger}",
                            data={"csrf_token": token, **data})
        assert 400 <= response.status_code < 500, (trigger, response.status_code)
    bulk = sit.post("/agent/bulk-assign", data={"csrf_token": token, "ticket": ["x", "INC-0"],
                                                "assignee": "99999999999999", "back": "//evil"})
    assert bulk.status_code == 303 and bulk.headers["Location"].endswith("/agent")
    reporter = login("rep@gst.test")
    form = _incident_form(reporter, impact="9", urgency="", system="nope", title="x" * 500)
    assert reporter.post("/portal/incidents/new", data=form).status_code == 422
    nul = _incident_form(reporter, system="\x00")
    assert reporter.post("/portal/incidents/new", data=nul).status_code == 400
    login_page = app.test_client()
    assert login_page.post("/login", data={"email": "a\x00@b.c", "password": "x", "csrf_token": csrf_of(
        login_page.get("/login").get_data(as_text=True))}).status_code == 400
    assert _count(rt) == 1


def test_digits_that_are_no_numbers_are_refused_not_500(app, world, rt, login):
    """'²' is a digit to str.isdigit() but int() refuses it: every number read from a form or
    an address goes through str.isdecimal()."""
    number = _submit(rt, layer="operating_system")
    sit = login("agent@sit.test")
    page = sit.get(f"/tickets/{number}").get_data(as_text=True)
    assert sit.get("/tickets/²").status_code == 404
    stale = sit.post(f"/tickets/{number}/transitions/assign", data={
        "csrf_token": csrf_of(page), "version": "²", "assignee": "²"})
    assert stale.status_code in (403, 409, 422)
    assert sit.get("/agent?queue=triage&assignee=²").status_code in (200, 422)
    assert sit.post("/notifications/read", data={"csrf_token": csrf_of(page), "id": "²"}
                    ).status_code in (302, 303)
    admin = login("admin@sit.test")
    assert admin.get("/admin/access-log?before=²").status_code in (200, 422)
