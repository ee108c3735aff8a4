"""The pager endpoints in the OpenAPI document: every operation listed with the CONTRACT's
request fields and its error responses, the answers of a real paging round (hooks, schedules,
escalation, a dead letter resent, a signed pager call) conforming to the document and equal to
what the services return, and schemathesis over the pager operations as the admin who may call
them (tests/api/test_schemathesis.py calls them as an agent: 403)."""

from __future__ import annotations

import collections
import json

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from itilflow.domain import paging as rules_of_paging
from itilflow.jobs.context import JobContext
from itilflow.jobs.relay import Relay
from itilflow.runtime import utcnow
from itilflow.services import directory, oncall, paging
from tests.paging.conftest import EVENING, drain, make_hooks, raise_incident

P = "/api/v1"
ADMIN = "admin@sit.test"

#: (method, path) -> (success status, documented error statuses, request body fields or None)
OPERATIONS = {
    ("post", "/pager-hooks"): ("201", {"400", "401", "403", "409", "413", "422"},
                               {"name", "url", "format", "secret", "routing_key"}),
    ("get", "/pager-hooks"): ("200", {"401", "403", "422"}, None),
    ("delete", "/pager-hooks/{name}"): ("200", {"401", "403", "404", "409"}, None),
    ("patch", "/pager-hooks/{name}"): ("200", {"400", "401", "403", "404", "413", "422"},
                                       {"url", "format", "secret", "routing_key"}),
    ("put", "/systems/{key}/escalation"): ("200", {"400", "401", "403", "404", "413", "422"},
                                           {"party", "levels"}),
    ("get", "/systems/{key}/escalation"): ("200", {"401", "403", "404", "422"}, None),
    ("post", "/oncall-schedules"): ("201", {"400", "401", "403", "409", "413", "422"},
                                    {"name", "timezone", "rotation", "overrides", "ical"}),
    ("get", "/oncall-schedules"): ("200", {"401", "403", "422"}, None),
    ("get", "/oncall-schedules/{name}"): ("200", {"401", "403", "404", "422"}, None),
    ("patch", "/oncall-schedules/{name}"): ("200", {"400", "401", "403", "404", "409", "413", "422"},
                                           {"name", "timezone", "rotation", "overrides", "ical"}),
    ("post", "/oncall-schedules/{name}/overrides"): ("201", {"400", "401", "403", "404", "413",
                                                             "422"}, {"person", "start", "end"}),
    ("get", "/oncall-schedules/{name}/now"): ("200", {"401", "403", "404", "422"}, None),
    ("get", "/pager/dead-letters"): ("200", {"401", "403", "422"}, None),
    ("post", "/pager/dead-letters/{page_id}/resend"): ("202", {"401", "403", "404", "409"}, None),
    ("post", "/pager/events"): ("200", {"400", "401", "413", "422"}, {"dedup_key", "action"}),
}


def _resolve(doc, node):
    while isinstance(node, dict) and "$ref" in node:
        node = doc["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _body_schema(doc, op):
    return _resolve(doc, op["requestBody"]["content"]["application/json"]["schema"])


def _success_schema(doc, op, status):
    return _resolve(doc, op["responses"][status]["content"]["application/json"]["schema"])


def test_the_document_lists_every_pager_operation(api):
    doc = api.client.get(f"{P}/openapi.json").json
    paths = doc["paths"]
    for (method, path), (success, error_statuses, fields) in OPERATIONS.items():
        op = paths[P + path][method]
        assert set(op["responses"]) == {success, "default", *error_statuses}, (method, path)
        assert "content" in op["responses"][success], (method, path)
        if fields is None:
            assert "requestBody" not in op, (method, path)
        else:
            body = _body_schema(doc, op)
            assert fields <= set(body["properties"]), (method, path)
        if path == "/pager/events":
            assert op["security"] == []     # signed, no bearer token
            assert {p["name"] for p in op["parameters"]} == {
                "webhook-id", "webhook-timestamp", "webhook-signature"}
        else:
            assert "security" not in op     # the document's bearerAuth
    # the CONTRACT's fields, required where the CONTRACT says so
    hooks = _body_schema(doc, paths[f"{P}/pager-hooks"]["post"])
    assert set(hooks["required"]) == {"name", "url", "format"}
    assert hooks["properties"]["format"]["enum"] == ["pagerduty", "generic"]
    assert hooks["additionalProperties"] is False
    escalation = _body_schema(doc, paths[f"{P}/systems/{{key}}/escalation"]["put"])
    assert set(escalation["required"]) == {"party", "levels"}
    assert sorted(escalation["properties"]["party"]["enum"]) == ["customer", "provider"]
    level = _resolve(doc, escalation["properties"]["levels"]["items"])
    assert set(level["required"]) == {"hook", "delay_seconds"} and "schedule" in level["properties"]
    events = _body_schema(doc, paths[f"{P}/pager/events"]["post"])
    assert set(events["required"]) == {"dedup_key", "action"}
    assert events["properties"]["action"]["enum"] == ["acknowledge", "resolve"]
    assert events["additionalProperties"] is True   # a pager may say more; it is not refused
    # the answers' shapes
    hook_out = _success_schema(doc, paths[f"{P}/pager-hooks"]["post"], "201")
    assert set(hook_out["properties"]) == {"id", "name", "url", "format", "routing_key",
                                           "created_at", "active", "previous_secret_expires_at",
                                           "secret"}
    assert "secret" not in hook_out["required"]
    page_out = _resolve(doc, _success_schema(doc, paths[f"{P}/pager/dead-letters"]["get"], "200")["items"])
    assert set(page_out["properties"]) == {
        "id", "ticket", "level", "hook", "action", "dedup_key", "webhook_id", "status", "attempts",
        "last_status_code", "last_error", "created_at", "delivered_at"}
    now_out = _success_schema(doc, paths[f"{P}/oncall-schedules/{{name}}/now"]["get"], "200")
    assert set(now_out["properties"]) == {"schedule", "at", "on_call", "source", "since", "until"}
    assert [p["name"] for p in paths[f"{P}/oncall-schedules/{{name}}/now"]["get"]["parameters"]
            if p["in"] == "query"] == ["at"]
    # readiness stays outside /api/v1 and out of the document, like /healthz
    assert not [p for p in paths if p.endswith(("/readyz", "/healthz"))]
    assert api.client.get("/readyz").status_code in (200, 503)


def _check(schema, method, path, response, status):
    assert response.status_code == status, response.get_json()
    schema[P + path][method.upper()].validate_response(response)
    return response.get_json()


def test_a_paging_round_answers_as_documented(app, rt, api, receiver):
    schema = schemathesis.openapi.from_wsgi(f"{P}/openapi.json", app)
    h = api.headers(ADMIN)
    c = api.client

    made = _check(schema, "post", "/pager-hooks", c.post(f"{P}/pager-hooks", headers=h, json={
        "name": "gw", "url": f"{receiver.url}/gw", "format": "generic"}), 201)
    assert made["secret"].startswith("whsec_")
    secret = paging.generate_secret()
    pd = _check(schema, "post", "/pager-hooks", c.post(f"{P}/pager-hooks", headers=h, json={
        "name": "pd", "url": f"{receiver.url}/pd", "format": "pagerduty", "secret": secret,
        "routing_key": "rk"}), 201)
    assert "secret" not in pd and pd["routing_key"] == "rk"
    listed = _check(schema, "get", "/pager-hooks", c.get(f"{P}/pager-hooks", headers=h), 200)
    s = rt.session_factory()
    assert listed == [paging.hook_json(x) for x in paging.list_hooks(
        s, directory.load_actor(s, directory.user_by_email(s, ADMIN)))]
    s.close()

    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:n@t\r\n"
           "SUMMARY:Nina Dahl\r\nDTSTART:20261102T160000Z\r\nDTEND:20261103T080000Z\r\n"
           "RRULE:FREQ=DAILY\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    schedule = _check(schema, "post", "/oncall-schedules", c.post(
        f"{P}/oncall-schedules", headers=h, json={
            "name": "drift", "timezone": "Europe/Copenhagen", "ical": ics,
            "rotation": {"people": ["alice@sit.test", "Bo Berg"], "handover": "mon 08:00",
                         "weeks": 1, "start": "2026-11-02"},
            "overrides": [{"person": "Eva Holm", "start": "2026-11-24T18:00:00Z",
                           "end": "2026-11-24T20:00:00+00:00"}]}), 201)
    assert schedule["ical"] is True and schedule["rotation"]["handover"] == "mon 08:00"
    assert _check(schema, "post", "/oncall-schedules", c.post(
        f"{P}/oncall-schedules", headers=h, json={"name": "only-overrides", "overrides": [
            {"person": "Eva Holm", "start": "2026-11-24T18:00:00Z",
             "end": "2026-11-24T20:00:00Z"}]}), 201)["rotation"] is None
    assert [x["name"] for x in _check(schema, "get", "/oncall-schedules", c.get(
        f"{P}/oncall-schedules", headers=h), 200)] == ["drift", "only-overrides"]
    one = _check(schema, "get", "/oncall-schedules/{name}", c.get(
        f"{P}/oncall-schedules/drift", headers=h), 200)
    s = rt.session_factory()
    assert one == schedule == oncall.schedule_json(oncall.schedule_by_name(s, "drift"))
    s.close()
    for at, who, source in (("2026-11-24T19:00:00Z", "Eva Holm", "override"),
                            ("2026-11-24T17:00:00Z", "Nina Dahl", "ical"),
                            ("2026-11-24T10:00:00%2B01:00", "Bo Berg", "rotation")):
        now = _check(schema, "get", "/oncall-schedules/{name}/now", c.get(
            f"{P}/oncall-schedules/drift/now?at={at}", headers=h), 200)
        assert (now["on_call"], now["source"]) == (who, source)
    nobody = _check(schema, "get", "/oncall-schedules/{name}/now", c.get(
        f"{P}/oncall-schedules/only-overrides/now?at=2026-11-25T10:00:00Z", headers=h), 200)
    assert nobody == {"schedule": "only-overrides", "at": "2026-11-25T10:00:00+00:00",
                      "on_call": None, "source": None, "since": None, "until": None}
    _check(schema, "get", "/oncall-schedules/{name}/now", c.get(
        f"{P}/oncall-schedules/drift/now", headers=h), 200)

    put = _check(schema, "put", "/systems/{key}/escalation", c.put(
        f"{P}/systems/kort/escalation", headers=h, json={"party": "customer", "levels": [
            {"hook": "gw", "delay_seconds": 60, "schedule": "drift"},
            {"hook": "pd", "delay_seconds": 0, "schedule": None}]}), 200)
    assert put["levels"] == [{"position": 1, "hook": "gw", "delay_seconds": 60, "schedule": "drift"},
                             {"position": 2, "hook": "pd", "delay_seconds": 0}]
    both = _check(schema, "get", "/systems/{key}/escalation", c.get(
        f"{P}/systems/kort/escalation", headers=h), 200)
    assert [(e["party"], len(e["levels"])) for e in both] == [("provider", 0), ("customer", 2)]

    # a page that dies (400), its dead letter, resent; then the pager acknowledges, signed
    secrets = make_hooks(rt, receiver, delays=(3600, 3600))
    receiver.script = [(400, {}, 0)]
    number = raise_incident(rt)
    relay = Relay(JobContext(session_factory=rt.session_factory, rules=rt.rules,
                             settings=rt.settings))
    drain(relay, EVENING)
    dead = _check(schema, "get", "/pager/dead-letters", c.get(f"{P}/pager/dead-letters", headers=h),
                  200)
    assert [(d["ticket"], d["status"], d["last_status_code"]) for d in dead] == [(number, "dead", 400)]
    again = _check(schema, "post", "/pager/dead-letters/{page_id}/resend", c.post(
        f"{P}/pager/dead-letters/{dead[0]['id']}/resend", headers=h), 202)
    assert (again["id"], again["status"]) == (dead[0]["id"], "pending")
    refused = c.post(f"{P}/pager/dead-letters/{dead[0]['id']}/resend", headers=h)
    _check(schema, "post", "/pager/dead-letters/{page_id}/resend", refused, 409)

    body = {"dedup_key": dead[0]["dedup_key"], "action": "acknowledge", "source": "gateway"}
    raw = json.dumps(body).encode()
    unsigned = c.post(f"{P}/pager/events", data=raw, content_type="application/json")
    _check(schema, "post", "/pager/events", unsigned, 401)
    signed = rules_of_paging.signed_headers(secrets["kort-provider-l2"], "evt_1", utcnow(), raw)
    ok = _check(schema, "post", "/pager/events", c.post(
        f"{P}/pager/events", data=raw, headers=signed, content_type="application/json"), 200)
    assert ok == {"dedup_key": body["dedup_key"], "action": "acknowledge", "ticket": number,
                  "state": ok["state"], "applied": True}
    raw = json.dumps({**body, "action": "snooze"}).encode()
    signed = rules_of_paging.signed_headers(secrets["kort-provider-l2"], "evt_2", utcnow(), raw)
    _check(schema, "post", "/pager/events", c.post(
        f"{P}/pager/events", data=raw, headers=signed, content_type="application/json"), 422)


def test_credentials_and_role_come_before_the_body(api):
    """As the pager API always answered: 401 without credentials and 403 for a non-admin,
    whatever the body; the admin's bad body is a 422 naming the fields."""
    c = api.client
    for method, path, body in (("post", "/pager-hooks", {}), ("post", "/oncall-schedules", {"x": 1}),
                               ("put", "/systems/kort/escalation", {"party": 3}),
                               ("get", "/oncall-schedules/x/now?at=1&colour=red", None)):
        assert c.open(P + path, method=method, json=body).status_code == 401
        assert c.open(P + path, method=method, json=body,
                      headers=api.headers("agent@sit.test")).status_code == 403
    h = api.headers(ADMIN)
    r = c.post(f"{P}/pager-hooks", headers=h, json={"name": "n", "url": "http://x/",
                                                    "format": "generic", "colour": "red"})
    assert r.status_code == 422 and r.json["errors"] == {"colour": ["Unknown field."]}
    r = c.put(f"{P}/systems/kort/escalation", headers=h, json={
        "party": "provider", "levels": [{"hook": "h", "delay_seconds": "60"}]})
    assert r.status_code == 422 and set(r.json["errors"]) == {"levels.0.delay_seconds"}
    r = c.get(f"{P}/oncall-schedules/x/now?colour=red", headers=h)
    assert r.status_code == 422 and set(r.json["errors"]) == {"colour"}


#: the path prefixes of the pager operations the admin fuzzes
PAGER_PATHS = ("/api/v1/pager", "/api/v1/oncall-schedules", "/api/v1/systems/{key}/escalation")


def _runner(operation, mode, headers, stats, known):
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=15, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def run(case):
        # positive data names a real system, schedule or page half of the time
        params = case.path_parameters or {}
        if mode is GenerationMode.POSITIVE and params and hash(repr(case.body)) % 2:
            for name, value in known.items():
                if name in params:
                    params[name] = value
        response = case.call_and_validate(headers=headers, excluded_checks=[positive_data_acceptance])
        stats[f"{mode.value}:{response.status_code}"] += 1

    return run


def test_schemathesis_over_the_pager_operations_as_admin(app, rt, api, backend):
    schema = schemathesis.openapi.from_wsgi(f"{P}/openapi.json", app)
    s = rt.session_factory()
    actor = directory.load_actor(s, directory.user_by_email(s, ADMIN))
    paging.create_hook(s, actor, {"name": "gw", "url": "http://127.0.0.1:9/gw", "format": "generic"},
                       now=EVENING)
    oncall.create_schedule(s, actor, {"name": "drift", "rotation": {"people": ["alice@sit.test"]}},
                           now=EVENING)
    s.commit()
    s.close()
    known = {"key": "kort", "name": "drift", "page_id": 1}
    stats: collections.Counter = collections.Counter()
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith(PAGER_PATHS):
            continue
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _runner(operation, mode, api.headers(ADMIN), stats, known)()
            except Exception as exc:
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    print(f"\npager schemathesis as admin [{backend}]: {operations} operations; "
          + ", ".join(f"{k}={v}" for k, v in sorted(stats.items())))
    assert operations == len(OPERATIONS)
    assert not failures, "\n\n".join(failures)
    assert not any(key.endswith(":500") for key in stats)
    assert any(key.startswith("positive:2") for key in stats)
