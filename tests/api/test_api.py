"""The REST API v1 through real HTTP (Flask test client) on SQLite and PostgreSQL: the ticket
shape, lists and cursors, transitions, history, comments, tokens, both ways in and every error."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from itilflow.models import ApiToken, Ticket, TicketEvent
from itilflow.services import directory
from tests.conftest import PASSWORD
from tests.web.conftest import sign_in


def count(rt, model) -> int:
    with rt.session_factory() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_incident_has_the_contract_shape(api):
    body = api.incident(layer=None, outage=True)
    assert body["number"] == f"INC-{body['id']:06d}"
    assert body["kind"] == "incident" and body["state"] == "new"
    assert body["system"] == "kort" and body["environment"] == "production"
    assert body["layer"] is None and body["activity"] == "incident_management"
    assert (body["impact"], body["urgency"], body["priority"]) == (2, 2, "P3")
    assert body["responsible_party"] == "provider" and body["accountable_party"] == "provider"
    assert set(body["raci"]) == {"customer", "provider"}
    assert body["assignee"] is None and body["reporter"] == "rep@gst.test"
    assert body["version"] == 1 and body["outage"] is True
    assert body["paging"] == {"pages": [], "acknowledged_at": None, "party": None, "levels": 0,
                              "escalating": False, "acknowledged_by": None}
    assert set(body["sla"]) >= {"response_due_at", "resolution_due_at", "paused"}
    assert "cancel" in body["available_transitions"]  # the reporter may cancel
    assert "resolve" not in body["available_transitions"]
    for key in ("after_hours", "created_at", "updated_at", "incidents", "problems", "details"):
        assert key in body


def test_one_ticket_by_id_or_number_and_others_are_404(api):
    t = api.incident()
    assert api.get(f"/tickets/{t['id']}", "agent@sit.test").json["number"] == t["number"]
    assert api.get(f"/tickets/{t['number']}", "rep@gst.test").json["id"] == t["id"]
    assert api.get(f"/tickets/{t['number'].lower()}", "rep@gst.test").status_code == 200
    assert api.get(f"/tickets/PRB-{t['id']:06d}", "rep@gst.test").status_code == 404
    for other in ("rep@erst.test", "agent@erst.test", "boss@erst.test"):
        response = api.get(f"/tickets/{t['id']}", other)
        assert response.status_code == 404 and response.json["status"] == 404
        assert api.get(f"/tickets/{t['id']}/events", other).status_code == 404
        assert api.fire(other, t["id"], "cancel", comment="x").status_code == 404
    assert api.get("/tickets/999999", "agent@sit.test").status_code == 404


def test_reclassify_hands_over_with_versions_and_history(api):
    t = api.incident()
    r = api.fire("agent@sit.test", t["id"], "assign", assignee="agent@sit.test", version=1)
    assert r.status_code == 200 and r.json["assignee"] == "agent@sit.test" and r.json["version"] == 2
    stale = api.fire("agent@sit.test", t["id"], "start_work", version=1)
    assert stale.status_code == 409 and stale.json["message"]
    r = api.fire("agent@sit.test", t["id"], "reclassify", layer="application", comment="App.", version=2)
    assert r.status_code == 200
    assert r.json["responsible_party"] == "customer" and r.json["layer"] == "application"
    assert r.json["raci"]["customer"].startswith("A") or "R" in r.json["raci"]["customer"]
    assert r.json["available_transitions"] == []  # SIT has no action any more
    mine = api.get(f"/tickets/{t['id']}", "agent@gst.test").json
    assert "resolve" in mine["available_transitions"]
    events = api.get(f"/tickets/{t['id']}/events", "rep@gst.test").json
    assert [(e["kind"], e["trigger"]) for e in events] == [
        ("created", None), ("transition", "assign"), ("transition", "reclassify"),
        ("handover", None)]
    assert events[-1]["data"]["to_party"] == "customer" and events[1]["actor"] == "agent@sit.test"
    # not permitted by the matrix: 403; not valid in the state: 409
    assert api.fire("agent@sit.test", t["id"], "resolve", resolution="x").status_code == 403
    assert api.fire("agent@gst.test", t["id"], "close").status_code == 409


def test_transition_field_errors_are_422_and_write_nothing(api, rt):
    t = api.incident()
    before = count(rt, TicketEvent)
    for body in ({"trigger": "resolve"}, {"trigger": "resolve", "resolution": "x", "state": "closed"},
                 {"trigger": "resolve", "resolution": "a\x00b"}, {"trigger": 5},
                 {"trigger": "resolve", "resolution": "x", "version": "1"},
                 {"trigger": "resolve", "resolution": "x", "version": True}):
        r = api.post(f"/tickets/{t['id']}/transitions", "agent@sit.test", body)
        assert r.status_code == 422, (body, r.json)
        assert r.json["errors"], r.json
    assert api.fire("agent@sit.test", t["id"], "no_such_trigger").status_code == 422
    assert count(rt, TicketEvent) == before
    assert api.get(f"/tickets/{t['id']}", "agent@sit.test").json["state"] == "new"


def test_list_filters_and_keyset_cursor(api):
    ids = [api.incident(title=f"Ticket {i}", impact=1 + i % 3)["id"] for i in range(7)]
    api.incident(email="rep@erst.test", system="virk", title="ERST's own")
    seen, cursor = [], None
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.get("/tickets", "rep@gst.test", query_string=query).json
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids, reverse=True)  # newest first, no repeats, nothing of ERST
    everything = api.get("/tickets", "agent@sit.test", query_string={"limit": 200}).json
    assert len(everything["items"]) == 8
    p1 = api.get("/tickets", "agent@sit.test", query_string={"priority": "P2"}).json["items"]
    assert len(p1) == 3 and all(i["priority"] == "P2" for i in p1)
    q = api.get("/tickets", "agent@sit.test", query_string={"q": "ticket 3"}).json["items"]
    assert [i["title"] for i in q] == ["Ticket 3"]
    by_number = api.get("/tickets", "agent@sit.test", query_string={"q": f"INC-{ids[0]:06d}"})
    assert ids[0] in [i["id"] for i in by_number.json["items"]]
    assert api.get("/tickets", "agent@sit.test", query_string={"system": "virk"}).json["items"][0][
        "title"] == "ERST's own"
    assert api.get("/tickets", "agent@sit.test", query_string={"layer": "unknown", "party": "provider",
                                                               "kind": "incident", "state": "new"}
                   ).json["items"]
    for bad in ({"priority": "P9"}, {"cursor": "!!"}, {"limit": 0}, {"kind": "spaceship"},
                {"q": "a\x00"}):
        r = api.get("/tickets", "agent@sit.test", query_string=bad)
        assert r.status_code == 422 and r.json["errors"], bad


def test_comments(api):
    t = api.incident()
    r = api.post(f"/tickets/{t['id']}/comments", "rep@gst.test", {"body": "Still down."})
    assert r.status_code == 201 and r.json["kind"] == "comment" and r.json["actor"] == "rep@gst.test"
    assert api.post(f"/tickets/{t['id']}/comments", "rep@erst.test", {"body": "x"}).status_code == 404
    assert api.post(f"/tickets/{t['id']}/comments", "admin@sit.test", {"body": "x"}).status_code == 403
    assert api.post(f"/tickets/{t['id']}/comments", "rep@gst.test", {"body": ""}).status_code == 422
    listed = api.get(f"/tickets/{t['id']}/comments", "agent@sit.test").json
    assert [c["data"]["body"] for c in listed] == ["Still down."]


def test_problem_and_change(api):
    inc = api.incident(layer="operating_system")
    r = api.post("/problems", "agent@sit.test", {"system": "kort", "layer": "operating_system",
                                                  "title": "Disk fills", "incidents": [inc["id"]]})
    assert r.status_code == 201, r.json
    assert r.json["number"].startswith("PRB-") and r.json["incidents"] == [
        {"id": inc["id"], "number": inc["number"]}]
    assert api.get(f"/tickets/{inc['id']}", "rep@gst.test").json["problems"][0]["id"] == r.json["id"]
    assert api.post("/problems", "rep@gst.test", {"system": "kort", "layer": "application",
                                                  "title": "x"}).status_code == 403
    change = {"system": "kort", "environment": "production", "layer": "operating_system",
              "change_type": "normal", "title": "Patch the kernel",
              "planned_start": "2026-12-01T20:00:00+01:00", "planned_end": "2026-12-01T22:00:00+01:00"}
    r = api.post("/changes", "agent@sit.test", change)
    assert r.status_code == 201, r.json
    assert r.json["kind"] == "change" and r.json["number"].startswith("CHG-")
    assert api.post("/changes", "agent@sit.test", {**change, "planned_start": "tomorrow"}
                    ).status_code == 422


def test_directory_calls(api):
    r = api.post("/organisations", "admin@sit.test", {"name": "SKAT", "kind": "customer"})
    assert r.status_code == 201 and r.json["kind"] == "customer"
    assert api.post("/organisations", "admin@sit.test", {"name": "SKAT", "kind": "customer"}
                    ).status_code == 409
    assert api.post("/organisations", "admin@sit.test", {"name": "skat", "kind": "customer"}
                    ).status_code == 409   # one customer, however it is spelt
    for reserved in ("all", "*", "ALL"):  # what reports call every customer
        assert api.post("/organisations", "admin@sit.test", {"name": reserved, "kind": "customer"}
                        ).status_code == 422
    assert "SKAT" in [o["name"] for o in api.get("/organisations", "admin@sit.test").json]
    r = api.post("/users", "admin@sit.test", {"email": "a@skat.test", "organisation": "SKAT",
                                              "role": "reporter", "password": PASSWORD})
    assert r.status_code == 201 and "password" not in r.json and r.json["organisation"] == "SKAT"
    r = api.post("/systems", "admin@sit.test", {"key": "told", "name": "Told", "customer": "SKAT",
                                                "environments": ["production"], "vagtordning": True})
    assert r.status_code == 201
    assert r.json == {"key": "told", "name": "Told", "customer": "SKAT",
                      "environments": ["production"], "vagtordning": True,
                      "options": {"load_balancer": False, "dedicated_physical": False},
                      "suppliers": []}
    r = api.call("PATCH", "/systems/told", "admin@sit.test",
                 json={"options": {"load_balancer": True}, "suppliers": ["Supplier A/S"]})
    assert r.status_code == 200 and r.json["options"]["load_balancer"] is True
    assert r.json["suppliers"] == ["Supplier A/S"]
    assert [s["key"] for s in api.get("/systems", "rep@gst.test").json] == ["arkiv", "kort"]
    assert [s["key"] for s in api.get("/systems", "sup@supplier.test").json] == ["kort", "told"]
    assert api.get("/systems/virk", "rep@gst.test").status_code == 404
    assert api.call("PATCH", "/systems/kort", "agent@gst.test", json={"name": "x"}).status_code == 403
    assert api.call("PATCH", "/systems/virk", "agent@gst.test", json={"name": "x"}).status_code == 404


def test_tokens_are_shown_once_hashed_revocable(api, rt):
    r = api.post("/tokens", "rep@gst.test", {"name": "monitoring"})
    assert r.status_code == 201
    secret, token_id = r.json["token"], r.json["id"]
    assert secret.startswith("itf_") and r.json["prefix"] == secret[:12]
    with rt.session_factory() as s:
        stored = s.get(ApiToken, token_id)
        assert stored.token_hash != secret and secret not in stored.token_hash
    listed = api.get("/tokens", "rep@gst.test").json
    assert all("token" not in t for t in listed) and token_id in [t["id"] for t in listed]
    c = api.client
    assert c.get("/api/v1/tickets", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    mine = next(t for t in api.get("/tokens", "rep@gst.test").json if t["id"] == token_id)
    assert mine["last_used_at"] is not None
    assert api.call("DELETE", f"/tokens/{token_id}", "rep@erst.test").status_code == 404
    assert api.call("DELETE", f"/tokens/{token_id}", "rep@gst.test").status_code == 204
    r = c.get("/api/v1/tickets", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")


def test_errors_have_one_shape(api, rt, app):
    c = api.client
    auth = api.headers("rep@gst.test")
    before = count(rt, Ticket)
    cases = [
        (c.get("/api/v1/tickets"), 401),
        (c.get("/api/v1/tickets", headers={"Authorization": "Bearer nope"}), 401),
        (c.get("/api/v1/tickets", headers={"Authorization": "Basic abc"}), 401),
        (c.post("/api/v1/incidents", data="{not json", headers=auth,
                content_type="application/json"), 400),
        (c.post("/api/v1/incidents", json=[1, 2], headers=auth), 400),
        (c.post("/api/v1/incidents", json="text", headers=auth), 400),
        (c.post("/api/v1/incidents", data=b"\xff\xfe", headers=auth,
                content_type="application/json"), 400),
        (c.delete("/api/v1/tickets", headers=auth), 405),
        (c.get("/api/v1/nothing-here", headers=auth), 404),
        (c.post("/api/v1/incidents", data="x" * (app.config["MAX_CONTENT_LENGTH"] + 1),
                headers=auth, content_type="application/json"), 413),
        (c.post("/api/v1/incidents", json={"title": "t"}, headers=auth), 422),
    ]
    for response, status in cases:
        assert response.status_code == status, (status, response.data[:200])
        assert response.is_json and response.json["status"] == status
        assert isinstance(response.json["message"], str) and isinstance(response.json["errors"], dict)
    assert count(rt, Ticket) == before


def test_invalid_incidents_get_per_field_422(api, rt):
    good = {"system": "kort", "environment": "production", "title": "T", "impact": 1, "urgency": 1}
    for change, field in [({"title": "a\x00b"}, "title"), ({"description": "\x1b[31m"}, "description"),
                          ({"impact": 4}, "impact"), ({"impact": "1"}, "impact"),
                          ({"urgency": True}, "urgency"), ({"layer": "kernel"}, "layer"),
                          ({"outage": "yes"}, "outage"), ({"system": "virk"}, "system"),
                          ({"environment": "staging"}, "environment"), ({"title": "x" * 201}, "title"),
                          ({"state": "closed"}, "state"), ({"id": 7}, "id"), ({"version": 3}, "version"),
                          ({"number": "INC-1"}, "number"), ({"responsible_party": "customer"},
                                                            "responsible_party")]:
        r = api.post("/incidents", "rep@gst.test", {**good, **change})
        assert r.status_code == 422, (change, r.json)
        assert field in r.json["errors"], (change, r.json)
    assert count(rt, Ticket) == 0


def test_session_cookie_with_csrf(api, app, rt):
    c = app.test_client()
    with rt.session_factory() as s:
        user = directory.user_by_email(s, "rep@gst.test")
        session_id = f"{user.id}:{user.credential_stamp}"
    with c.session_transaction() as sess:  # what Flask-Login keeps after /login
        sess["_user_id"] = session_id
        sess["_fresh"] = True
    assert c.get("/api/v1/tickets").status_code == 200
    body = {"system": "kort", "environment": "production", "title": "T", "impact": 1, "urgency": 1}
    refused = c.post("/api/v1/incidents", json=body)
    assert refused.status_code == 403 and refused.json["status"] == 403
    with app.test_request_context():
        from flask import session as flask_session
        from flask_wtf.csrf import generate_csrf
        token = generate_csrf()
        raw = flask_session["csrf_token"]
    with c.session_transaction() as sess:
        sess["csrf_token"] = raw
    r = c.post("/api/v1/incidents", json=body, headers={"X-CSRFToken": token})
    assert r.status_code == 201, r.json


def test_openapi_and_reference_page(api):
    c = api.client
    spec = c.get("/api/v1/openapi.json")
    assert spec.status_code == 200
    doc = spec.json
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path in ["/api/v1/organisations", "/api/v1/users", "/api/v1/systems",
                 "/api/v1/systems/{key}", "/api/v1/incidents", "/api/v1/problems",
                 "/api/v1/changes", "/api/v1/tickets", "/api/v1/tickets/{ticket_id}",
                 "/api/v1/tickets/{ticket_id}/transitions", "/api/v1/tickets/{ticket_id}/events",
                 "/api/v1/tickets/{ticket_id}/comments", "/api/v1/tokens", "/api/v1/tokens/{token_id}"]:
        assert path in paths, path
        for op in paths[path].values():
            if isinstance(op, dict) and "responses" in op:
                assert "default" in op["responses"] and "401" in op["responses"], path
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    page = c.get("/api/v1/docs")
    assert page.status_code == 200 and b"/api/v1/tickets/{ticket_id}/transitions" in page.data
    assert b"<script" not in page.data and b"http" not in page.data.replace(b"http-equiv", b"")
    icon = re.search(rb'<link rel="icon" href="([^"]+)"', page.data).group(1).decode()
    assert c.get(icon).status_code == 200   # no 404 in the browser's console


def test_an_agent_logs_an_incident_for_a_caller_over_the_api(api):
    logged = api.post("/incidents", "agent@sit.test", {
        "system": "kort", "environment": "production", "title": "Caller: maps are grey",
        "impact": 2, "urgency": 2, "reporter": "rep@gst.test"})
    assert logged.status_code == 201, logged.json
    assert logged.json["reporter"] == "rep@gst.test"
    mine = api.get("/tickets", "rep@gst.test").json["items"]
    assert logged.json["number"] in [t["number"] for t in mine]
    refused = api.post("/incidents", "rep@gst.test", {
        "system": "kort", "environment": "production", "title": "For my boss", "impact": 2,
        "urgency": 2, "reporter": "boss@gst.test"})
    assert refused.status_code == 403
    unknown = api.post("/incidents", "agent@sit.test", {
        "system": "kort", "environment": "production", "title": "x", "impact": 2, "urgency": 2,
        "reporter": "rep@erst.test"})
    assert unknown.status_code == 422 and list(unknown.json["errors"]) == ["reporter"]


def test_an_admin_deactivates_a_leaver_and_their_access_ends_at_once(api, app):
    browser = app.test_client()
    sign_in(browser, "agent@sit.test")
    assert browser.get("/agent").status_code == 200
    assert api.get("/tickets", "agent@sit.test").status_code == 200
    answer = api.call("PATCH", "/users/agent@sit.test", "admin@sit.test", json={"active": False})
    assert answer.status_code == 200 and answer.json["active"] is False
    assert api.get("/tickets", "agent@sit.test").status_code == 401  # the token is revoked
    assert browser.get("/agent").status_code in (302, 401)  # the session ended
    assert app.test_client().post("/login", data={"email": "agent@sit.test"}).status_code != 302
    back = api.call("PATCH", "/users/agent@sit.test", "admin@sit.test", json={"active": True})
    assert back.status_code == 200 and back.json["active"] is True
    assert api.get("/tickets", "agent@sit.test").status_code == 401  # old tokens stay revoked
    listed = api.get("/users", "admin@sit.test")
    assert listed.status_code == 200 and "agent@sit.test" in [u["email"] for u in listed.json]
    assert api.get("/users", "agent2@sit.test").status_code == 403


@pytest.mark.parametrize(("who", "body", "status", "field"), [
    ("admin@sit.test", {"active": False}, 422, "active"),         # no lock-out of oneself
    ("admin@sit.test", {"role": "sit_agent"}, 422, "role"),
    ("agent@sit.test", {"role": "customer_agent"}, 422, "role"),  # not the org's kind
    ("agent@sit.test", {"active": "no"}, 422, "active"),
    ("agent@sit.test", {"password": "short"}, 422, "password"),
    ("agent@sit.test", {"password": "x" * 1025}, 422, "password"),
    ("admin@sit.test", {"password": "a brand new passphrase"}, 422, "password"),  # own: /account
    ("agent@sit.test", {"email": "x@sit.test"}, 422, "email"),
])
def test_bad_user_changes_are_refused_and_change_nothing(api, who, body, status, field):
    answer = api.call("PATCH", f"/users/{who}", "admin@sit.test", json=body)
    assert answer.status_code == status, answer.json
    assert field in answer.json["errors"]
    users = {u["email"]: u for u in api.get("/users", "admin@sit.test").json}
    assert users[who]["active"] is True and users[who]["role"] in ("admin", "sit_agent")
    assert api.call("PATCH", "/users/ghost@sit.test", "admin@sit.test",
                    json={"active": False}).status_code == 404
    assert api.call("PATCH", f"/users/{who}", "boss@sit.test",
                    json={"name": "X"}).status_code == 403
