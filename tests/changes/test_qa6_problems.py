"""QA round 6 (docs/../notes qa6): problems and their links seen through real HTTP.

- a problem's ``incidents``, an incident's ``problems`` and their ``linked``/``unlinked``
  history name only tickets the caller may see (a supplier, another customer);
- unlinking from a closed problem is refused as linking is; the links have a defined order;
- ``reclassify`` to the layer the ticket has already is refused (422), as ``reprioritise``
  refuses the same values;
- the messages QA found raw or ungrammatical read as sentences, in English and Danish.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from itilflow.domain.errors import InvalidTransition, ValidationError
from itilflow.i18n import translate
from itilflow.models import Ticket
from itilflow.services import problems, tickets
from tests.api.conftest import Api, make_tokens
from tests.changes.common import NOW, fire, submit_change
from tests.web.conftest import sign_in

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture
def api(app, rt, world) -> Api:
    return Api(app, make_tokens(rt))


def ok(response, status=200):
    assert response.status_code == status, response.get_json()
    return response.get_json()


def events(api, ticket_id, email, **query):
    answer = ok(api.get(f"/tickets/{ticket_id}/events", email, query_string=query))
    return answer["items"] if isinstance(answer, dict) else answer


def stored(view):
    """A ticket's JSON but its SLA clock (which runs while the test does)."""
    return {k: v for k, v in view.items() if k != "sla"}


def links(items):
    return [(e["kind"], e["data"]) for e in items if e["kind"] in ("linked", "unlinked")]


# --- #12: links name only the tickets the caller may see ------------------------------------

def test_a_supplier_is_not_told_of_linked_tickets_it_cannot_see(api, app):
    # the supplier is attached to kort, not to arkiv (both GST's)
    seen = api.incident(title="Tiles time out", layer="operating_system")
    unseen = api.incident(system="arkiv", title="Archive scans time out",
                          layer="operating_system")
    prb = ok(api.post("/problems", "agent@sit.test", {
        "system": "kort", "layer": "operating_system", "title": "Storage stalls",
        "incidents": [unseen["id"], seen["id"]]}), 201)
    # the other way: a problem on arkiv explains an incident on kort
    hidden_prb = ok(api.post("/problems", "agent@sit.test", {
        "system": "arkiv", "layer": "operating_system", "title": "SAN firmware",
        "incidents": [seen["id"]]}), 201)
    sup = "sup@supplier.test"
    assert api.get(f"/tickets/{unseen['id']}", sup).status_code == 404
    assert api.get(f"/tickets/{hidden_prb['id']}", sup).status_code == 404

    # SIT and the customer see every link, in id order
    for email in ("agent@sit.test", "agent@gst.test"):
        assert [i["number"] for i in ok(api.get(f"/tickets/{prb['id']}", email))[
            "incidents"]] == [seen["number"], unseen["number"]]
        assert [p["number"] for p in ok(api.get(f"/tickets/{seen['id']}", email))[
            "problems"]] == [prb["number"], hidden_prb["number"]]
        assert links(events(api, prb["id"], email)) == [
            ("linked", {"incident": unseen["number"]}), ("linked", {"incident": seen["number"]})]

    # the supplier: the ticket, the list page and the problem's incidents name only what it sees
    one = ok(api.get(f"/tickets/{prb['id']}", sup))
    assert [i["number"] for i in one["incidents"]] == [seen["number"]]
    listed = {t["id"]: t for t in ok(api.get("/tickets", sup))["items"]}
    assert [i["number"] for i in listed[prb["id"]]["incidents"]] == [seen["number"]]
    assert [p["number"] for p in listed[seen["id"]]["problems"]] == [prb["number"]]
    assert [p["number"] for p in ok(api.get(f"/tickets/{seen['id']}", sup))["problems"]] == [
        prb["number"]]
    assert [i["number"] for i in ok(api.get(f"/problems/{prb['id']}/incidents", sup))[
        "items"]] == [seen["number"]]
    # the history says a link was made, not to what (whole list and pages alike)
    for query in ({}, {"limit": 50}):
        assert links(events(api, prb["id"], sup, **query)) == [
            ("linked", {"incident": None, "hidden": True}),
            ("linked", {"incident": seen["number"]})]
        assert links(events(api, seen["id"], sup, **query)) == [
            ("linked", {"problem": prb["number"]}),
            ("linked", {"problem": None, "hidden": True})]
    for path in (f"/tickets/{prb['id']}", f"/tickets/{prb['id']}/events",
                 f"/tickets/{seen['id']}", f"/tickets/{seen['id']}/events", "/tickets"):
        text = api.get(path, sup).get_data(as_text=True)
        assert unseen["number"] not in text and hidden_prb["number"] not in text, path

    # on the problem's page and the incident's page alike
    client = app.test_client()
    sign_in(client, sup)
    for number, hidden, words in ((prb["number"], unseen["number"], "an incident you cannot see"),
                                  (seen["number"], hidden_prb["number"],
                                   "a problem you cannot see")):
        page = client.get(f"/tickets/{number}")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert hidden not in html and words in html, number
    staff = app.test_client()
    sign_in(staff, "agent@sit.test")
    html = staff.get(f"/tickets/{prb['number']}").get_data(as_text=True)
    assert unseen["number"] in html and "you cannot see" not in html


def test_another_customer_learns_nothing_of_a_problem_or_its_links(api):
    incident = api.incident(title="Tiles time out", layer="operating_system")
    prb = ok(api.post("/problems", "agent@sit.test", {
        "system": "kort", "layer": "operating_system", "title": "Storage stalls",
        "incidents": [incident["id"]]}), 201)
    own = api.incident(email="rep@erst.test", system="virk", title="Virk slow",
                       layer="operating_system")
    for email in ("rep@erst.test", "agent@erst.test"):
        for path in (f"/tickets/{prb['id']}", f"/tickets/{prb['id']}/events",
                     f"/problems/{prb['id']}/incidents", f"/tickets/{incident['id']}",
                     f"/tickets/{incident['id']}/problems", f"/tickets/{incident['id']}/events"):
            assert api.get(path, email).status_code == 404, (email, path)
        text = api.get("/tickets", email).get_data(as_text=True)
        assert prb["number"] not in text and incident["number"] not in text
        assert [t["id"] for t in json.loads(text)["items"]] == [own["id"]]
    # linking its own incident to GST's problem is a 404 (the problem is not there for it)
    assert api.post(f"/problems/{prb['id']}/incidents", "agent@erst.test",
                    {"incident": own["number"]}).status_code == 404


# --- #11: a closed problem's links stay as they are ------------------------------------------

def test_unlinking_from_a_closed_problem_is_refused_like_linking(api):
    first = api.incident(title="Tiles time out", layer="operating_system")
    second = api.incident(title="WMS slow", layer="operating_system")
    prb = ok(api.post("/problems", "agent@sit.test", {
        "system": "kort", "layer": "operating_system", "title": "Storage stalls",
        "incidents": [first["id"], second["id"]]}), 201)
    ok(api.fire("agent@sit.test", prb["id"], "investigate"))
    ok(api.fire("agent@sit.test", prb["id"], "resolve", resolution="Firmware updated."))
    ok(api.fire("boss@sit.test", prb["id"], "close"))
    before = {t["id"]: (stored(ok(api.get(f"/tickets/{t['id']}", "agent@sit.test"))),
                        events(api, t["id"], "agent@sit.test")) for t in (prb, first)}
    path = f"/problems/{prb['id']}/incidents"
    refused = api.call("DELETE", f"{path}/{first['number']}", "agent@sit.test")
    assert refused.status_code == 409
    assert refused.get_json()["message"] == "The problem is closed; open a new one."
    third = api.incident(title="Tiles again", layer="operating_system")
    assert api.post(path, "agent@sit.test", {"incident": third["number"]}).status_code == 409
    for ticket_id, (view, history) in before.items():
        assert stored(ok(api.get(f"/tickets/{ticket_id}", "agent@sit.test"))) == view
        assert events(api, ticket_id, "agent@sit.test") == history


def test_unlink_refused_on_a_cancelled_problem_in_the_service(session, rules, world):
    user, sit = world.actor(session, "agent@sit.test")
    rep, gst = world.actor(session, "rep@gst.test")
    incident = tickets.submit_incident(session, rules, rep, gst, {
        "system": "kort", "environment": "production", "layer": "operating_system",
        "title": "Tiles", "impact": 2, "urgency": 2}, now=NOW)
    prb = tickets.submit_problem(session, rules, user, sit, {
        "system": "kort", "layer": "operating_system", "title": "Stalls",
        "incidents": [incident.id]}, now=NOW)
    fire(session, rules, world, "boss@sit.test", prb, "cancel", comment="Duplicate.")
    with pytest.raises(InvalidTransition, match="The problem is closed"):
        problems.unlink_incident(session, rules, user, sit, prb.id, incident.id, now=NOW)
    assert [i.id for i in prb.incidents] == [incident.id]


# --- the links' order -------------------------------------------------------------------------

def test_links_load_in_id_order_whatever_the_order_they_were_made(session, rules, world, rt):
    assert Ticket.incidents.property.order_by and Ticket.problems.property.order_by
    user, sit = world.actor(session, "agent@sit.test")
    rep, gst = world.actor(session, "rep@gst.test")
    made = [tickets.submit_incident(session, rules, rep, gst, {
        "system": "kort", "environment": "production", "layer": "operating_system",
        "title": f"Tiles {n}", "impact": 2, "urgency": 2}, now=NOW) for n in range(5)]
    prb = tickets.submit_problem(session, rules, user, sit, {
        "system": "kort", "layer": "operating_system", "title": "Stalls",
        "incidents": [made[4].id]}, now=NOW)
    later = tickets.submit_problem(session, rules, user, sit, {
        "system": "kort", "layer": "operating_system", "title": "Other",
        "incidents": [made[0].id]}, now=NOW)
    for incident in (made[3], made[1], made[0], made[2]):
        problems.link_incident(session, rules, user, sit, prb.id, incident.id, now=NOW)
    problems.unlink_incident(session, rules, user, sit, prb.id, made[2].id, now=NOW)
    session.commit()
    ids = [made[n].id for n in (0, 1, 3, 4)]
    other = rt.session_factory()
    try:
        assert [i.id for i in other.get(Ticket, prb.id).incidents] == ids
        assert [p.id for p in other.get(Ticket, made[0].id).problems] == [prb.id, later.id]
    finally:
        other.close()
    session.expire_all()
    assert [i.id for i in session.get(Ticket, prb.id).incidents] == ids


# --- #13: reclassify to the same layer --------------------------------------------------------

@pytest.mark.parametrize("kind", ["incident", "problem"])
def test_reclassify_to_the_layer_it_has_is_refused(api, kind):
    if kind == "incident":
        ticket = api.incident(title="Tiles time out", layer="operating_system")
    else:
        ticket = ok(api.post("/problems", "agent@sit.test", {
            "system": "kort", "layer": "operating_system", "title": "Storage stalls"}), 201)
    before = stored(ok(api.get(f"/tickets/{ticket['id']}", "agent@sit.test")))
    history = events(api, ticket["id"], "agent@sit.test")
    assert "reclassify" in before["available_transitions"]
    refused = api.fire("agent@sit.test", ticket["id"], "reclassify", layer="operating_system")
    assert refused.status_code == 422, refused.get_json()
    body = refused.get_json()
    assert body["message"] == "The layer is unchanged: choose another layer."
    assert body["errors"] == {"layer": ["The layer is unchanged: choose another layer."]}
    assert stored(ok(api.get(f"/tickets/{ticket['id']}", "agent@sit.test"))) == before
    assert events(api, ticket["id"], "agent@sit.test") == history
    assert translate("da", body["message"]) == "Laget er uændret: vælg et andet lag."
    # another layer is still a reclassification
    moved = ok(api.fire("agent@sit.test", ticket["id"], "reclassify", layer="infrastructure"))
    assert moved["layer"] == "infrastructure"


# --- #15: messages as sentences, in both languages --------------------------------------------

def test_a_change_of_another_party_says_who_raises_it(api, app):
    body = {"system": "kort", "environment": "production", "change_type": "normal",
            "title": "Upgrade", "planned_start": "2026-12-01T20:00:00+01:00",
            "planned_end": "2026-12-01T22:00:00+01:00"}
    sit = api.post("/changes", "agent@sit.test", {**body, "layer": "application"})
    assert sit.status_code == 403
    assert sit.get_json()["message"] == \
        "An application change is raised by the customer (or its supplier)."
    gst = api.post("/changes", "agent@gst.test", {**body, "layer": "operating_system"})
    assert gst.status_code == 403
    assert gst.get_json()["message"] == "An operating system change is raised by SIT."
    mid = api.post("/changes", "agent@sit.test", {**body, "layer": "middleware"})
    assert mid.get_json()["message"] == \
        "A middleware change is raised by the customer (or its supplier)."
    with app.app_context():
        assert translate("da", sit.get_json()["message"]) == \
            "En ændring på laget applikation oprettes af kunden (eller dens leverandør)."
        assert translate("da", gst.get_json()["message"]) == \
            "En ændring på laget operativsystem oprettes af SIT."


def test_a_ticket_of_the_wrong_kind_or_an_unknown_incident_is_named(api):
    incident = api.incident(title="Tiles time out", layer="operating_system")
    prb = ok(api.post("/problems", "agent@sit.test", {
        "system": "kort", "layer": "operating_system", "title": "Storage stalls"}), 201)
    other = ok(api.post("/problems", "agent@sit.test", {
        "system": "kort", "layer": "operating_system", "title": "Other"}), 201)
    wrong = api.post(f"/problems/{prb['id']}/incidents", "agent@sit.test",
                     {"incident": str(other["id"])})
    assert wrong.status_code == 422
    assert wrong.get_json()["message"] == "The ticket given is not an incident."
    assert wrong.get_json()["errors"] == {"incident": ["Not an incident."]}
    assert translate("da", "Not an incident.") == "Ikke en hændelse."
    assert translate("da", "The ticket given is not an incident.") == \
        "Den angivne sag er ikke en hændelse."
    not_problem = api.call("DELETE", f"/problems/{incident['id']}/incidents/{incident['id']}",
                           "agent@sit.test")
    assert not_problem.status_code == 422
    assert not_problem.get_json()["errors"] == {"problem": ["Not a problem."]}
    assert translate("da", "The ticket is not a problem.") == "Sagen er ikke et problem."

    unknown = api.post("/problems", "agent@sit.test", {
        "system": "kort", "layer": "operating_system", "title": "Stalls",
        "incidents": [incident["id"], 999999, other["id"]]})
    assert unknown.status_code == 422
    assert unknown.get_json()["errors"]["incidents"] == [
        "INC-999999 is not an incident of this system's customer.",
        f"INC-{other['id']:06d} is not an incident of this system's customer."]
    assert translate("da", "INC-999999 is not an incident of this system's customer.") == \
        "INC-999999 er ikke en hændelse hos systemets kunde."


def test_resolve_incidents_says_why_one_is_not_for_the_caller(api, app):
    incident = api.incident(title="Tiles time out", layer="operating_system")
    prb = ok(api.post("/problems", "agent@sit.test", {
        "system": "kort", "layer": "operating_system", "title": "Storage stalls",
        "incidents": [incident["id"]]}), 201)
    ok(api.fire("agent@sit.test", prb["id"], "investigate"))
    ok(api.fire("agent@sit.test", prb["id"], "resolve", resolution="Firmware updated."))
    result = ok(api.post(f"/problems/{prb['id']}/resolve-incidents", "agent@gst.test", {}))[
        "items"]
    assert [r["result"] for r in result] == ["not_permitted"]
    reason = result[0]["reason"]
    assert reason == ('Only agents and managers of the provider (SIT) may use "Resolve" on this '
                      'ticket: it is responsible for the operating system layer.')
    with app.app_context():
        assert translate("da", reason).startswith("Kun medarbejdere og ledere hos SIT")


def test_no_open_consultation_names_the_stage_by_its_label(session, rules, world, app):
    change = submit_change(session, rules, world)
    fire(session, rules, world, "agent@sit.test", change, "assess")
    fire(session, rules, world, "agent@sit.test", change, "request_approval", risk="medium",
         impact_assessment="Reboot.")
    fire(session, rules, world, "boss@sit.test", change, "approve", comment="Go.")
    fire(session, rules, world, "agent@sit.test", change, "consult", stage="installation_test",
         question="Tuesday?")
    with pytest.raises(InvalidTransition) as refused:
        fire(session, rules, world, "agent@gst.test", change, "answer_consultation",
             stage="acceptance_test", answer="Yes")
    assert refused.value.message == \
        "No open consultation of the customer on Acceptance test (overtagelsesprøve)."
    with app.app_context():
        assert translate("da", refused.value.message) == \
            "Der er ingen åben høring af kunden om Overtagelsesprøve."


def test_choices_and_years_read_in_danish(session, rules, world, app):
    change = submit_change(session, rules, world)
    fire(session, rules, world, "agent@sit.test", change, "assess")
    with pytest.raises(ValidationError) as refused:
        fire(session, rules, world, "agent@sit.test", change, "request_approval", risk="huge",
             impact_assessment="Reboot.")
    [choices] = refused.value.errors["risk"]
    assert choices == "Must be one of: low, medium, high."
    with app.app_context():
        assert translate("da", choices) == "Skal være en af: lav, middel, høj."
        assert translate("da", "Must be one of: application, middleware, operating_system, "
                               "infrastructure.") == \
            "Skal være en af: applikation, middleware, operativsystem, infrastruktur."
        assert translate("da", "A year from 1970 to 2999.") == "Et årstal fra 1970 til 2999."


# --- #22: the documents say what the API does --------------------------------------------------

def test_the_documents_say_what_linking_answers(api):
    incident = api.incident(title="Tiles time out", layer="operating_system")
    assert "known_errors" not in ok(api.get(f"/tickets/{incident['id']}", "agent@sit.test"))
    changes_doc = (DOCS / "changes.md").read_text()
    itsm_doc = (DOCS / "api-itsm.md").read_text()
    assert "as `known_errors` in an incident's JSON" not in changes_doc + itsm_doc
    assert "422 for another\ncustomer's incident)" not in changes_doc
    assert "404 for a problem or incident the caller cannot see" in changes_doc
    assert "404 a ticket the caller cannot see" in itsm_doc
