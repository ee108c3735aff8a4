"""The change, problem and service-request endpoints through the API: templates, affected
layers, freezes, the calendar and the CAB, consultations, problem links, known errors and
resolving a problem's incidents; every list shows a customer only its own organisation's data."""

from __future__ import annotations

import pytest

START, END = "2036-12-01T20:00:00+01:00", "2036-12-01T22:00:00+01:00"
RANGE = {"from": "2036-11-30T00:00:00+00:00", "to": "2036-12-03T00:00:00+00:00"}


def change(api, email="agent@sit.test", system="kort", **fields):
    body = {"system": system, "environment": "production", "layer": "operating_system",
            "change_type": "normal", "title": "Kernel update", "planned_start": START,
            "planned_end": END, **fields}
    response = api.post("/changes", email, body)
    assert response.status_code == 201, response.json
    return response.json


def ok(response, status=200):
    assert response.status_code == status, response.json
    return response.json


def test_service_request(api):
    req = ok(api.post("/requests", "rep@gst.test", {
        "system": "kort", "environment": "production", "layer": "application",
        "activity": "user_access", "title": "Access for a new colleague"}), 201)
    assert req["number"].startswith("REQ-") and req["kind"] == "request"
    assert req["activity"] == "user_access"
    # visible to its organisation, not to another
    ok(api.get(f"/tickets/{req['id']}", "agent@gst.test"))
    assert api.get(f"/tickets/{req['id']}", "rep@erst.test").status_code == 404
    bad = api.post("/requests", "rep@gst.test", {
        "system": "kort", "environment": "production", "layer": "application",
        "activity": "incident_management", "title": "x"})
    assert bad.status_code == 422 and "activity" in bad.json["errors"]
    assert api.post("/requests", "rep@gst.test", {
        "system": "virk", "environment": "production", "layer": "application",
        "activity": "user_access", "title": "x"}).status_code == 422
    assert api.post("/requests", "admin@sit.test", {
        "system": "kort", "environment": "production", "layer": "application",
        "activity": "user_access", "title": "x"}).status_code == 403


def test_templates_and_a_standard_change_from_one(api):
    body = {"key": "os-patch", "name": "Monthly OS patch", "activity": "patch_management",
            "layer": "operating_system"}
    assert api.post("/change-templates", "agent@gst.test", body).status_code == 403
    assert api.post("/change-templates", "agent@sit.test", body).status_code == 403
    template = ok(api.post("/change-templates", "boss@sit.test", body), 201)
    assert template["active"] is True and template["raci"]
    assert api.post("/change-templates", "admin@sit.test", body).status_code == 409
    assert [t["key"] for t in ok(api.get("/change-templates", "rep@gst.test"))["items"]] == ["os-patch"]

    standard = ok(api.post("/changes", "agent@sit.test", {
        "system": "kort", "environment": "production", "template": "os-patch",
        "planned_start": START, "planned_end": END}), 201)
    assert standard["details"]["template"] == "os-patch"
    assert standard["details"]["change_type"] == "standard"
    assert standard["title"] == "Monthly OS patch" and standard["activity"] == "patch_management"
    refused = api.post("/changes", "agent@sit.test", {
        "system": "kort", "environment": "production", "template": "nope",
        "planned_start": START, "planned_end": END})
    assert refused.status_code == 422 and "template" in refused.json["errors"]
    # without a template, layer and title are still needed
    missing = api.post("/changes", "agent@sit.test", {
        "system": "kort", "environment": "production", "change_type": "normal",
        "planned_start": START, "planned_end": END})
    assert missing.status_code == 422 and {"layer", "title"} <= set(missing.json["errors"])

    # retire it: gone from the list and from new changes; re-activate it
    assert api.call("PATCH", "/change-templates/os-patch", "agent@sit.test",
                    json={"active": False}).status_code == 403
    assert ok(api.call("PATCH", "/change-templates/os-patch", "admin@sit.test",
                       json={"active": False}))["active"] is False
    assert ok(api.get("/change-templates", "rep@gst.test"))["items"] == []
    assert len(ok(api.get("/change-templates?include_inactive=true", "admin@sit.test"))["items"]) == 1
    assert ok(api.call("PATCH", "/change-templates/os-patch", "admin@sit.test",
                       json={"active": True}))["active"] is True
    assert api.call("PATCH", "/change-templates/nope", "admin@sit.test",
                    json={"active": True}).status_code == 404


def test_affected_layers_freezes_calendar_and_isolation(api):
    freeze = ok(api.post("/freeze-periods", "boss@sit.test", {
        "name": "Christmas", "customer": "GST", "starts_at": "2036-12-01T00:00:00+01:00",
        "ends_at": "2036-12-02T00:00:00+01:00", "reason": "Peak season"}), 201)
    assert api.post("/freeze-periods", "agent@gst.test", {
        "name": "x", "starts_at": START, "end_at": END}).status_code in (403, 422)
    assert api.post("/freeze-periods", "agent@gst.test", {
        "name": "x", "starts_at": START, "ends_at": END}).status_code == 403
    assert api.post("/freeze-periods", "admin@sit.test", {
        "name": "x", "starts_at": END, "ends_at": START}).status_code == 422

    own = change(api, affected_layers=["application"])
    assert own["details"]["affected_layers"] == ["operating_system", "application"]
    assert own["details"]["approvers"] == ["provider", "customer"]
    assert [w["kind"] for w in own["details"]["warnings"]] == ["freeze"]
    other = change(api, system="virk")
    assert other["details"]["warnings"] == []

    def calendar(email, **extra):
        return {i["number"]: i for i in ok(api.get("/changes/calendar", email,
                                                   query_string={**RANGE, **extra}))["items"]}

    assert set(calendar("agent@sit.test")) == {own["number"], other["number"]}
    gst = calendar("rep@gst.test")
    assert set(gst) == {own["number"]}
    assert [w["kind"] for w in gst[own["number"]]["warnings"]] == ["freeze"]
    assert set(calendar("agent@erst.test")) == {other["number"]}
    assert set(calendar("sup@supplier.test")) == {own["number"]}
    assert set(calendar("agent@sit.test", system="virk")) == {other["number"]}
    assert api.get("/changes/calendar", "rep@gst.test",
                   query_string={**RANGE, "system": "virk"}).status_code == 404
    # start/end are accepted too; the range is checked
    assert set(calendar("agent@sit.test", **{"from": None, "to": None},
                        start=RANGE["from"], end=RANGE["to"])) == {own["number"], other["number"]}
    assert api.get("/changes/calendar", "agent@sit.test").status_code == 422
    assert api.get("/changes/calendar", "agent@sit.test", query_string={
        "from": "2026-01-01T00:00:00+00:00", "to": "2028-01-01T00:00:00+00:00"}).status_code == 422
    assert api.get("/changes/calendar", "agent@sit.test", query_string={
        "from": "2026-01-01T00:00:00", "to": "2026-02-01T00:00:00"}).status_code == 422

    # warnings live: another change on kort in the same window overlaps
    ok(api.post("/changes", "agent@sit.test", {
        "system": "kort", "environment": "test", "layer": "infrastructure", "change_type": "normal",
        "title": "Storage firmware", "planned_start": START, "planned_end": END}), 201)
    kinds = sorted(w["kind"] for w in ok(api.get(f"/changes/{own['id']}/warnings",
                                                  "rep@gst.test"))["items"])
    assert kinds == ["freeze", "overlap"]
    assert api.get(f"/changes/{own['id']}/warnings", "rep@erst.test").status_code == 404

    # freezes: the customer sees its own and global ones, not another customer's
    assert [f["name"] for f in ok(api.get("/freeze-periods", "rep@gst.test"))["items"]] == ["Christmas"]
    assert ok(api.get("/freeze-periods", "rep@erst.test"))["items"] == []
    assert api.call("DELETE", f"/freeze-periods/{freeze['id']}", "boss@gst.test").status_code == 403
    assert api.call("DELETE", "/freeze-periods/99999999999999", "admin@sit.test").status_code == 404
    assert api.call("DELETE", f"/freeze-periods/{freeze['id']}", "admin@sit.test").status_code == 204
    assert api.call("DELETE", f"/freeze-periods/{freeze['id']}", "admin@sit.test").status_code == 404


def test_cab_consultations_and_waiting_on(api):
    own = change(api, affected_layers=["application"])
    other = change(api, system="virk")
    for c in (own, other):
        assert api.fire("agent@sit.test", c["id"], "assess").status_code == 200
        ok(api.fire("agent@sit.test", c["id"], "consult", stage="installation_test",
                    question="May we test on Tuesday?"))
        ok(api.fire("agent@sit.test", c["id"], "request_approval", risk="medium",
                    impact_assessment="Reboot, one node at a time."))

    def cab(email):
        return {i["number"]: i for i in ok(api.get("/changes/cab", email))["items"]}

    sit = cab("boss@sit.test")
    assert set(sit) == {own["number"], other["number"]}
    assert sit[own["number"]]["pending_approvals"] == ["provider", "customer"]
    assert sit[own["number"]]["awaiting"] == "approval" and sit[own["number"]]["can_approve"]
    gst = cab("boss@gst.test")
    assert set(gst) == {own["number"]} and gst[own["number"]]["can_approve"] is True
    assert cab("rep@gst.test")[own["number"]]["can_approve"] is False
    assert set(cab("boss@erst.test")) == {other["number"]}

    ok(api.fire("boss@sit.test", own["id"], "approve", comment="Go."))
    item = cab("boss@sit.test")[own["number"]]
    assert item["pending_approvals"] == ["customer"] and item["can_approve"] is False
    assert [a["party"] for a in item["approvals"]] == ["provider"]

    consultations = ok(api.get(f"/tickets/{own['id']}/consultations", "rep@gst.test"))["items"]
    assert [(c["stage"], c["party"], c["open"]) for c in consultations] == [
        ("installation_test", "customer", True)]
    assert consultations[0]["question"] == "May we test on Tuesday?"
    assert consultations[0]["asked_by"] == "agent@sit.test"
    assert api.get(f"/tickets/{own['id']}/consultations", "rep@erst.test").status_code == 404
    waiting = ok(api.get(f"/tickets/{own['number']}/waiting-on", "agent@sit.test"))
    assert waiting["waiting_on_parties"] == ["customer"]
    assert waiting["approvals"]["pending"] == ["customer"]
    assert api.get(f"/tickets/{own['id']}/waiting-on", "agent@erst.test").status_code == 404

    ok(api.fire("agent@gst.test", own["id"], "answer_consultation", stage="installation_test",
                answer="Yes, Tuesday is fine."))
    answered = ok(api.get(f"/tickets/{own['id']}/consultations", "agent@sit.test"))["items"][0]
    assert answered["open"] is False and answered["answered_by"] == "agent@gst.test"
    ok(api.fire("boss@gst.test", own["id"], "approve"))
    assert own["number"] not in cab("boss@sit.test")
    assert ok(api.get(f"/tickets/{own['id']}", "rep@gst.test"))["state"] == "approved"


def test_problem_links_known_errors_and_resolving_incidents(api):
    first = api.incident(title="Tile cache disk full on node 2", layer="operating_system")
    second = api.incident(title="Tile cache full again", layer="operating_system")
    foreign = api.incident(email="rep@erst.test", system="virk", title="Virk tile cache full")
    prb = ok(api.post("/problems", "agent@sit.test", {
        "system": "kort", "layer": "operating_system", "title": "Tile cache disk fills up",
        "incidents": [first["id"]]}), 201)
    path = f"/problems/{prb['id']}/incidents"
    linked = ok(api.post(path, "agent@sit.test", {"incident": second["number"]}))
    assert [i["id"] for i in linked["incidents"]] == [first["id"], second["id"]]
    assert api.post(path, "agent@sit.test", {"incident": str(second["id"])}).status_code == 409
    assert api.post(path, "agent@sit.test", {"incident": str(foreign["id"])}).status_code == 422
    assert api.post(path, "agent@erst.test", {"incident": str(foreign["id"])}).status_code == 404
    assert api.post(path, "rep@gst.test", {"incident": second["number"]}).status_code == 403
    assert api.post(path, "agent@sit.test", {"incident": "INC-999999999999"}).status_code == 404
    assert api.post(path, "agent@sit.test", {"incident": 7}).status_code == 422
    assert [p["number"] for p in ok(api.get(f"/tickets/{second['id']}/problems",
                                            "rep@gst.test"))["items"]] == [prb["number"]]
    unlinked = ok(api.call("DELETE", f"{path}/{second['number']}", "agent@sit.test"))
    assert [i["id"] for i in unlinked["incidents"]] == [first["id"]]
    assert api.call("DELETE", f"{path}/{second['number']}", "agent@sit.test").status_code == 409
    assert api.call("DELETE", f"{path}/{first['id']}", "agent@erst.test").status_code == 404
    ok(api.post(path, "agent@sit.test", {"incident": second["number"]}))

    ok(api.fire("agent@sit.test", prb["id"], "investigate"))
    ok(api.fire("agent@sit.test", prb["id"], "record_known_error",
                root_cause="Log rotation disabled for the tile cache.",
                workaround="Run the cache purge job."))
    found = ok(api.get("/problems/known-errors", "rep@gst.test",
                       query_string={"q": "tile cache", "system": "kort"}))["items"]
    assert [(f["number"], f["workaround"]) for f in found] == [(prb["number"], "Run the cache purge job.")]
    assert ok(api.get("/problems/known-errors", "rep@erst.test", query_string={"q": "tile"}))["items"] == []
    assert api.get("/problems/known-errors", "rep@erst.test",
                   query_string={"system": "kort"}).status_code == 404
    assert api.get("/problems/known-errors", "rep@gst.test",
                   query_string={"bogus": "1"}).status_code == 422
    matches = ok(api.get(f"/tickets/{second['id']}/known-errors", "agent@sit.test"))["items"]
    assert matches[0]["number"] == prb["number"] and matches[0]["linked"] is True

    resolve_path = f"/problems/{prb['id']}/resolve-incidents"
    assert api.post(resolve_path, "agent@sit.test", {}).status_code == 409
    ok(api.fire("agent@sit.test", prb["id"], "resolve", resolution="Log rotation enabled."))
    assert [(i["number"], i["can_resolve"]) for i in ok(api.get(path, "agent@sit.test"))["items"]] == [
        (first["number"], True), (second["number"], True)]
    assert api.post(resolve_path, "agent@erst.test", {}).status_code == 404
    results = ok(api.post(resolve_path, "rep@gst.test", {}))["items"]
    assert {r["result"] for r in results} == {"not_permitted"}
    results = ok(api.post(resolve_path, "agent@sit.test", {}))["items"]
    assert [(r["number"], r["result"]) for r in results] == [
        (first["number"], "resolved"), (second["number"], "resolved")]
    assert ok(api.get(f"/tickets/{first['id']}", "rep@gst.test"))["resolution"].startswith(
        f"Resolved by {prb['number']}")
    again = ok(api.post(resolve_path, "agent@sit.test", {"resolution": "x"}))["items"]
    assert {r["result"] for r in again} == {"already_resolved"}


@pytest.mark.parametrize("path", ["/changes/cab", "/change-templates",
                                  "/changes/calendar?from=2026-11-30T00:00:00Z&to=2026-12-01T00:00:00Z",
                                  "/freeze-periods", "/problems/known-errors"])
def test_new_reads_need_credentials(api, path):
    response = api.get(path)
    assert response.status_code == 401 and response.json["status"] == 401
