"""The authorisation matrix: every role x every operation x own / other organisation, through
the API. A customer's staff (and a supplier) see only their own organisation's data (the other's
is 404, in lists too); SIT sees everything; the RACI matrix and the roles decide the rest (403)."""

from __future__ import annotations

import itertools

from tests.conftest import PASSWORD

ROLE_USER = {
    "reporter": "rep@gst.test", "customer_agent": "agent@gst.test",
    "customer_manager": "boss@gst.test", "supplier_agent": "sup@supplier.test",
    "sit_agent": "agent@sit.test", "sit_manager": "boss@sit.test", "admin": "admin@sit.test",
}
ROLES = list(ROLE_USER)
CUSTOMER_SIDE = {"reporter", "customer_agent", "customer_manager", "supplier_agent"}
SIT = {"sit_agent", "sit_manager"}
WORKERS = {"customer_agent", "customer_manager", "supplier_agent", "sit_agent", "sit_manager"}
# "own" is GST's system kort (the supplier is attached to it); "other" is ERST's virk.
SYSTEM = {"own": "kort", "other": "virk"}


def expect(role: str, op: str, scope: str) -> int:
    """The status each role gets for each operation on its own / the other organisation's data."""
    invisible = scope == "other" and role in CUSTOMER_SIDE
    admin = role == "admin"
    table = {
        "list_organisations": 200 if admin else 403,
        "create_organisation": 201 if admin else 403,
        "create_user": 201 if admin else 403,
        "create_system": 201 if admin else 403,
        "list_systems": 200,
        "get_system": 404 if invisible else 200,
        "patch_system": 404 if invisible else (200 if admin else 403),
        "submit_incident": 403 if admin else (422 if invisible else 201),
        "submit_problem": 403 if role not in WORKERS else (422 if invisible else 201),
        "submit_change": 403 if role not in WORKERS - SIT else (422 if invisible else 201),
        "list_tickets": 200,
        "get_ticket": 404 if invisible else 200,
        "get_events": 404 if invisible else 200,
        "get_comments": 404 if invisible else 200,
        "post_comment": 404 if invisible else (403 if admin else 201),
        # a new incident of unknown layer is SIT's to work (R): only SIT's agents may assign
        "assign": 404 if invisible else (200 if role in SIT else 403),
        # the reporter side may cancel its own organisation's incident; SIT is R and A
        "cancel": 404 if invisible else (200 if role in SIT | {"reporter"} else 403),
        "create_token": 201,
        "list_tokens": 200,
        # changes, problems, requests
        "submit_request": 403 if admin else (422 if invisible else 201),
        "calendar": 404 if invisible else 200,
        "cab": 200,
        "consultations": 404 if invisible else 200,
        "waiting_on": 404 if invisible else 200,
        "known_errors": 404 if invisible else 200,
        # the R of the problem or of the incident (SIT, for these) links them
        "link_incident": 404 if invisible else (200 if role in SIT else 403),
        "unlink_incident": 404 if invisible else (200 if role in SIT else 403),
        "resolve_incidents": 404 if invisible else 409,   # the problem is not resolved yet
        "list_templates": 200,
        "create_template": 201 if role in {"admin", "sit_manager"} else 403,
        "list_freezes": 200,
        "create_freeze": 201 if role in {"admin", "sit_manager"} else 403,
    }
    return table[op]


OPS = ["list_organisations", "create_organisation", "create_user", "create_system", "list_systems",
       "get_system", "patch_system", "submit_incident", "submit_problem", "submit_change",
       "list_tickets", "get_ticket", "get_events", "get_comments", "post_comment", "assign",
       "cancel", "create_token", "list_tokens", "submit_request", "calendar", "cab",
       "consultations", "waiting_on", "known_errors", "link_incident", "unlink_incident",
       "resolve_incidents", "list_templates", "create_template", "list_freezes", "create_freeze"]
CUSTOMER = {"own": "GST", "other": "ERST"}
CALENDAR = {"from": "2026-11-30T00:00:00+00:00", "to": "2026-12-03T00:00:00+00:00"}


def fresh_problem(api, system: str, incident: dict | None = None) -> dict:
    body = {"system": system, "layer": "operating_system", "title": "Why"}
    if incident is not None:
        body["incidents"] = [incident["id"]]
    response = api.post("/problems", "agent@sit.test", body)
    assert response.status_code == 201, response.json
    return response.json
_counter = itertools.count()


def perform(api, email: str, op: str, scope: str, tickets: dict[str, dict]):
    n = next(_counter)
    system = SYSTEM[scope]
    ticket = tickets[scope]
    fresh = None
    if op in ("assign", "cancel"):
        reporter = "rep@gst.test" if scope == "own" else "rep@erst.test"
        fresh = api.incident(email=reporter, system=system)
    problem = None
    if op in ("link_incident", "unlink_incident", "resolve_incidents"):
        problem = fresh_problem(api, system, ticket if op == "unlink_incident" else None)
    calls = {
        "list_organisations": lambda: api.get("/organisations", email),
        "create_organisation": lambda: api.post("/organisations", email,
                                                {"name": f"Org {n}", "kind": "customer"}),
        "create_user": lambda: api.post("/users", email, {
            "email": f"u{n}@gst.test", "organisation": "GST", "role": "reporter",
            "password": PASSWORD}),
        "create_system": lambda: api.post("/systems", email, {
            "key": f"sys{n}", "name": f"S{n}", "customer": "GST", "environments": ["production"]}),
        "list_systems": lambda: api.get("/systems", email),
        "get_system": lambda: api.get(f"/systems/{system}", email),
        "patch_system": lambda: api.call("PATCH", f"/systems/{system}", email,
                                         json={"vagtordning": True}),
        "submit_incident": lambda: api.post("/incidents", email, {
            "system": system, "environment": "production", "title": "Down", "impact": 2,
            "urgency": 2}),
        "submit_problem": lambda: api.post("/problems", email, {
            "system": system, "layer": "operating_system", "title": "Why"}),
        "submit_change": lambda: api.post("/changes", email, {
            "system": system, "environment": "production", "layer": "application",
            "change_type": "normal", "title": "Upgrade",
            "planned_start": "2026-12-01T20:00:00+01:00",
            "planned_end": "2026-12-01T22:00:00+01:00"}),
        "list_tickets": lambda: api.get("/tickets", email),
        "get_ticket": lambda: api.get(f"/tickets/{ticket['number']}", email),
        "get_events": lambda: api.get(f"/tickets/{ticket['id']}/events", email),
        "get_comments": lambda: api.get(f"/tickets/{ticket['id']}/comments", email),
        "post_comment": lambda: api.post(f"/tickets/{ticket['id']}/comments", email, {"body": "Hi"}),
        "assign": lambda: api.fire(email, fresh["id"], "assign", assignee="agent2@sit.test"),
        "cancel": lambda: api.fire(email, fresh["id"], "cancel", comment="Not needed"),
        "create_token": lambda: api.post("/tokens", email, {"name": "matrix"}),
        "list_tokens": lambda: api.get("/tokens", email),
        "submit_request": lambda: api.post("/requests", email, {
            "system": system, "environment": "production", "layer": "application",
            "activity": "user_access", "title": "Access please"}),
        "calendar": lambda: api.get("/changes/calendar", email,
                                    query_string={**CALENDAR, "system": system}),
        "cab": lambda: api.get("/changes/cab", email),
        "consultations": lambda: api.get(f"/tickets/{ticket['id']}/consultations", email),
        "waiting_on": lambda: api.get(f"/tickets/{ticket['number']}/waiting-on", email),
        "known_errors": lambda: api.get("/problems/known-errors", email,
                                        query_string={"system": system, "q": "tile"}),
        "link_incident": lambda: api.post(f"/problems/{problem and problem['id']}/incidents", email,
                                          {"incident": ticket["number"]}),
        "unlink_incident": lambda: api.call(
            "DELETE", f"/problems/{problem and problem['id']}/incidents/{ticket['id']}", email),
        "resolve_incidents": lambda: api.post(f"/problems/{problem and problem['id']}/resolve-incidents",
                                              email, {}),
        "list_templates": lambda: api.get("/change-templates", email),
        "create_template": lambda: api.post("/change-templates", email, {
            "key": f"tpl-{n}", "name": "Patch", "activity": "patch_management",
            "layer": "operating_system"}),
        "list_freezes": lambda: api.get("/freeze-periods", email),
        "create_freeze": lambda: api.post("/freeze-periods", email, {
            "name": f"Freeze {n}", "customer": CUSTOMER[scope],
            "starts_at": "2026-12-20T00:00:00+01:00", "ends_at": "2026-12-27T00:00:00+01:00"}),
    }
    return calls[op]()


def test_every_role_every_operation_on_own_and_other_organisation(api):
    """One world for the whole table (building it hashes a dozen passwords)."""
    mismatches = []
    for role in ROLES:
        mismatches += check_role(api, role)
    assert not mismatches, "\n".join(map(str, mismatches))


def check_role(api, role: str) -> list[tuple]:
    email = ROLE_USER[role]
    tickets = {"own": api.incident(email="rep@gst.test", system="kort"),
               "other": api.incident(email="rep@erst.test", system="virk")}
    mismatches = []
    checked = 0
    for op, scope in itertools.product(OPS, ("own", "other")):
        response = perform(api, email, op, scope, tickets)
        checked += 1
        wanted = expect(role, op, scope)
        if response.status_code != wanted:
            mismatches.append((role, op, scope, wanted, response.status_code, response.json))
        assert response.is_json
        if response.status_code >= 400:
            assert response.json["status"] == response.status_code
    assert checked == len(OPS) * 2

    # lists and counts never show another organisation's tickets
    listed = {t["id"] for t in api.get("/tickets", email, query_string={"limit": 200}).json["items"]}
    if role in CUSTOMER_SIDE:
        assert tickets["other"]["id"] not in listed and tickets["own"]["id"] in listed
        for item in api.get("/tickets", email, query_string={"limit": 200}).json["items"]:
            assert item["system"] in ("kort", "arkiv")
        keys = {s["key"] for s in api.get("/systems", email).json}
        assert "virk" not in keys
    else:
        assert {tickets["other"]["id"], tickets["own"]["id"]} <= listed
    return mismatches
