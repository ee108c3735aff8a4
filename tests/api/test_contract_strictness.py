"""The contract's rules for parameters and bodies hold on every operation, the hand-written
ones included (the monthly report, the access log, the notifications inbox, the outage
correction): unknown query parameters and a single-valued one given twice are refused (422),
numbers are strict (``" 5"``, ``"+5"`` and other scripts' digits are not numbers) and in range,
and a JSON body that gives a key twice is a 400 naming the key."""

from __future__ import annotations

import json
import re

import pytest

from itilflow.models import TicketEvent
from tests.api.conftest import api_error, count_rows

pytestmark = pytest.mark.usefixtures("world")

MONTH = "2026-11"


# --- unknown query parameters ------------------------------------------------------------

#: every GET, as one who may call it; ``{t}`` is a ticket the caller may see
GETS = [
    ("/reports/monthly?month=2026-11", "boss@sit.test"),
    ("/audit/access", "admin@sit.test"),
    ("/notifications", "agent@sit.test"),
    ("/organisations", "admin@sit.test"),
    ("/users", "admin@sit.test"),
    ("/systems", "agent@sit.test"),
    ("/systems/kort", "agent@sit.test"),
    ("/tokens", "agent@sit.test"),
    ("/changes/cab", "agent@sit.test"),
    ("/changes/{t}/warnings", "agent@sit.test"),
    ("/tickets/{t}/consultations", "agent@sit.test"),
    ("/tickets/{t}/waiting-on", "agent@sit.test"),
    ("/tickets/{t}/problems", "agent@sit.test"),
    ("/tickets/{t}/known-errors", "agent@sit.test"),
    ("/problems/{t}/incidents", "agent@sit.test"),
]


def test_every_get_in_the_document_refuses_an_unknown_parameter(api):
    """Not only the list above: every GET the OpenAPI document names, the admin's pager and
    on-call ones included, answers ``?foo=1`` with a 422 naming it (a new operation without
    its query schema fails here)."""
    spec = api.client.get("/api/v1/openapi.json").get_json()
    checked = []
    for path, item in spec["paths"].items():
        if "get" not in item:
            continue
        url = re.sub(r"\{\w+\}", "1", path.removeprefix("/api/v1"))
        api_error(api.get(f"{url}?foo=1", "admin@sit.test"), 422, "foo")
        checked.append(path)
    assert {"/api/v1/pager-hooks", "/api/v1/oncall-schedules", "/api/v1/pager/dead-letters",
            "/api/v1/systems/{key}/escalation", "/api/v1/tickets"} <= set(checked)


@pytest.mark.parametrize(("path", "email"), GETS)
def test_an_unknown_query_parameter_is_422_everywhere(api, path, email):
    ticket = api.incident()
    path = path.format(t=ticket["id"])
    glue = "&" if "?" in path else "?"
    api_error(api.get(f"{path}{glue}foo=1", email), 422, "foo")


# --- the monthly report -------------------------------------------------------------------

@pytest.mark.parametrize(("query", "name"), [
    (f"customer=ERST&customer=GST&month={MONTH}", "customer"),
    (f"month={MONTH}&month=2026-10", "month"),
    (f"month={MONTH}&format=csv&format=json", "format"),
])
def test_the_report_refuses_a_parameter_given_twice(api, query, name):
    body = api_error(api.get(f"/reports/monthly?{query}", "boss@sit.test"), 422, name)
    assert body["errors"][name] == ["Give this parameter once."]


def test_the_report_still_answers_its_own_parameters(api):
    assert api.get(f"/reports/monthly?month={MONTH}", "boss@sit.test").status_code == 200
    own = api.get(f"/reports/monthly?month={MONTH}&customer=GST", "boss@gst.test")
    assert own.status_code == 200 and own.get_json()["customer"] == "GST"
    csv = api.get(f"/reports/monthly?month={MONTH}&format=csv", "boss@gst.test")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    api_error(api.get(f"/reports/monthly?month={MONTH}&format=xml", "boss@gst.test"), 422, "format")
    api_error(api.get("/reports/monthly", "boss@gst.test"), 422, "month")


# --- the access log -----------------------------------------------------------------------

@pytest.mark.parametrize(("query", "field"), [
    ("limit=5&limit=7", "limit"),
    ("before=5&before=6", "before"),
    ("action=login&action=logout", "action"),
    ("limit=0", "limit"),
    ("limit=1001", "limit"),
    ("limit=999999999999", "limit"),
    ("limit=%205", "limit"),
    ("limit=%2B5", "limit"),
    ("limit=5.0", "limit"),
    ("before=%D9%A3", "before"),          # ARABIC-INDIC DIGIT THREE: int() takes it
    ("before=0", "before"),
    ("before=2147483648", "before"),      # past int32: never sent to PostgreSQL
    ("action=", "action"),
    ("action=hack", "action"),
])
def test_the_access_log_parameters_are_strict(api, query, field):
    api_error(api.get(f"/audit/access?{query}", "admin@sit.test"), 422, field)


def test_the_access_log_pages_within_its_range(api):
    api.incident()
    for _ in range(3):
        assert api.get("/systems", "agent@sit.test").status_code == 200
    page = api.get("/audit/access?limit=1", "admin@sit.test")
    assert page.status_code == 200, page.get_json()
    body = page.get_json()
    assert len(body["items"]) == 1 and body["next_before"] == body["items"][0]["seq"]
    older = api.get(f"/audit/access?limit=1000&before={body['next_before']}", "admin@sit.test")
    assert older.status_code == 200
    assert all(i["seq"] < body["next_before"] for i in older.get_json()["items"])


# --- the notifications inbox --------------------------------------------------------------

@pytest.mark.parametrize("query", ["before=5&before=6", "before=%205", "before=%2B5",
                                   "before=%D9%A3", "before=5%20"])
def test_the_inbox_parameters_are_strict(api, query):
    api_error(api.get(f"/notifications?{query}", "agent@sit.test"), 422, "before")


@pytest.mark.parametrize("ids", [["1"], [True], [1.5], "1"])
def test_marking_read_takes_integers_only(api, ids):
    body = api_error(api.post("/notifications/read", "agent@sit.test", {"ids": ids}), 422)
    assert [k for k in body["errors"] if k.split(".")[0] == "ids"], body
    assert api.post("/notifications/read", "agent@sit.test", {"ids": [1]}).status_code == 200


# --- the ticket list ----------------------------------------------------------------------

@pytest.mark.parametrize("query", ["system=", "kind=", "limit=%205", "limit=%D9%A3"])
def test_the_ticket_list_refuses_empty_filters_and_loose_numbers(api, query):
    api.incident()
    api_error(api.get(f"/tickets?{query}", "agent@sit.test"), 422, query.split("=")[0])


# --- the document -------------------------------------------------------------------------

def test_the_hand_written_operations_are_in_the_document(api):
    paths = api.get("/openapi.json").get_json()["paths"]

    def params(path):
        return {p["name"] for p in paths[path]["get"].get("parameters", [])
                if p["in"] == "query"}

    assert params("/api/v1/reports/monthly") == {"customer", "month", "format"}
    assert params("/api/v1/audit/access") == {"actor", "action", "since", "until", "target",
                                              "before", "limit", "format"}
    assert params("/api/v1/notifications") == {"before"}
    monthly = paths["/api/v1/reports/monthly"]["get"]["responses"]["200"]["content"]
    assert set(monthly) == {"application/json", "text/csv"}
    access = paths["/api/v1/audit/access"]["get"]["responses"]["200"]["content"]
    assert set(access) == {"application/json", "text/csv"}
    outage = paths["/api/v1/tickets/{ref}/outage"]["put"]
    body = outage["requestBody"]["content"]["application/json"]["schema"]
    assert body.get("$ref", "").endswith("/OutageIn") or set(body["properties"]) == {
        "start", "end", "reason"}


def test_the_outage_correction_refuses_unknown_fields_and_loose_types(api):
    ticket = api.incident(outage=True)
    url = f"/tickets/{ticket['id']}/outage"
    api_error(api.call("PUT", url, "agent@sit.test", json={"start": "x", "reason": "r", "foo": 1}),
           422, "foo")
    api_error(api.call("PUT", url, "agent@sit.test", json={"start": 1, "reason": "r"}),
           422, "start")


# --- JSON bodies that repeat a key --------------------------------------------------------

@pytest.mark.parametrize(("raw", "key"), [
    ('{"body": "a", "body": "b"}', "body"),
    ('{"body": "a", "x": {"k": 1, "k": 2}}', "k"),
])
def test_a_json_body_that_repeats_a_key_is_400_naming_it(api, rt, raw, key):
    ticket = api.incident()
    before = count_rows(rt, TicketEvent)
    answer = api.client.post(f"/api/v1/tickets/{ticket['id']}/comments", data=raw,
                             content_type="application/json",
                             headers=api.headers("agent@sit.test"))
    body = api_error(answer, 400, key)
    assert repr(key) in body["message"]
    assert count_rows(rt, TicketEvent) == before
    # the same body once is fine
    fine = api.client.post(f"/api/v1/tickets/{ticket['id']}/comments",
                           data=json.dumps({"body": "b"}), content_type="application/json",
                           headers=api.headers("agent@sit.test"))
    assert fine.status_code == 201, fine.get_json()


# --- the other query schemas keep the same rules ------------------------------------------------

@pytest.mark.parametrize(("query", "field"), [
    ("/problems/known-errors?limit=5&limit=6", "limit"),
    ("/problems/known-errors?limit=%205", "limit"),
    ("/problems/known-errors?q=a&q=b", "q"),
    ("/changes/calendar?from=2026-11-01T00:00:00Z&from=2026-11-02T00:00:00Z"
     "&to=2026-11-30T00:00:00Z", "from"),
    ("/change-templates?include_inactive=true&include_inactive=false", "include_inactive"),
    ("/freeze-periods?start=2026-11-01T00:00:00Z&start=2026-11-02T00:00:00Z", "start"),
])
def test_a_repeat_is_refused_on_every_query(api, query, field):
    api_error(api.get(query, "agent@sit.test"), 422, field)


def test_those_queries_still_answer(api):
    assert api.get("/problems/known-errors?limit=5&q=x", "agent@sit.test").status_code == 200
    assert api.get("/changes/calendar?from=2026-11-01T00:00:00Z&to=2026-11-30T00:00:00Z",
                   "agent@sit.test").status_code == 200
    assert api.get("/change-templates?include_inactive=true", "agent@sit.test").status_code == 200
