"""The API answers alike what is alike: a trigger the workflow does not have is a bad field
(422) as an unknown filter value is; every filter takes several values or refuses a repeat; a
body not sent as JSON is a 400, not an empty body; an over-long search is a 422 from the app,
under gunicorn too; the history pages like the ticket list; an oversized body is drained."""

from __future__ import annotations

import io
import json
import re
import socket

import pytest

from itilflow.models import Ticket, TicketEvent
from tests.api.conftest import api_error, count_rows, statements
from tests.served import itilflow_serve, read_response
from tests.web.conftest import csrf_of, sign_in

pytestmark = pytest.mark.usefixtures("world")




# --- 1. triggers -----------------------------------------------------------------------------

def test_a_trigger_the_workflow_lacks_is_422_and_one_out_of_its_state_409(api, rt):
    t = api.incident()
    before = count_rows(rt, TicketEvent)
    for name in ("no_such_trigger", "approve"):  # nowhere; a change's, not an incident's
        body = api_error(api.fire("agent@sit.test", t["id"], name), 422, "trigger")
        assert "incident" in body["errors"]["trigger"][0]
    out_of_state = api_error(api.fire("agent@sit.test", t["id"], "close"), 409)
    assert "trigger" not in out_of_state["errors"]
    assert count_rows(rt, TicketEvent) == before


def test_the_web_ui_still_answers_an_unknown_action_with_its_page(app, api, rt):
    app.extensions["itilflow_limiter"].reset()
    t = api.incident()
    client = app.test_client()
    sign_in(client, "agent@sit.test")
    page = client.get(f"/tickets/{t['number']}")
    answer = client.post(f"/tickets/{t['number']}/transitions/no_such_trigger",
                         data={"csrf_token": csrf_of(page.get_data(as_text=True))})
    # a bad value of the action, as the API says (422), on the ticket's page with the reason
    assert answer.status_code == 422 and answer.mimetype == "text/html"
    assert "no_such_trigger" in answer.get_data(as_text=True)
    assert count_rows(rt, TicketEvent) == 1


# --- 2. list filters -------------------------------------------------------------------------

def _ids(api, email="agent@sit.test", **query) -> list[int]:
    response = api.get("/tickets", email, query_string=query)
    assert response.status_code == 200, response.json
    return [item["id"] for item in response.json["items"]]


def test_a_filter_value_no_ticket_can_have_is_422(api):
    api.incident()
    for query, field in [({"state": "bogus"}, "state"),
                         ({"state": "approved", "kind": "incident"}, "state"),
                         ({"system": "bogus"}, "system"),
                         ({"kind": ["incident", "spaceship"]}, "kind"),
                         ({"state": ["new", "bogus"]}, "state"),
                         ({"layer": ["unknown", "kernel"]}, "layer")]:
        api_error(api.get("/tickets", "agent@sit.test", query_string=query), 422, field)
    # another organisation's system is as unknown as one that does not exist
    theirs = api_error(api.get("/tickets", "rep@gst.test", query_string={"system": "virk"}), 422)
    nothing = api_error(api.get("/tickets", "rep@gst.test", query_string={"system": "nothing"}), 422)
    assert theirs["errors"]["system"] == ["No such system: virk."]
    assert nothing["errors"]["system"] == ["No such system: nothing."]
    # a state of some kind, and the kind that has it, are fine; so are the request kind's
    assert _ids(api, state="approved") == []
    assert _ids(api, state="approved", kind=["incident", "change"]) == []
    assert _ids(api, kind="request") == []


def test_a_repeated_filter_matches_any_of_its_values(api):
    p1 = api.incident(impact=1, urgency=1)["id"]
    p5 = api.incident(impact=3, urgency=3, layer="application")["id"]
    p3 = api.incident(impact=2, urgency=2, system="arkiv", layer="operating_system")["id"]
    erst = api.incident(email="rep@erst.test", system="virk", impact=3, urgency=3)["id"]
    problem = api.post("/problems", "agent@sit.test", {
        "system": "kort", "layer": "application", "title": "Tiles", "incidents": [p1]}).json["id"]
    assert _ids(api, priority=["P1", "P5"]) == [erst, p5, p1]
    assert _ids(api, priority="P1") == [p1]
    assert _ids(api, kind=["incident", "problem"], system="kort") == [problem, p5, p1]
    assert _ids(api, system=["kort", "arkiv"], kind="incident") == [p3, p5, p1]
    assert _ids(api, layer=["unknown", "operating_system"], kind="incident") == [erst, p3, p1]
    assert _ids(api, party=["customer", "provider"], kind="incident") == [erst, p3, p5, p1]
    assert _ids(api, "rep@gst.test", system=["kort", "arkiv"], state=["new", "assigned"]) == [
        problem, p3, p5, p1]  # a customer sees its problems too
    # keyset pages over several values: the same tickets, one at a time
    seen, cursor = [], None
    while True:
        query = {"kind": ["incident", "problem"], "limit": 1, **({"cursor": cursor} if cursor else {})}
        page = api.get("/tickets", "agent@sit.test", query_string=query).json
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [problem, erst, p3, p5, p1]


def test_a_single_valued_parameter_given_twice_is_422(api):
    api.incident()
    for name, values in [("q", ["maps", "tiles"]), ("limit", ["1", "2"]), ("cursor", ["MQ", "Mg"])]:
        api_error(api.get(f"/tickets?{'&'.join(f'{name}={v}' for v in values)}", "agent@sit.test"),
               422, name)
    too_many = {"state": ["new"] * 21}
    api_error(api.get("/tickets", "agent@sit.test", query_string=too_many), 422, "state")


def test_one_value_keeps_the_single_index_condition(api, rt):
    """``=`` for one value (the plan PostgreSQL had), ``IN`` only for several."""
    api.incident()
    with statements(rt) as seen:
        assert _ids(api, system="kort", state="new")
    listing = next(s for s in seen if "FROM tickets" in s and "ORDER BY tickets.id DESC" in s)
    assert "tickets.system_id = " in listing and "tickets.state = " in listing
    assert " IN " not in listing
    with statements(rt) as seen:
        assert _ids(api, state=["new", "assigned"])
    listing = next(s for s in seen if "FROM tickets" in s and "ORDER BY tickets.id DESC" in s)
    assert "tickets.state IN" in listing


def test_the_document_says_filters_take_several_values(api):
    params = {p["name"]: p for p in api.get("/openapi.json").json["paths"]["/api/v1/tickets"][
        "get"]["parameters"]}
    for name in ("kind", "state", "party", "layer", "system", "priority"):
        assert params[name]["schema"]["type"] == "array" and params[name]["explode"], name
    for name in ("q", "cursor", "limit"):
        assert params[name]["schema"]["type"] != "array", name


# --- 3. bodies not sent as JSON --------------------------------------------------------------

BODY = {"system": "kort", "environment": "production", "title": "T", "impact": 2, "urgency": 2}


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_json_body_without_its_content_type_is_400(api, rt, content_type):
    t = api.incident()
    kw = {"content_type": content_type} if content_type else {}
    for path, body in (("/incidents", BODY), (f"/tickets/{t['id']}/transitions",
                                              {"trigger": "acknowledge"})):
        answer = api.client.post(f"/api/v1{path}", data=json.dumps(body),
                                 headers=api.headers("agent@sit.test"), **kw)
        assert "Content-Type" in api_error(answer, 400, "_headers")["errors"]["_headers"][0]
    assert count_rows(rt, Ticket) == 1 and count_rows(rt, TicketEvent) == 1


def test_json_content_types_with_parameters_are_json(api):
    answer = api.client.post("/api/v1/incidents", data=json.dumps(BODY),
                             headers=api.headers("rep@gst.test"),
                             content_type="application/json; charset=utf-8")
    assert answer.status_code == 201, answer.json


# --- 4. long query strings -------------------------------------------------------------------

def test_an_over_long_search_is_422_before_the_database(api, rt):
    api.incident()
    with statements(rt) as seen:
        answer = api.get("/tickets", "agent@sit.test", query_string={"q": "x" * 201})
    api_error(answer, 422, "q")
    assert not [s for s in seen if "tickets" in s], seen
    assert _ids(api, q="x" * 200) == []


@pytest.fixture
def served(app, database_url, tmp_path):
    with itilflow_serve(database_url, tmp_path) as port:
        yield port


def test_under_gunicorn_a_long_query_and_a_large_body_get_the_api_answer(app, api, served):
    auth = f"Authorization: Bearer {api.tokens['agent@sit.test']}\r\n".encode()
    with socket.create_connection(("127.0.0.1", served), timeout=10) as sock:
        # a request line of 6,000 bytes: past gunicorn's default 4094, within serve's limit
        sock.sendall(b"GET /api/v1/tickets?q=" + b"x" * 6000 + b" HTTP/1.1\r\nHost: t\r\n"
                     + auth + b"\r\n")
        head, body = read_response(sock)
        assert head.startswith(b"HTTP/1.1 422"), head
        assert json.loads(body)["errors"]["q"]
        # an oversized JSON body is read and dropped: the connection serves the next request
        big = b'{"title": "' + b"x" * (2 * app.config["MAX_CONTENT_LENGTH"]) + b'"}'
        sock.sendall(b"POST /api/v1/incidents HTTP/1.1\r\nHost: t\r\n" + auth
                     + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(big)
                     + big)
        head, body = read_response(sock)
        assert head.startswith(b"HTTP/1.1 413") and json.loads(body)["status"] == 413, head
        sock.sendall(b"GET /api/v1/tickets HTTP/1.1\r\nHost: t\r\n" + auth + b"\r\n")
        assert read_response(sock)[0].startswith(b"HTTP/1.1 200")


# --- 5. the history --------------------------------------------------------------------------

def test_the_history_stays_a_list_and_pages_when_asked(api):
    t = api.incident()
    for i in range(5):
        assert api.post(f"/tickets/{t['id']}/comments", "rep@gst.test",
                        {"body": f"Note {i}"}).status_code == 201
    whole = api.get(f"/tickets/{t['id']}/events", "rep@gst.test").json
    assert isinstance(whole, list) and [e["seq"] for e in whole] == [1, 2, 3, 4, 5, 6]
    seen, cursor = [], None
    while True:
        query = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        page = api.get(f"/tickets/{t['id']}/events", "rep@gst.test", query_string=query).json
        assert set(page) == {"items", "next_cursor"}
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == whole and len(seen) == 6  # oldest first, nothing twice
    only_cursor = api.get(f"/tickets/{t['id']}/events?cursor={page_cursor(api, t)}",
                          "rep@gst.test").json
    assert [e["seq"] for e in only_cursor["items"]] == [2, 3, 4, 5, 6]
    assert api.get(f"/tickets/{t['id']}/events", "rep@erst.test",
                   query_string={"limit": 2}).status_code == 404


def page_cursor(api, t) -> str:
    return api.get(f"/tickets/{t['id']}/events", "rep@gst.test",
                   query_string={"limit": 1}).json["next_cursor"]


def test_the_history_refuses_unknown_and_bad_parameters(api):
    t = api.incident()
    for query, field in [("since=1", "since"), ("limit=0", "limit"), ("cursor=!!", "cursor"),
                         ("limit=1&limit=2", "limit")]:
        api_error(api.get(f"/tickets/{t['id']}/events?{query}", "rep@gst.test"), 422, field)
    for path in (f"/tickets/{t['id']}", f"/tickets/{t['id']}/comments"):
        api_error(api.get(f"{path}?expand=all", "rep@gst.test"), 422, "expand")
    doc = api.get("/openapi.json").json["paths"]["/api/v1/tickets/{ticket_id}/events"]["get"]
    shapes = doc["responses"]["200"]["content"]["application/json"]["schema"]["oneOf"]
    assert {"type": "array", "items": {"$ref": "#/components/schemas/EventOut"}} in shapes
    assert {"$ref": "#/components/schemas/EventPage"} in shapes


# --- 6. oversized bodies ---------------------------------------------------------------------

def test_an_oversized_json_body_is_read_and_dropped(app, api):
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = b'{"title": "' + b"x" * (limit + 10) + b'"}'
    stream = io.BytesIO(body)
    answer = api.client.post("/api/v1/incidents", input_stream=stream, content_length=len(body),
                             content_type="application/json", headers=api.headers("rep@gst.test"))
    api_error(answer, 413)
    assert stream.tell() == len(body) and "Connection" not in answer.headers
    # beyond what is worth reading the connection is closed instead
    huge = 9 * limit
    stream = io.BytesIO(b"a" * huge)
    answer = api.client.post("/api/v1/incidents", input_stream=stream, content_length=huge,
                             content_type="application/json", headers=api.headers("rep@gst.test"))
    api_error(answer, 413)
    assert answer.headers["Connection"] == "close" and stream.tell() == 0


# --- 6. credentials before input -------------------------------------------------------------

def _operations(app):
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    for path, item in spec["paths"].items():
        for method in item:
            if method in {"get", "post", "put", "patch", "delete"}:
                yield path, method


def test_without_credentials_every_operation_is_401_whatever_it_is_sent(app, rt):
    """An anonymous caller learns nothing from a bad query or body: not which parameters exist
    (a 422 naming them) nor that a field is wrong; it is told to authenticate. (A body that is
    not JSON at all is a 400 before anything, as for every caller.) Only the signed inbound
    pager call takes no bearer token."""
    client = app.test_client()
    before = count_rows(rt, Ticket)
    checked = 0
    for path, method in _operations(app):
        if path.endswith("/pager/events"):
            continue
        url = re.sub(r"\{(ticket_id|period_id|token_id|page_id)\}", "1", path)
        url = re.sub(r"\{\w+\}", "x", url) + "?no_such_parameter=1&limit=-5"
        answer = client.open(url, method=method.upper(), json={"no_such_field": [1]})
        assert answer.status_code == 401, (method, url, answer.status_code,
                                           answer.get_data(as_text=True))
        assert answer.get_json()["status"] == 401
        checked += 1
    assert checked > 40
    assert count_rows(rt, Ticket) == before
