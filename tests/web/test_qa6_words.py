"""QA round 6 of the web UI (notes/qa6-ui.md), in English and Danish on both backends through
the Flask test client: the queue's layer column in the filter's words (L7), distinct Danish words
for the assignee and the responsible party (L7), Danish refusals (L7), one word for a layer not
known yet (L9); on the ticket page the assignee by name, the parties in the same words in both
languages, a reopened incident's previous resolution (L10); the assignee filter keeps a
deactivated agent with open tickets, and a broken page link is refused alike on the queue page
and its rows (L10)."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from itilflow.i18n import translate
from itilflow.models import Ticket
from itilflow.services import directory, tickets
from itilflow.web import common
from tests.conftest import WORK_TIME
from tests.paging.conftest import fire, raise_incident
from tests.web.conftest import csrf_of

TAG = re.compile(r"<[^>]+>")
EN, DA = {"Accept-Language": "en"}, {"Accept-Language": "da"}


def _text(page: str) -> str:
    page = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(TAG.sub(" ", page)).split())


def _get(client, path: str, headers: dict, status: int = 200) -> str:
    response = client.get(path, headers=headers)
    assert response.status_code == status, (path, response.status_code)
    return response.get_data(as_text=True)


def _cell(page: str, label: str) -> list[str]:
    """The text of each queue cell labelled ``label`` (``data-label``)."""
    return [_text(c) for c in re.findall(rf'<td data-label="{label}">(.*?)</td>', page, re.S)]


def _select(page: str, select_id: str) -> str:
    return re.search(rf'<select id="{select_id}".*?</select>', page, re.S).group(0)


def _fact(page: str, term: str) -> str:
    """The ticket's detail ``term`` (the side card's <dt>/<dd>)."""
    found = re.search(rf"<dt>{re.escape(term)}</dt><dd>(.*?)</dd>", page, re.S)
    assert found, term
    return _text(found.group(1))


def _raci(page: str) -> str:
    return _text(re.search(r'<section class="card raci".*?</section>', page, re.S).group(0))


# --- L7: the queue's layer column, in the layer filter's words ------------------------------

def test_the_queue_names_layers_as_its_filter_does(app, world, rt, login):
    raise_incident(rt, now=WORK_TIME, layer="operating_system", title="Disk full")
    raise_incident(rt, now=WORK_TIME, layer="application", title="Login fails")
    sit = login("agent@sit.test")
    english = _get(sit, "/agent?queue=open", EN)
    assert sorted(_cell(english, "Layer")) == ["Application", "Operating system"]
    assert ">Operating system</option>" in _select(english, "f-layer")
    danish = _get(sit, "/agent?queue=open", DA)
    assert sorted(_cell(danish, "Lag")) == ["Applikation", "Operativsystem"]
    assert ">Operativsystem</option>" in _select(danish, "f-layer")


# --- L9: one word for a layer not known yet --------------------------------------------------

def test_a_layer_not_known_yet_has_one_name_everywhere(app, world, rt, login):
    number = raise_incident(rt, now=WORK_TIME, title="Something is odd")
    sit = login("agent@sit.test")
    for headers, layer, word in ((EN, "Layer", "Unknown"), (DA, "Lag", "Ukendt")):
        queue = _get(sit, "/agent?queue=open", headers)
        assert _cell(queue, layer) == [word]
        assert f'<option value="unknown" >{word}</option>' in _select(queue, "f-layer")
        page = _get(sit, f"/tickets/{number}", headers)
        assert _fact(page, layer) == word
        assert f"{layer}: {word}" in _text(page)
        assert "don't know" not in _text(page) and "ved ikke" not in _text(page)


# --- L7: Danish words for the assignee and the responsible party -----------------------------

def test_danish_ticket_details_name_the_assignee_and_the_responsible_party_apart(app, world, rt,
                                                                                 login):
    number = raise_incident(rt, now=WORK_TIME, layer="operating_system")
    with rt.session_factory() as s:
        agent2 = directory.user_by_email(s, "agent2@sit.test").id
    fire(rt, number, "assign", now=WORK_TIME, assignee=agent2)
    page = _get(login("agent@sit.test"), f"/tickets/{number}", DA)
    assert _fact(page, "Sagsbehandler") == "agent2"
    assert _fact(page, "Ansvarlig part") == "SIT"
    assert "<dt>Ansvarlig</dt>" not in page
    english = _get(login("agent@sit.test"), f"/tickets/{number}", EN)
    assert _fact(english, "Assignee") == "agent2" and _fact(english, "Responsible") == "SIT"
    # staff read the email on hovering the name
    assert '<span title="agent2@sit.test">agent2</span>' in english


# --- L7: refusals in Danish -------------------------------------------------------------------

def test_the_account_page_refuses_a_language_in_danish(app, world, login):
    client = login("agent@sit.test")
    token = csrf_of(_get(client, "/account", DA))
    response = client.post("/account", data={"csrf_token": token, "form": "locale",
                                             "locale": "fr"}, headers=DA)
    text = _text(response.get_data(as_text=True))
    assert "Skal være en eller da." in text and "Must be en or da." not in text


def test_the_system_form_refuses_duplicate_environments_in_danish(app, world, login):
    admin = login("admin@sit.test")
    token = csrf_of(_get(admin, "/admin/systems", DA))
    response = admin.post("/admin/systems", headers=DA, data={
        "csrf_token": token, "key": "dup", "name": "Dup", "customer": "GST",
        "environments": "production, production"})
    assert response.status_code == 422
    text = _text(response.get_data(as_text=True))
    assert "Dubletter." in text and "Duplicates." not in text


def test_a_refused_queue_filter_reads_in_danish(app, world, login):
    sit = login("agent@sit.test")
    page = _text(_get(sit, "/agent?priority=P9", DA))
    assert "Ugyldige filtre. Skal være P1 til P5." in page
    assert "Must be" not in page
    assert "Skal være et lag eller ukendt." in _text(_get(sit, "/agent?layer=kernel", DA))


def test_the_admin_and_the_access_log_refuse_in_danish(app, world, login):
    admin = login("admin@sit.test")
    token = csrf_of(_get(admin, "/admin", DA))
    response = admin.post("/admin/users/nobody@sit.test/access", headers=DA,
                          data={"csrf_token": token, "active": "0"}, follow_redirects=True)
    text = _text(response.get_data(as_text=True))
    assert "Ingen bruger med e-mailen 'nobody@sit.test'." in text
    assert "No user with email" not in text
    refused = _text(_get(admin, "/admin/access-log?since=yesterday", DA, 422))
    assert "since er ikke et tidspunkt." in refused and "is not a date-time" not in refused


def test_the_catalogue_knows_the_refusals_the_pages_show():
    assert translate("da", "since is not a date-time.") == "since er ikke et tidspunkt."
    assert translate("da", "Duplicates.") == "Dubletter."
    assert translate("da", "supplier") == "leverandør"
    assert translate("da", "Assignee") != translate("da", "Responsible")


# --- L10: the timeline names the assignee -----------------------------------------------------

def test_the_timeline_names_the_assignee(app, world, rt, login):
    number = raise_incident(rt, now=WORK_TIME, layer="operating_system")
    with rt.session_factory() as s:
        agent2 = directory.user_by_email(s, "agent2@sit.test").id
        agent = directory.user_by_email(s, "agent@sit.test").id
    fire(rt, number, "assign", now=WORK_TIME, assignee=agent2)
    fire(rt, number, "assign", now=WORK_TIME + timedelta(minutes=1), assignee=agent)
    for headers, label in ((EN, "Assignee"), (DA, "Sagsbehandler")):
        page = _get(login("agent@sit.test"), f"/tickets/{number}", headers)
        timeline = _text(page[page.index('id="timeline"'):])
        assert f"{label}: agent2 " in timeline and f"{label}: agent " in timeline
        assert "@sit.test" not in timeline
    staff = _get(login("agent@sit.test"), f"/tickets/{number}", EN)
    assert '<span title="agent2@sit.test">agent2</span>' in staff
    # the reporter's side reads the name too, without the email
    reporter = _get(login("rep@gst.test"), f"/tickets/{number}", EN)
    assert "Assignee: agent " in _text(reporter[reporter.index('id="timeline"'):])
    assert "<span>agent</span>" in reporter and 'title="agent@sit.test"' not in reporter


def test_assignee_names_reads_every_assignee_in_one_statement(app, world, rt):
    """For the ticket view to pass as ``assignee_names`` (a past assignee who never acted on the
    ticket is then named to its reporter too)."""
    number = raise_incident(rt, now=WORK_TIME, layer="operating_system")
    with rt.session_factory() as s:
        agent2 = directory.user_by_email(s, "agent2@sit.test").id
    fire(rt, number, "assign", now=WORK_TIME, assignee=agent2)
    with rt.session_factory() as s:
        ticket = s.get(Ticket, int(number.split("-")[1]))
        assert common.assignee_names(s, tickets.events_of(s, ticket)) == {
            "agent2@sit.test": "agent2"}
        assert common.assignee_names(s, []) == {}


# --- L10: the parties in the same words on the ticket page, in both languages ----------------

def test_the_raci_panel_names_the_parties_alike_in_both_languages(app, world, rt, login):
    number = raise_incident(rt, now=WORK_TIME, layer="operating_system")
    sit = login("agent@sit.test")
    english = _raci(_get(sit, f"/tickets/{number}", EN))
    danish = _raci(_get(sit, f"/tickets/{number}", DA))
    assert "RACI Customer I SIT AR" in english and "RACI Kunde I SIT AR" in danish
    for text in (english, danish):
        assert "provider" not in text and "customer" not in text
    assert "is owned by SIT." in english and "ejes af SIT." in danish
    assert "owned by the provider" not in english
    application = raise_incident(rt, now=WORK_TIME, layer="application", title="App")
    assert "is owned by the customer." in _raci(_get(sit, f"/tickets/{application}", EN))
    assert "ejes af kunden." in _raci(_get(sit, f"/tickets/{application}", DA))


def test_the_timeline_names_the_parties_as_the_raci_panel_does(app, world, rt, login):
    number = raise_incident(rt, now=WORK_TIME, title="Odd")
    fire(rt, number, "reclassify", now=WORK_TIME, layer="application", comment="The app")
    sit = login("agent@sit.test")
    assert "handed over from SIT to the customer" in _text(_get(sit, f"/tickets/{number}", EN))
    assert "overdrog fra SIT til kunden" in _text(_get(sit, f"/tickets/{number}", DA))
    assert _fact(_get(sit, f"/tickets/{number}", EN), "Responsible") == "Customer"
    assert _fact(_get(sit, f"/tickets/{number}", DA), "Ansvarlig part") == "Kunde"


# --- L10: a reopened incident's resolution is the previous one -------------------------------

def _resolution_heading(page: str) -> str | None:
    found = re.search(r'<section class="card resolution[^"]*"><h2>([^<]+)</h2>', page)
    return found.group(1) if found else None


def test_a_reopened_incident_shows_its_old_resolution_as_the_previous_one(app, world, rt, login):
    number = raise_incident(rt, now=WORK_TIME, layer="operating_system")
    fire(rt, number, "resolve", now=WORK_TIME, resolution="Rebooted the server")
    sit = login("agent@sit.test")
    assert _resolution_heading(_get(sit, f"/tickets/{number}", EN)) == "Resolution"
    fire(rt, number, "reopen", now=WORK_TIME + timedelta(minutes=5), comment="Down again")
    page = _get(sit, f"/tickets/{number}", EN)
    assert _resolution_heading(page) == "Previous resolution"
    assert "resolution-previous" in page and "Rebooted the server" in page
    assert _resolution_heading(_get(sit, f"/tickets/{number}", DA)) == "Tidligere løsning"
    fire(rt, number, "resolve", now=WORK_TIME + timedelta(minutes=9), resolution="New disk")
    fire(rt, number, "confirm", email="rep@gst.test", now=WORK_TIME + timedelta(minutes=10))
    closed = _get(login("rep@gst.test"), f"/tickets/{number}", EN)
    assert _resolution_heading(closed) == "Resolution" and "New disk" in closed


# --- L10: the assignee filter keeps a deactivated agent with open tickets ---------------------

def test_the_assignee_filter_keeps_a_deactivated_agent_with_open_tickets(app, world, rt, login):
    number = raise_incident(rt, now=WORK_TIME, layer="operating_system")
    with rt.session_factory() as s:
        agent2 = directory.user_by_email(s, "agent2@sit.test")
        agent2_id = agent2.id
    with rt.session_factory() as s:  # assigned while still active, then deactivated
        s.get(Ticket, int(number.split("-")[1])).assignee_id = agent2_id
        directory.user_by_email(s, "agent2@sit.test").active = False
        s.commit()
    sit = login("agent@sit.test")
    page = _get(sit, "/agent?queue=open", EN)
    assert f'<option value="{agent2_id}" >agent2 (deactivated)</option>' in \
        _select(page, "f-assignee")
    assert f'value="{agent2_id}"' not in _select(page, "bulk-assignee")  # not for new work
    assert "agent2 (deaktiveret)" in _select(_get(sit, "/agent?queue=open", DA), "f-assignee")
    filtered = _get(sit, f"/agent?queue=open&assignee={agent2_id}", EN)
    assert number in filtered
    # once nothing open is theirs, they leave the filter
    with rt.session_factory() as s:
        s.get(Ticket, int(number.split("-")[1])).state = "closed"
        s.commit()
    assert f'value="{agent2_id}"' not in _select(_get(sit, "/agent?queue=open", EN), "f-assignee")


# --- L10: a broken page link answers alike on the page and its rows --------------------------

def test_a_broken_page_link_shows_the_first_page_on_the_queue_and_its_rows(app, world, rt,
                                                                           login):
    number = raise_incident(rt, now=WORK_TIME, layer="operating_system")
    sit = login("agent@sit.test")
    for headers, notice in ((EN, "That page link is not valid: showing the first page."),
                            (DA, "Sidelinket er ikke gyldigt: første side vises.")):
        page = _get(sit, "/agent?queue=open&cursor=garbage", headers)
        assert notice in _text(page) and f'value="{number}"' in page
        refresh = re.search(r'data-refresh="([^"]*)"', page).group(1)
        assert "cursor" not in refresh  # the refresh reads the first page too
        rows = _get(sit, "/agent/rows?queue=open&cursor=xx", headers)
        assert notice in _text(rows) and f'value="{number}"' in rows
    # a good link, and the rows of the page itself, carry no notice
    assert "notice-row" not in _get(sit, "/agent/rows?queue=open", EN)
    assert "That page link" not in _get(sit, "/agent?queue=open", EN)
