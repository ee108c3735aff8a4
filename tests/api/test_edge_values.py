"""Values at the edge of what the columns hold (QA round 3, findings 5 and 5b): a date-time whose
offset puts it outside year 1 to 9999 in UTC, an instant outside the calendar's years
1970-2999, and an id past int32 that PostgreSQL would refuse. Each is a 422 naming the field
(or the answer the same place gives other bad input), never a 500, and changes nothing."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from itilflow.domain.errors import ValidationError
from itilflow.models import ApiToken, Ticket, TicketEvent
from itilflow.services import directory
from itilflow.services.fields import MAX_ID, parse_id, parse_instant
from tests.api.conftest import Api, make_tokens
from tests.web.conftest import csrf_of, sign_in

#: year 1 and year 9999 with the offset that pushes them past the calendar's edge in UTC
EDGES = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]
#: fine as written and in UTC, but outside the years the change calendar shows
OUT_OF_YEARS = ["0001-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "9999-12-31T23:59:59Z",
                "3000-01-01T00:00:00+00:00", "2999-12-31T23:00:00-05:00"]
PAST_INT32 = str(MAX_ID + 1)


@pytest.fixture(autouse=True)
def _reset_limits(request):
    if "app" in request.fixturenames:
        request.getfixturevalue("app").extensions["itilflow_limiter"].reset()


@pytest.fixture
def api(app, rt, world) -> Api:
    return Api(app, make_tokens(rt))


@pytest.fixture
def login(app, world):
    def make(email: str):
        client = app.test_client()
        sign_in(client, email)
        return client
    return make


def _error(response, status: int = 422) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body = response.get_json()
    assert body["status"] == status and set(body) == {"status", "message", "errors"}
    return body["errors"]


def _count(rt, *where) -> int:
    s = rt.session_factory()
    try:
        return s.scalar(select(func.count()).select_from(where[0]).where(*where[1:]))
    finally:
        s.close()


def _cursor(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


# --- the shared rules ------------------------------------------------------------------------

@pytest.mark.parametrize("value", [*EDGES, *OUT_OF_YEARS])
def test_parse_instant_refuses_the_calendars_edge_naming_the_field(value):
    with pytest.raises(ValidationError) as refused:
        parse_instant(value, "planned_start")
    assert list(refused.value.errors) == ["planned_start"]
    with pytest.raises(ValidationError):  # an aware datetime obeys the same rule
        parse_instant(datetime.fromisoformat(value.replace("Z", "+00:00")), "x")


def test_parse_instant_keeps_the_offset_and_reads_naive_values_only_when_told():
    parsed = parse_instant("2026-11-24T10:00:00+01:00", "at")
    assert parsed.utcoffset() == timedelta(hours=1)
    assert parsed.astimezone(UTC) == datetime(2026, 11, 24, 9, tzinfo=UTC)
    assert parse_instant("1970-01-01T00:00:00Z", "at") == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_instant("2026-11-24", "at", naive=UTC) == datetime(2026, 11, 24, tzinfo=UTC)
    for bad in ("2026-11-24T10:00:00", None, "", "soon", 17, "\uff12\uff10\uff12\uff16-11-24T10:00:00Z"):
        with pytest.raises(ValidationError) as refused:
            parse_instant(bad, "at")
        assert list(refused.value.errors) == ["at"]


def test_parse_id_is_an_int32_id_or_none():
    assert parse_id("2147483647") == parse_id(MAX_ID) == MAX_ID
    assert parse_id("7") == parse_id(7) == 7 and parse_id("0", lowest=0) == 0
    for bad in (PAST_INT32, MAX_ID + 1, "0", 0, "-1", -1, True, "", " 5", "٣", "²", "1e3",
                "9" * 5000, None, 1.0):
        assert parse_id(bad) is None, bad


# --- finding 5: instants at the edge of the calendar ------------------------------------------

@pytest.mark.parametrize(("start", "end", "field"), [
    (EDGES[0], None, "start"), (EDGES[1], None, "start"),
    ("now", EDGES[0], "end"), ("now", EDGES[1], "end")])
def test_outage_at_the_calendars_edge_is_a_422(api, start, end, field):
    made = api.incident(outage=True)
    start = (datetime.now(UTC) - timedelta(minutes=5)).isoformat() if start == "now" else start
    answer = api.call("PUT", f"/tickets/{made['id']}/outage", "agent@sit.test",
                      json={"start": start, "end": end, "reason": "measured"})
    assert field in _error(answer)
    events = api.get(f"/tickets/{made['id']}/events", "agent@sit.test").get_json()
    items = events["items"] if isinstance(events, dict) else events
    assert "outage_corrected" not in [e["kind"] for e in items]   # nothing changed


def _change(**times) -> dict:
    return {"system": "kort", "environment": "production", "layer": "operating_system",
            "change_type": "normal", "title": "Kernel patch",
            "planned_start": "2026-12-29T08:00:00+01:00", "planned_end": "2026-12-30T00:00:00Z",
            **times}


@pytest.mark.parametrize(("field", "value"), [
    *(("planned_start", value) for value in [*EDGES, *OUT_OF_YEARS]),
    *(("planned_end", value) for value in [EDGES[1], *OUT_OF_YEARS[2:]])])
def test_a_change_planned_at_the_edge_or_outside_the_calendar_is_a_422(api, rt, field, value):
    other = {"planned_start": "1970-01-01T00:00:00Z"} if field == "planned_end" else \
        {"planned_end": "2999-12-31T00:00:00Z"}
    answer = api.post("/changes", "agent@sit.test", _change(**{field: value, **other}))
    assert field in _error(answer)
    assert _count(rt, Ticket, Ticket.kind == "change") == 0
    # the calendar's own edges are fine
    fine = api.post("/changes", "agent@sit.test", _change(**other))
    assert fine.status_code == 201, fine.get_json()


@pytest.mark.parametrize(("value", "reason"), [
    *((edge, "A year from 1970 to 2999.") for edge in EDGES),
    # 00:30 in Copenhagen on 1 January of year 1 is 31 December of year 0 in UTC: no instant
    ("0001-01-01T00:30", "Give an offset"),
])
def test_the_change_form_at_the_calendars_edge_is_a_422(rt, login, value, reason):
    sit = login("agent@sit.test")
    page = sit.get("/agent/new/change").get_data(as_text=True)
    key = re.search(r'name="form_key" value="([^"]+)"', page)
    answer = sit.post("/agent/new/change", data={
        "csrf_token": csrf_of(page), **({"form_key": key.group(1)} if key else {}),
        "system": "kort", "environment": "production", "layer": "operating_system",
        "change_type": "normal", "title": "Patch", "description": "Kernel",
        "planned_start": value, "planned_end": "2026-12-04T01:30"})
    assert answer.status_code == 422
    assert reason in answer.get_data(as_text=True)  # the field says why
    assert _count(rt, Ticket, Ticket.kind == "change") == 0


@pytest.mark.parametrize("query", [f"{name}={value.replace('+', '%2B')}" for name in
                                   ("since", "until") for value in EDGES])
def test_the_access_log_since_and_until_at_the_edge_are_a_422(api, login, query):
    errors = _error(api.get(f"/audit/access?{query}", "admin@sit.test"))
    assert list(errors) == [query.split("=")[0]]
    page = login("admin@sit.test").get(f"/admin/access-log?{query}")
    assert page.status_code == 422
    assert api.get("/audit/access?since=2026-11-24&until=2999-12-31T00:00:00Z",
                   "admin@sit.test").status_code == 200


@pytest.mark.parametrize("due", EDGES)
@pytest.mark.parametrize("path", ["/agent?queue=open", "/agent/rows?queue=sla"])
def test_a_queue_cursor_at_the_calendars_edge_is_not_a_valid_cursor(api, login, path, due):
    api.incident()
    agent = login("agent@sit.test")
    answer = agent.get(f"{path}&cursor={_cursor([due, 1])}")
    # the page and its rows alike: the first page, saying the link was not valid
    notice = "That page link is not valid: showing the first page."
    assert answer.status_code == 200 and notice in answer.get_data(as_text=True)
    good = agent.get(f"{path}&cursor={_cursor(['2026-11-24T09:00:00+00:00', 1])}")
    assert good.status_code == 200 and notice not in good.get_data(as_text=True)


# --- finding 5b: numbers past int32 never reach PostgreSQL ---------------------------------

def test_access_log_before_past_int32_is_a_422(api, login):
    assert list(_error(api.get(f"/audit/access?before={PAST_INT32}", "admin@sit.test"))) == \
        ["before"]
    assert api.get(f"/audit/access?before={MAX_ID}", "admin@sit.test").status_code == 200
    admin = login("admin@sit.test")
    assert admin.get(f"/admin/access-log?before={PAST_INT32}").status_code == 422
    assert admin.get(f"/admin/access-log?before={MAX_ID}").status_code == 200


def test_notifications_before_past_int32_is_not_a_valid_cursor(login):
    boss = login("boss@sit.test")
    for before in (PAST_INT32, "abc"):   # the same answer as for any other bad cursor
        page = boss.get(f"/notifications?before={before}")
        assert page.status_code == 200 and "Not a valid cursor." in page.get_data(as_text=True)
    page = boss.get(f"/notifications?before={MAX_ID}")
    assert page.status_code == 200 and "Not a valid cursor." not in page.get_data(as_text=True)


def test_a_comment_with_an_impossible_seen_is_simply_stored(api, rt, login):
    made = api.incident()
    reporter = login("rep@gst.test")
    for seen in (PAST_INT32, "9" * 13):
        page = reporter.get(f"/tickets/{made['number']}").get_data(as_text=True)
        answer = reporter.post(f"/tickets/{made['number']}/comments", data={
            "csrf_token": csrf_of(page), "body": f"Still down ({seen[:3]})", "seen": seen})
        assert answer.status_code == 303, answer.get_data(as_text=True)[:500]
    assert _count(rt, TicketEvent, TicketEvent.ticket_id == made["id"],
                  TicketEvent.kind == "comment") == 2


def test_revoking_a_token_id_past_int32_is_no_such_token(rt, login):
    s = rt.session_factory()
    directory.create_token(s, directory.user_by_email(s, "agent@sit.test"),
                           now=datetime.now(UTC), name="keep")
    s.commit()
    token_id = s.scalar(select(ApiToken.id))
    s.close()
    admin = login("admin@sit.test")
    for raw in (PAST_INT32, "999999999999", "abc"):
        page = admin.get("/admin/tokens").get_data(as_text=True)
        answer = admin.post("/admin/tokens", data={"csrf_token": csrf_of(page), "form": "revoke",
                                                   "token_id": raw}, follow_redirects=True)
        assert answer.status_code == 200 and "No such token." in answer.get_data(as_text=True)
    assert _count(rt, ApiToken, ApiToken.revoked_at.is_not(None)) == 0
    page = admin.get("/admin/tokens").get_data(as_text=True)
    admin.post("/admin/tokens", data={"csrf_token": csrf_of(page), "form": "revoke",
                                      "token_id": str(token_id)})
    assert _count(rt, ApiToken, ApiToken.revoked_at.is_not(None)) == 1


def test_a_queue_assignee_past_int32_is_a_422(login):
    agent = login("agent@sit.test")
    for assignee in (PAST_INT32, "0000000000019999999999"):
        answer = agent.get(f"/agent/rows?queue=open&assignee={assignee}")
        assert answer.status_code == 422
    assert agent.get("/agent/rows?queue=open&assignee=2").status_code == 200

