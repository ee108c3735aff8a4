"""QA round 4 (notes/qa4.md) on the rendered pages, in English and Danish: the timeline shows
the old and new priority of "Change priority" (#2), the paging reasons are translated (#3), the
pager's lines say what was sent to which hook and what a pager asked (#4), no raw codes in the
Danish UI (#11), and the consultation banner of a standard change names who must act (#12)."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta

import pytest

from itilflow.domain import paging as rules_of_paging
from itilflow.i18n import translate
from tests.conftest import WORK_TIME
from tests.paging.conftest import EVENING, Receiver, drain, fire, make_hooks, raise_incident

TAG = re.compile(r"<[^>]+>")


def _text(client, path: str, lang: str) -> str:
    """The page's visible text, tags dropped and whitespace folded."""
    response = client.get(path, headers={"Accept-Language": lang})
    assert response.status_code == 200, response.status_code
    page = response.get_data(as_text=True)
    page = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", page, flags=re.S)
    return " ".join(html.unescape(TAG.sub(" ", page)).split())


def _timeline(client, number: str, lang: str) -> str:
    text = _text(client, f"/tickets/{number}", lang)
    start = text.index("Forløb" if lang == "da" else "Timeline")
    return text[start:]


@pytest.fixture
def customer_receiver():
    r = Receiver()
    yield r
    r.stop()


# --- 2: the priority change in the timeline -------------------------------------------------

def test_the_timeline_shows_the_old_and_new_priority(rt, world, login):
    number = raise_incident(rt, now=WORK_TIME, impact=2, urgency=2, layer="operating_system")
    fire(rt, number, "reprioritise", now=WORK_TIME + timedelta(minutes=5), impact=1, urgency=1,
         comment="Whole service down")
    client = login("agent@sit.test")
    english = _timeline(client, number, "en")
    assert "Change priority" in english
    assert "Priority: P3 → P1 · Impact: 2 → 1 · Urgency: 2 → 1" in english
    danish = _timeline(client, number, "da")
    assert "Skift prioritet" in danish
    assert "Prioritet: P3 → P1 · Påvirkning: 2 → 1 · Hast: 2 → 1" in danish
    # the reporter's side reads it too
    assert "Priority: P3 → P1" in _timeline(login("rep@gst.test"), number, "en")


# --- 3: paging reasons in Danish ------------------------------------------------------------

@pytest.mark.parametrize(("english", "danish"), [
    ("after hours: paging the on-call of the provider",
     "uden for arbejdstid: vagten hos SIT kaldes"),
    ("after hours: paging the on-call of the customer",
     "uden for arbejdstid: vagten hos kunden kaldes"),
    ("after hours: paging the provider's on-call",          # older history rows
     "uden for arbejdstid: vagten hos SIT kaldes"),
    ("working time: the queue has it", "arbejdstid: køen har den"),
    ("only incidents page", "kun fejl kalder vagten"),
    ("P3 does not page", "P3 kalder ikke vagten"),
    ("test is not production", "test er ikke produktion"),
    ("no vagtordning: waits for the next working day",
     "ingen vagtordning: venter til næste arbejdsdag"),
    ("the customer has no escalation levels for this system",
     "kunden har ingen eskaleringsniveauer for dette system"),
    ("already acknowledged", "allerede kvitteret"),
    ("nobody on call at level 2: escalated", "ingen har vagten på niveau 2: eskaleret"),
    ("working time ended, nobody acknowledged: paging the on-call of the provider",
     "arbejdstiden sluttede uden kvittering: vagten hos SIT kaldes"),
])
def test_every_paging_reason_has_danish(app, english, danish):
    assert translate("da", english) == danish


def test_the_domain_reasons_are_the_catalogued_sentences(rt):
    """What domain/paging.py decides reads as a sentence the catalogue knows (none is left
    in English in Danish)."""
    evening, morning = (rules_of_paging.decide_page(
        rt.rules.calendar, at=at, kind="incident", priority="P1", environment="production",
        vagtordning=True, layer=layer, page_priorities={"P1"})
        for at, layer in ((EVENING, "operating_system"), (WORK_TIME, None)))
    assert translate("da", evening.reason) == "uden for arbejdstid: vagten hos SIT kaldes"
    assert translate("da", morning.reason) == "arbejdstid: køen har den"
    reasons = [
        rules_of_paging.not_covered_because(kind="problem", priority="P1",
                                            environment="production", vagtordning=True,
                                            page_priorities={"P1"}),
        rules_of_paging.not_covered_because(kind="incident", priority="P3",
                                            environment="production", vagtordning=True,
                                            page_priorities={"P1"}),
        rules_of_paging.not_covered_because(kind="incident", priority="P1", environment="test",
                                            vagtordning=True, page_priorities={"P1"}),
        rules_of_paging.not_covered_because(kind="incident", priority="P1",
                                            environment="production", vagtordning=False,
                                            page_priorities={"P1"}),
    ]
    for reason in reasons:
        assert reason and translate("da", reason) != reason, reason


def test_the_paging_reason_is_danish_on_the_ticket_page(rt, world, receiver, relay, login):
    make_hooks(rt, receiver, delays=(300,))
    number = raise_incident(rt)            # after hours, P1, production: SIT's on-call
    drain(relay, EVENING)
    client = login("agent@sit.test")
    assert "after hours: paging the on-call of the provider" in _timeline(client, number, "en")
    danish = _timeline(client, number, "da")
    assert "uden for arbejdstid: vagten hos SIT kaldes" in danish
    assert "after hours" not in danish and "on-call" not in danish


# --- 4: what the pager lines say ------------------------------------------------------------

def _pager_call(api, secret: str, webhook_id: str, number: str, action: str) -> dict:
    raw = json.dumps({"dedup_key": rules_of_paging.dedup_key(number), "action": action}).encode()
    headers = rules_of_paging.signed_headers(secret, webhook_id, datetime.now(UTC), raw)
    answer = api.post("/api/v1/pager/events", data=raw,
                      headers={**headers, "Content-Type": "application/json"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_json()


def test_the_pager_lines_say_what_was_sent_to_which_hook(rt, world, app, receiver,
                                                        customer_receiver, relay, login):
    """SIT paged, acknowledged, the ticket handed to the customer: SIT's hook is told
    acknowledge and then resolve, the customer's hook is paged; SIT's pager then asks to resolve
    (too late, not applied) and the customer's pager acknowledges. Each line says which."""
    sit = make_hooks(rt, receiver, delays=(300,))                          # kort-provider-l1
    customer = make_hooks(rt, customer_receiver, delays=(300,), party="customer")
    number = raise_incident(rt)
    drain(relay, EVENING)
    fire(rt, number, "acknowledge", now=EVENING + timedelta(minutes=2))
    drain(relay, EVENING + timedelta(minutes=2))
    handed = EVENING + timedelta(minutes=10)
    fire(rt, number, "reclassify", now=handed, layer="application", comment="Appen selv")
    drain(relay, handed)
    api = app.test_client()
    assert _pager_call(api, sit["kort-provider-l1"], "late", number, "resolve")["applied"] \
        is False
    assert _pager_call(api, customer["kort-customer-l1"], "own", number, "acknowledge")[
        "applied"] is True

    client = login("agent@gst.test")
    english = _timeline(client, number, "en")
    assert "paged kort-provider-l1 · level 1" in english
    assert "told pager kort-provider-l1: acknowledged · level 1" in english
    assert "told pager kort-provider-l1: resolved · level 1" in english
    assert "paged kort-customer-l1 · level 1" in english
    assert "pager kort-provider-l1 asked to resolve · not applied" in english
    assert "via pager kort-customer-l1" in english
    assert "paging · SIT" in english and "paging · Customer" in english
    assert "page · level 1" not in english and "pager event" not in english
    danish = _timeline(client, number, "da")
    assert "kaldte vagten via kort-provider-l1 · niveau 1" in danish
    assert "meddelte personsøger kort-provider-l1: kvitteret · niveau 1" in danish
    assert "meddelte personsøger kort-provider-l1: løst · niveau 1" in danish
    assert "kaldte vagten via kort-customer-l1 · niveau 1" in danish
    assert "personsøger kort-provider-l1 bad om at løse · ikke udført" in danish
    assert "via personsøger kort-customer-l1" in danish
    assert "vagt kaldt · niveau 1" not in danish and "svar fra vagtsystem" not in danish


# --- 11: no raw codes in the Danish UI ------------------------------------------------------

def test_the_access_log_names_its_actions_in_words(app, world, login):
    client = login("admin@sit.test")
    client.get("/admin/access-log")                                # an audit_read entry
    danish = client.get("/admin/access-log", headers={"Accept-Language": "da"}).get_data(
        as_text=True)
    options = re.findall(r"<option[^>]*>([^<]*)</option>", danish)
    assert "Logget ind" in options and "Sag læst" in options and "Adgangslog læst" in options
    assert not {"login", "ticket_read", "not_found", "audit_read"} & set(options)
    assert '<option value="ticket_read"' in danish            # the filter still sends the code
    cells = re.findall(r"<td title=\"(\w+)\">([^<]*)</td>", danish)
    assert ("login", "Logget ind") in cells and ("audit_read", "Adgangslog læst") in cells
    assert 'placeholder="e-mail"' in danish
    english = client.get("/admin/access-log", headers={"Accept-Language": "en"}).get_data(
        as_text=True)
    assert ">Signed in</option>" in english and 'placeholder="email"' in english
    assert client.get("/admin/access-log?action=login",
                      headers={"Accept-Language": "da"}).status_code == 200


def test_the_account_page_names_the_role(app, world, login):
    client = login("agent@sit.test")
    assert "agent@sit.test · SIT-medarbejder" in _text(client, "/account", "da")
    assert "agent@sit.test · SIT agent" in _text(client, "/account", "en")
    assert "sit_agent" not in _text(client, "/account", "da")


def test_report_durations_say_timer_in_danish(app, world, login):
    from itilflow.web.reports import duration

    with app.test_request_context(headers={"Accept-Language": "da"}):
        assert duration(172 * 3600, working=True) == "172 t 00 min"
        assert duration(30 * 86400) == "30 d 0 t"
        assert duration(90 * 60) == "1 t 30 min" and duration(600) == "10 min"
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert duration(172 * 3600, working=True) == "172 h 00 min"
        assert duration(30 * 86400) == "30 d 0 h"
    client = login("boss@gst.test")
    danish = _text(client, "/reports/monthly?month=2026-11", "da")
    # November, around the clock: in the table's column hours like the working-time rows (QA6 L10)
    assert "720 t 00 min" in danish and "720 h 00 min" not in danish
    assert "720 h 00 min" in _text(client, "/reports/monthly?month=2026-11", "en")


def test_the_layer_choices_drop_the_english_key_in_danish(rt, world, login):
    number = raise_incident(rt, now=WORK_TIME, impact=2, urgency=2, layer="operating_system")
    client = login("agent@sit.test")
    for path in (f"/tickets/{number}", "/agent/new/incident", "/agent/new/change"):
        danish = _text(client, path, "da")
        assert "(operating system)" not in danish and "(application)" not in danish, path
        assert "(operating system)" in _text(client, path, "en"), path
    # the queue's layer filter names the layers in the reader's language
    queue = client.get("/agent?queue=open", headers={"Accept-Language": "da"}).get_data(
        as_text=True)
    options = re.search(r'<select id="f-layer".*?</select>', queue, re.S).group(0)
    assert ">Operativsystem</option>" in options and ">Applikation</option>" in options
    assert "operating system" not in options


# --- 12: who must act before a standard change's window ---------------------------------------

def _standard_change(rt, world) -> str:
    from itilflow.services import changes, tickets
    from tests.changes.common import submit_change

    with rt.session_factory() as s:
        _, admin = world.actor(s, "admin@sit.test")
        changes.create_template(s, rt.rules, admin, {
            "key": "os-install", "name": "OS install", "activity": "installation_in_production",
            "layer": "operating_system"}, now=WORK_TIME)
        change = submit_change(s, rt.rules, world, "agent@sit.test", template="os-install",
                               layer=None, change_type=None, title=None)
        user, ctx = world.actor(s, "agent@sit.test")
        tickets.fire_transition(s, rt.rules, user, ctx, change.id, "pre_approve", {},
                                now=WORK_TIME)
        number = tickets.number_of(rt.rules, change)
        s.commit()
    return number


def test_before_sit_asks_the_banner_says_sit_asks_first(rt, world, login):
    number = _standard_change(rt, world)
    customer = login("agent@gst.test")
    english = _text(customer, f"/tickets/{number}", "en")
    assert ("Start the change window waits for SIT to ask the customer for "
            "consultation (“Ask for consultation”).") in english
    assert "waits for the consultation of" not in english
    danish = _text(customer, f"/tickets/{number}", "da")
    assert ("Start ændringsvinduet afventer, at SIT beder kunden om høring („Bed om høring“).") \
        in danish
    assert "afventer høring af: kunde" not in danish
    # once SIT has asked, the banner waits for the customer's answer
    from itilflow.services import tickets

    with rt.session_factory() as s:
        user, ctx = world.actor(s, "agent@sit.test")
        tickets.fire_transition(s, rt.rules, user, ctx, number, "consult",
                                {"question": "Thursday night?"}, now=WORK_TIME)
        s.commit()
    asked = _text(customer, f"/tickets/{number}", "da")
    assert "Start ændringsvinduet afventer høring af: kunden." in asked
    assert "beder kunden om høring" not in asked


# --- the priority form speaks as the incident form does ---------------------------------------

def test_change_priority_offers_impact_and_urgency_in_words_at_the_tickets_values(rt, world,
                                                                                  login):
    from tests.web.conftest import csrf_of

    number = raise_incident(rt, now=WORK_TIME, impact=2, urgency=3, layer="operating_system")
    client = login("agent@sit.test")
    page = client.get(f"/tickets/{number}", headers={"Accept-Language": "en"}).get_data(
        as_text=True)
    form = re.search(r'<details class="action" id="action-reprioritise".*?</details>', page, re.S)
    selects = {m.group(1): m.group(0) for m in re.finditer(
        r'<select id="reprioritise-(\w+)".*?</select>', form.group(0), re.S)}
    assert set(selects) == {"impact", "urgency"}
    chosen = {name: re.search(r'<option value="(\d)"\s+selected>([^<]*)', html_).groups()
              for name, html_ in selects.items()}
    assert chosen == {"impact": ("2", "A group of people or part of a service"),
                      "urgency": ("3", "It can wait a few days")}
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    answer = client.post(f"/tickets/{number}/transitions/reprioritise", data={
        "csrf_token": csrf_of(page), "version": version, "impact": "1", "urgency": "1",
        "comment": "Whole service down"})
    assert answer.status_code == 303
    assert "Priority: P4 → P1" in _timeline(client, number, "en")
