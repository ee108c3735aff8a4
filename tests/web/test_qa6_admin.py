"""QA round 6 in the browser's shoes (Flask test client, real login form and CSRF tokens, both
backends): bulk assignment from a stale queue page, two admins editing one system or its
escalation, organisation and system names, pager hook addresses, the access log's "Until" day,
and a stale ticket form keeping what was typed."""

from __future__ import annotations

import html
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from itilflow.models import Organisation, System, Ticket
from itilflow.models.paging import PagerHook
from itilflow.services import directory, paging, tickets
from tests.conftest import WORK_TIME
from tests.web.conftest import csrf_of


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.unescape(
        response.get_data(as_text=True))))


def _submit(rt, title="Map tiles fail") -> str:
    with rt.session_factory() as s:
        user = directory.user_by_email(s, "rep@gst.test")
        ticket = tickets.submit_incident(s, rt.rules, user, directory.load_actor(s, user), {
            "system": "kort", "environment": "production", "title": title, "impact": 2,
            "urgency": 2}, now=WORK_TIME)
        s.commit()
        return tickets.number_of(rt.rules, ticket)


def _ticket(rt, number: str) -> Ticket:
    s = rt.session_factory()
    return s.get(Ticket, int(number.split("-")[1]))


def _queue_form(page: str) -> dict:
    """What the queue page's bulk form posts: its hidden fields, every row's included."""
    data: dict = {"csrf_token": csrf_of(page)}
    for name, value in re.findall(r'<input type="hidden" name="(version_[^"]+)" value="([^"]*)"',
                                  page):
        data[name] = value
    data["back"] = "/agent?queue=open"
    return data


# --- M1 -------------------------------------------------------------------------------------

def test_bulk_assign_from_a_stale_queue_page_does_not_overwrite_a_colleague(app, world, rt,
                                                                             login):
    taken, free = _submit(rt, "Taken meanwhile"), _submit(rt, "Still free")
    mine = login("agent@sit.test")
    page = mine.get("/agent?queue=open").get_data(as_text=True)   # tab A
    assert f'name="version_{taken}"' in page
    colleague = login("agent2@sit.test")                          # tab B: assigns it
    ticket_page = colleague.get(f"/tickets/{taken}").get_data(as_text=True)
    with rt.session_factory() as s:
        colleague_id = directory.user_by_email(s, "agent2@sit.test").id
        me_id = directory.user_by_email(s, "agent@sit.test").id
    assert colleague.post(f"/tickets/{taken}/transitions/assign", data={
        "csrf_token": csrf_of(ticket_page), "assignee": str(colleague_id),
        "version": re.search(r'name="version" value="(\d+)"', ticket_page).group(1),
    }).status_code == 303
    answer = mine.post("/agent/bulk-assign", follow_redirects=True, data={
        **_queue_form(page), "ticket": [taken, free], "assignee": "me"})
    text = _text(answer)
    assert f"1 assigned. Not assigned: {taken} (Someone changed it after the queue was shown: " \
           "open it and check)." in text
    assert _ticket(rt, taken).assignee_id == colleague_id   # not overwritten
    assert _ticket(rt, free).assignee_id == me_id
    # in Danish too
    page = mine.get("/agent?queue=open").get_data(as_text=True)
    colleague.post(f"/tickets/{free}/transitions/assign", data={
        "csrf_token": csrf_of(ticket_page), "assignee": str(colleague_id)})
    danish = mine.post("/agent/bulk-assign", follow_redirects=True,
                       headers={"Accept-Language": "da"},
                       data={**_queue_form(page), "ticket": [free], "assignee": "me"})
    assert "efter køen blev vist" in _text(danish)
    assert _ticket(rt, free).assignee_id == colleague_id


# --- M2 -------------------------------------------------------------------------------------

def _system_form(page: str, **fields) -> dict:
    data = {"csrf_token": csrf_of(page),
            "fingerprint": re.search(r'name="fingerprint" value="([^"]+)"', page).group(1),
            "name": html.unescape(re.search(r'id="s-name" name="name" value="([^"]*)"',
                                            page).group(1)),
            "environments": re.search(r'id="s-envs" name="environments" value="([^"]*)"',
                                      page).group(1)}
    data.update(fields)
    return data


def test_a_second_admin_does_not_silently_undo_the_firsts_system_save(app, world, rt, login):
    tab_a, tab_b = login("admin@sit.test"), login("admin@sit.test")
    page_a = tab_a.get("/admin/systems/arkiv").get_data(as_text=True)
    page_b = tab_b.get("/admin/systems/arkiv").get_data(as_text=True)
    saved = tab_b.post("/admin/systems/arkiv", data=_system_form(
        page_b, vagtordning="on", suppliers="Supplier A/S"))
    assert saved.status_code == 303
    refused = tab_a.post("/admin/systems/arkiv", data=_system_form(page_a, name="Matrikelarkiv"))
    assert refused.status_code == 409
    text = _text(refused)
    assert "Another admin saved this system after you opened the form. The form now shows the " \
           "saved values: make your change again." in text
    with rt.session_factory() as s:
        arkiv = s.scalar(select(System).where(System.key == "arkiv"))
        assert arkiv.name == "Matrikelarkivet" and arkiv.vagtordning
        assert [o.name for o in arkiv.suppliers] == ["Supplier A/S"]
    # the form is drawn with the saved values and the new fingerprint: saving again works
    body = refused.get_data(as_text=True)
    assert re.search(r'<input type="checkbox" name="vagtordning" checked>', body)
    assert re.search(r'name="suppliers" value="Supplier A/S" checked', body)
    again = tab_a.post("/admin/systems/arkiv", data=_system_form(
        body, name="Matrikelarkiv", vagtordning="on", suppliers="Supplier A/S"))
    assert again.status_code == 303
    with rt.session_factory() as s:
        arkiv = s.scalar(select(System).where(System.key == "arkiv"))
        assert arkiv.name == "Matrikelarkiv" and arkiv.vagtordning and arkiv.suppliers


def _escalation_form(page: str, party: str, hook: str) -> dict:
    form = re.search(rf'<input type="hidden" name="party" value="{party}">\s*'
                     r'<input type="hidden" name="fingerprint" value="([^"]+)">', page)
    return {"csrf_token": csrf_of(page), "party": party, "fingerprint": form.group(1),
            "hook_0": hook, "delay_0": "5", "unit_0": "minutes", "schedule_0": ""}


def test_a_second_admin_does_not_silently_undo_the_firsts_escalation_save(app, world, rt,
                                                                          login):
    with rt.session_factory() as s:
        admin = directory.load_actor(s, directory.user_by_email(s, "admin@sit.test"))
        for name in ("sit-l1", "sit-l2"):
            paging.create_hook(s, admin, {"name": name, "url": f"http://127.0.0.1:9/{name}",
                                          "format": "generic"}, now=WORK_TIME)
        s.commit()
    tab_a, tab_b = login("admin@sit.test"), login("admin@sit.test")
    page_a = tab_a.get("/admin/systems/kort").get_data(as_text=True)
    page_b = tab_b.get("/admin/systems/kort").get_data(as_text=True)
    assert tab_b.post("/admin/systems/kort/escalation",
                      data=_escalation_form(page_b, "provider", "sit-l1")).status_code == 303
    refused = tab_a.post("/admin/systems/kort/escalation",
                         data=_escalation_form(page_a, "provider", "sit-l2"))
    assert refused.status_code == 409
    assert "Another admin saved these levels after you opened the form." in _text(refused)
    # drawn with the saved level, not the refused one
    assert re.search(r'id="provider-hook_0" name="hook_0"\s*>.*?<option selected>sit-l1</option>',
                     refused.get_data(as_text=True), re.S)
    with rt.session_factory() as s:
        kort = s.scalar(select(System).where(System.key == "kort"))
        assert [lv.hook.name for lv in paging.levels_of(s, kort.id, "provider")] == ["sit-l1"]
    # the other party's form of the same stale page is its own: still saves
    assert tab_a.post("/admin/systems/kort/escalation",
                      data=_escalation_form(page_a, "customer", "sit-l2")).status_code == 303


# --- M4, L1, L2, L3 ---------------------------------------------------------------------------

def _org(client, token, name, kind="customer", **headers):
    return client.post("/admin", headers=headers, data={
        "csrf_token": token, "form": "organisation", "name": name, "kind": kind})


def test_organisation_names_differing_in_non_ascii_case_get_the_field_error(app, world, rt,
                                                                            login):
    admin = login("admin@sit.test")
    token = csrf_of(admin.get("/admin").get_data(as_text=True))
    assert _org(admin, token, "Ærø Kommune 🙂").status_code == 303
    for twin in ("Ærø Kommune 🙂", "ærø kommune 🙂"):
        refused = _org(admin, token, twin, kind="supplier")
        assert refused.status_code == 422, twin
        body = refused.get_data(as_text=True)
        assert 'id="name-error">Already exists.</p>' in body
        assert re.search(r'id="org-name" name="name" required value="[^"]*"\s*aria-invalid="true"',
                         body)
        assert f'value="{twin}"' in body   # what was typed is kept
        # L2: the kind chosen is kept
        assert '<option value="supplier" selected>supplier</option>' in body
    danish = _org(admin, token, "ÆRØ KOMMUNE 🙂", **{"Accept-Language": "da"})
    assert 'id="name-error">Findes allerede.</p>' in danish.get_data(as_text=True)
    with rt.session_factory() as s:
        assert s.scalars(select(Organisation.name).where(
            Organisation.name.like("%🙂"))).all() == ["Ærø Kommune 🙂"]


def test_odd_whitespace_in_a_new_organisation_name_is_tidied_and_options_carry_values(
        app, world, rt, login):
    admin = login("admin@sit.test")
    token = csrf_of(admin.get("/admin").get_data(as_text=True))
    assert _org(admin, token, "  Region\tNord  Jylland \n").status_code == 303
    with rt.session_factory() as s:
        assert s.scalar(select(Organisation.id).where(
            Organisation.name == "Region Nord Jylland")) is not None
    page = admin.get("/admin").get_data(as_text=True)
    assert '<option value="Region Nord Jylland" >Region Nord Jylland</option>' in page
    systems = admin.get("/admin/systems").get_data(as_text=True)
    assert '<option value="Region Nord Jylland" >Region Nord Jylland</option>' in systems
    # the option's value is what the service gets: a system for it is created
    assert admin.post("/admin/systems", data={
        "csrf_token": token, "key": "rnj", "name": "RNJ", "customer": "Region Nord Jylland",
        "environments": "production"}).status_code == 303


def test_the_user_forms_name_field_is_marked_invalid_with_its_error(app, world, login):
    admin = login("admin@sit.test")
    token = csrf_of(admin.get("/admin").get_data(as_text=True))
    refused = admin.post("/admin", data={
        "csrf_token": token, "form": "user", "email": "new@gst.test", "name": "Bo\u200b",
        "organisation": "GST", "role": "reporter", "password": "correct horse battery"})
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert re.search(r'<input id="u-name" name="name" value="[^"]*" aria-invalid="true" '
                     r'aria-describedby="name-error">', body)


# --- L4 ---------------------------------------------------------------------------------------

def test_a_system_may_not_be_renamed_to_another_systems_name(app, world, rt, login):
    admin = login("admin@sit.test")
    page = admin.get("/admin/systems/kort").get_data(as_text=True)
    refused = admin.post("/admin/systems/kort", data=_system_form(page, name="matrikelarkivet"))
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert 'id="name-error">Another system has this name.</p>' in body
    assert 'value="matrikelarkivet"' in body
    with rt.session_factory() as s:
        assert s.scalar(select(System.name).where(System.key == "kort")) == "Kortforsyningen"


# --- L5 ---------------------------------------------------------------------------------------

def test_pager_hook_addresses_with_credentials_long_ones_and_twin_names(app, world, rt, login):
    admin = login("admin@sit.test")
    token = csrf_of(admin.get("/admin/pager").get_data(as_text=True))

    def add(name, url):
        return admin.post("/admin/pager", data={"csrf_token": token, "name": name, "url": url,
                                                "format": "generic"})
    creds = add("kort-l1", "https://user:pw@pager.example/x")
    assert creds.status_code == 422
    assert "No user name or password in the address: put secrets in the hook's signing secret " \
           "or routing key." in _text(creds)
    long = add("kort-l1", "https://pager.example/" + "x" * 5000)
    assert long.status_code == 422 and 'id="url-error">At most 2000 characters.</p>' in \
        long.get_data(as_text=True)
    assert add("kort-l1", "https://pager.example/x").status_code == 200
    twin = add("KORT-L1", "https://pager.example/y")
    assert twin.status_code == 409 and "A pager hook named 'kort-l1' exists." in _text(twin)
    with rt.session_factory() as s:
        assert s.scalars(select(PagerHook.name)).all() == ["kort-l1"]


# --- M6 ---------------------------------------------------------------------------------------

def test_the_access_logs_until_day_includes_that_day_on_the_page_and_in_the_csv(app, world, rt,
                                                                                login):
    admin = login("admin@sit.test")   # a login entry, now
    today = datetime.now(ZoneInfo(rt.settings.timezone)).date().isoformat()
    page = admin.get(f"/admin/access-log?action=login&since={today}&until={today}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200 and "Nothing logged that matches." not in body
    assert "admin@sit.test" in body
    link = html.unescape(re.search(r'<a href="(/api/v1/audit/access\?format=csv[^"]*)"',
                                   body).group(1))
    assert not re.search(rf"until={today}(&|$)", link)   # the day as the instants it stands for
    csv = admin.get(link)
    assert csv.status_code == 200, csv.get_data(as_text=True)[:300]
    assert "admin@sit.test" in csv.get_data(as_text=True)


# --- L6 ---------------------------------------------------------------------------------------

def test_a_stale_ticket_form_keeps_what_was_typed(app, world, rt, login):
    number = _submit(rt)
    agent = login("agent@sit.test")
    page = agent.get(f"/tickets/{number}").get_data(as_text=True)
    stale_version = re.search(r'name="version" value="(\d+)"', page).group(1)
    with rt.session_factory() as s:   # a colleague takes it meanwhile
        user = directory.user_by_email(s, "agent2@sit.test")
        tickets.fire_transition(s, rt.rules, user, directory.load_actor(s, user), number,
                                "assign", {"assignee": user.id}, now=WORK_TIME)
        s.commit()
    refused = agent.post(f"/tickets/{number}/transitions/resolve", data={
        "csrf_token": csrf_of(page), "version": stale_version,
        "resolution": "Restarted the tile cache after the disk filled up"})
    assert refused.status_code == 409
    body = refused.get_data(as_text=True)
    assert "Someone changed this ticket meanwhile" in body
    assert re.search(r'<details class="action" id="action-resolve" open>', body)
    assert ">Restarted the tile cache after the disk filled up</textarea>" in body
    # the form carries the new version: sent again, it resolves
    assert f'name="version" value="{stale_version}"' not in body


# --- M5 ---------------------------------------------------------------------------------------

def test_an_invisible_title_is_refused_by_the_field_in_the_portal_and_the_api(app, world, rt,
                                                                              login):
    reporter = login("rep@gst.test")
    page = reporter.get("/portal/incidents/new").get_data(as_text=True)
    refused = reporter.post("/portal/incidents/new", data={
        "csrf_token": csrf_of(page),
        "form_key": re.search(r'name="form_key" value="([^"]+)"', page).group(1),
        "system": "kort", "environment": "production", "layer": "", "title": "\u200b\u200b",
        "description": "Blank tiles.", "impact": "2", "urgency": "2"})
    assert refused.status_code == 422
    assert 'id="title-error">Invisible characters are not allowed.</p>' in \
        refused.get_data(as_text=True)
    with rt.session_factory() as s:
        user = directory.user_by_email(s, "agent@sit.test")
        token = directory.create_token(s, user, now=WORK_TIME)
        s.commit()
    answer = app.test_client().post("/api/v1/problems", headers={
        "Authorization": f"Bearer {token}"}, json={
        "system": "kort", "layer": "operating_system", "title": "abc\u202eevil"})
    assert answer.status_code == 422, answer.get_json()
    assert "Invisible characters are not allowed." in str(answer.get_json())
    with rt.session_factory() as s:
        assert s.scalar(select(Ticket.id)) is None
