"""Hardening of the API edges: NUL bytes never reach the database, the queue search's id bound,
JSON errors under /api/v1 (HTML elsewhere), and the ticket's full ``paging`` field."""

from __future__ import annotations

import pytest

from itilflow.services import directory, queues
from itilflow.services.paging_view import paging_of
from tests.api.conftest import Api, make_tokens
from tests.conftest import PASSWORD
from tests.paging.conftest import EVENING, drain, make_hooks, raise_incident
from tests.web.conftest import csrf_of, sign_in

NUL = "\u0000"

pytestmark = pytest.mark.usefixtures("world")


@pytest.fixture(autouse=True)
def _reset_limits(app):
    app.extensions["itilflow_limiter"].reset()


@pytest.fixture
def pg_api(app, rt, backend):
    if backend != "postgresql":
        pytest.skip("NUL is refused by PostgreSQL; SQLite stores it")
    return Api(app, make_tokens(rt))


def _error(response, status):
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body = response.get_json()
    assert body["status"] == status and set(body) == {"status", "message", "errors"}
    return body


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/incidents", {"system": "kort", "environment": "production", "title": f"a{NUL}b",
                            "impact": 2, "urgency": 2}),
    ("POST", "/incidents", {"system": f"kort{NUL}", "environment": "production", "title": "x",
                            "impact": 2, "urgency": 2}),
    ("POST", "/organisations", {"name": f"Org{NUL}", "kind": "customer"}),
    ("POST", "/users", {"email": "x@y.test", "organisation": f"GST{NUL}", "role": "reporter",
                        "password": "p" * 12}),
    ("POST", "/tokens", {"name": f"n{NUL}"}),
    ("POST", "/tickets/1/transitions", {"trigger": "comment", f"k{NUL}": "v"}),
    ("POST", "/tickets/1/comments", {"body": ["nested", {"deep": f"x{NUL}"}]}),
    ("POST", "/pager-hooks", {"name": f"h{NUL}", "url": "http://127.0.0.1:9/", "format": "generic"}),
    ("PUT", "/systems/kort/escalation", {"party": "provider", "levels": [{"hook": f"h{NUL}",
                                                                          "delay_seconds": 60}]}),
    ("POST", "/pager/events", {"dedup_key": f"INC{NUL}", "action": "acknowledge"}),
])
def test_nul_in_a_json_body_is_a_422_naming_the_field(pg_api, method, path, body):
    response = pg_api.call(method, path, "admin@sit.test", json=body)
    errors = _error(response, 422)["errors"]
    assert errors and all("NUL" in reasons[0] for reasons in errors.values())


def test_nul_in_a_json_body_names_the_nested_field(pg_api):
    response = pg_api.post("/tickets/1/comments", "agent@sit.test", {"body": {"deep": [f"x{NUL}"]}})
    assert list(_error(response, 422)["errors"]) == ["body.deep.0"]


@pytest.mark.parametrize("query", [f"q=a{NUL}", f"system=kort{NUL}", f"state=new{NUL}",
                                   f"cursor={NUL}", f"x{NUL}=1"])
def test_nul_in_a_query_parameter_is_a_422(pg_api, query):
    _error(pg_api.get(f"/tickets?{query.replace(NUL, '%00')}", "agent@sit.test"), 422)


@pytest.mark.parametrize("path", ["/tickets/%00", "/tickets/INC-%00/events", "/systems/kort%00"])
def test_nul_in_a_path_is_a_404(pg_api, path):
    _error(pg_api.get(path, "agent@sit.test"), 404)


def test_nul_in_a_report_query_is_refused(pg_api):
    response = pg_api.get("/reports/monthly?customer=GST%00&month=2026-11", "boss@sit.test")
    assert response.status_code == 422 and response.get_json()["status"] == 422


def test_nul_in_a_bearer_token_is_a_401(pg_api):
    token = pg_api.tokens["agent@sit.test"]
    for bad in (token + NUL, token[:10] + NUL + token[11:]):
        response = pg_api.client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {bad}"})
        assert response.status_code in (400, 401) and response.is_json


def test_nul_in_pager_inbound_headers_is_a_400(pg_api):
    response = pg_api.client.post("/api/v1/pager/events", json={"action": "acknowledge"},
                                  headers={"webhook-id": f"evt{NUL}", "webhook-timestamp": "1",
                                           "webhook-signature": "v1,x"})
    assert response.status_code == 400 and response.get_json()["status"] == 400


def test_nul_in_the_login_form_is_refused(app, backend):
    if backend != "postgresql":
        pytest.skip("PostgreSQL only")
    client = app.test_client()
    for email, password in ((f"agent@sit.test{NUL}", PASSWORD), ("agent@sit.test", PASSWORD + NUL),
                            (f"{NUL}", f"{NUL}")):
        token = csrf_of(client.get("/login").get_data(as_text=True))
        response = client.post("/login", data={"email": email, "password": password,
                                               "csrf_token": token})
        assert response.status_code in (400, 401, 422)
    sign_in(client, "agent@sit.test")  # and the right credentials still work afterwards


def test_nul_in_web_query_parameters_is_a_400(app, backend):
    if backend != "postgresql":
        pytest.skip("PostgreSQL only")
    client = app.test_client()
    sign_in(client, "agent@sit.test")
    for query in ("q=a%00", "system=kort%00", "customer=GST%00"):
        assert client.get(f"/agent?{query}").status_code == 400


def test_directory_lookups_treat_nul_as_unknown(rt, backend):
    from itilflow.domain.errors import NotFound

    s = rt.session_factory()
    try:
        agent = directory.user_by_email(s, "agent@sit.test")
        actor = directory.load_actor(s, agent)
        assert directory.authenticate(s, f"agent@sit.test{NUL}", PASSWORD) is None
        assert directory.authenticate(s, "agent@sit.test", f"{PASSWORD}{NUL}") is None
        assert directory.token_in_use(s, f"itf_{NUL}", now=EVENING) is None
        for lookup in (lambda: directory.user_by_email(s, f"a{NUL}@sit.test"),
                       lambda: directory.organisation_by_name(s, f"GST{NUL}"),
                       lambda: directory.system_for(s, actor, f"kort{NUL}")):
            with pytest.raises(NotFound):
                lookup()
    finally:
        s.close()


def test_queue_search_with_a_huge_number(rt, backend):
    s = rt.session_factory()
    try:
        agent = directory.user_by_email(s, "agent@sit.test")
        actor = directory.load_actor(s, agent)
        for q in ("INC-999999999999", "INC-000000000000", "999999999999"):
            rows, _cursor = queues.queue_tickets(s, rt.rules, actor, "open",
                                                 queues.QueueFilters(q=q), now=EVENING)
            assert rows == []
    finally:
        s.close()


def test_web_queue_search_with_a_huge_number(app):
    client = app.test_client()
    sign_in(client, "agent@sit.test")
    response = client.get("/agent?queue=open&q=INC-999999999999")
    assert response.status_code == 200 and "INC-999999999999" in response.get_data(as_text=True)


def test_api_errors_stay_json_and_web_errors_stay_html(api):
    _error(api.get("/no-such-thing", "agent@sit.test"), 404)
    _error(api.call("DELETE", "/incidents", "agent@sit.test"), 405)
    # an unsafe call to an unknown API path without any CSRF token: JSON, not the HTML page
    response = api.client.post("/api/v1/no-such-thing", json={})
    assert response.is_json and response.get_json()["status"] in (400, 401, 404)
    page = api.client.get("/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html"


LONE = "\ud800"
INCIDENT = {"system": "kort", "environment": "production", "title": "Tiles", "impact": 2,
            "urgency": 2}


def _rows(rt) -> tuple[int, int]:
    from sqlalchemy import func, select

    from itilflow.models import Ticket, TicketEvent

    with rt.session_factory() as s:
        return (s.scalar(select(func.count()).select_from(Ticket)),
                s.scalar(select(func.count()).select_from(TicketEvent)))


@pytest.mark.parametrize(("path", "body"), [
    ("/incidents", {**INCIDENT, "title": f"a{LONE}b"}),
    ("/incidents", {**INCIDENT, "description": ["x", {"deep": LONE}]}),
    ("/incidents", {**INCIDENT, f"key{LONE}": "v"}),
    ("/tickets/{id}/comments", {"body": "Low surrogate \udc00 alone"}),
    ("/tickets/{id}/transitions", {"trigger": "reclassify", "layer": "infrastructure",
                                   "comment": LONE}),
])
def test_a_lone_surrogate_in_a_json_body_is_a_400_and_writes_nothing(api, rt, path, body):
    """JSON may escape a UTF-16 surrogate alone ("\\ud800"): the parser makes a string that is
    no text, which neither database can store (it was a 500)."""
    ticket = api.incident()
    before = _rows(rt)
    response = api.post(path.format(id=ticket["id"]), "agent@sit.test", body)
    assert _error(response, 400)["message"] == "The request body is not valid UTF-8 text."
    assert _rows(rt) == before


def test_a_body_that_is_not_utf8_is_a_400(api, rt):
    """Encoded surrogates (CESU-8, as some encoders write them) pass Python's JSON parser."""
    response = api.post("/incidents", "agent@sit.test", data=b'{"title": "\xed\xa0\x80"}',
                        content_type="application/json")
    assert _error(response, 400)["message"] == "The request body is not valid UTF-8 text."
    assert _rows(rt) == (0, 0)


def test_a_surrogate_pair_is_text(api):
    """The escaped pair of an astral character (how ASCII-only encoders write an emoji) is
    fine: only a lone surrogate is refused."""
    created = api.incident(title="Map gone \U0001F5FA")
    assert created["title"] == "Map gone \U0001F5FA"


@pytest.mark.parametrize("body", [
    "[" * 100_000 + "]" * 100_000,
    '{"title": ' + "[" * 100_000 + "]" * 100_000 + "}",
    '{"title": ' + "[" * 500 + "]" * 500 + "}",  # the parser copes; what walks it next may not
    '{"a": ' + '{"a": ' * 40 + "1" + "}" * 41,
])
def test_deeply_nested_json_is_a_400(api, rt, body):
    response = api.post("/incidents", "agent@sit.test", data=body,
                        content_type="application/json")
    assert _error(response, 400)["message"] in ("The request body is nested too deeply.",
                                                 "The request body must be a JSON object.")
    assert _rows(rt) == (0, 0)


def test_json_nested_as_deep_as_allowed_reaches_the_view(api):
    body = {**INCIDENT, "description": [[[[["still text"]]]]]}
    assert _error(api.post("/incidents", "agent@sit.test", body), 422)["errors"]["description"]


def test_ticket_paging_field_after_an_after_hours_p1(api, rt, receiver):
    from itilflow.jobs.context import JobContext
    from itilflow.jobs.relay import Relay

    relay = Relay(JobContext(session_factory=rt.session_factory, rules=rt.rules, settings=rt.settings))
    make_hooks(rt, receiver, delays=(300, 600))
    number = raise_incident(rt, now=EVENING)         # P1 on kort (vagtordning), 20:00
    drain(relay, EVENING)
    body = api.get(f"/tickets/{number}", "agent@sit.test").json
    paging = body["paging"]
    assert body["after_hours"] is True and body["priority"] == "P1"
    assert paging["party"] == "provider" and paging["levels"] == 2
    assert paging["escalating"] is True and paging["acknowledged_by"] is None
    assert paging["acknowledged_at"] is None
    assert [(p["level"], p["hook"]) for p in paging["pages"]] == [(1, "kort-provider-l1")]
    s = rt.session_factory()
    try:
        from itilflow.domain.access import Actor
        from itilflow.domain.parties import Role
        from itilflow.services import tickets

        ticket = tickets.get_ticket(s, rt.rules, Actor(0, Role.ADMIN, 0), number)
        assert set(paging) == set(paging_of(s, ticket))
    finally:
        s.close()
