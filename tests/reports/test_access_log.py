"""The access log, driven through the real app: what users do is what the log says."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from itilflow.models import OutboxMessage
from itilflow.services import access_log
from tests.conftest import PASSWORD
from tests.reports.conftest import api_incident, bearer, entries
from tests.web.conftest import csrf_of, sign_in


def test_every_read_of_a_ticket_is_logged(app, rt, tokens):
    ticket = api_incident(app, tokens)
    ui = app.test_client()
    sign_in(ui, "agent@sit.test")
    assert ui.get(f"/tickets/{ticket['number']}").status_code == 200
    api = app.test_client()
    assert api.get(f"/api/v1/tickets/{ticket['id']}",
                   headers=bearer(tokens, "rep@gst.test")).status_code == 200
    assert api.get(f"/api/v1/tickets/{ticket['id']}/events",
                   headers=bearer(tokens, "rep@gst.test")).status_code == 200
    # another organisation's ticket is a 404, and nothing was read
    assert api.get(f"/api/v1/tickets/{ticket['id']}",
                   headers=bearer(tokens, "rep@erst.test")).status_code == 404
    reads = entries(rt, action="ticket_read")
    assert [(e.actor_email, e.target, e.data["via"], e.data["what"]) for e in reads] == [
        ("agent@sit.test", ticket["number"], "ui", "ticket"),
        ("rep@gst.test", ticket["number"], "api", "ticket"),
        ("rep@gst.test", ticket["number"], "api", "events"),
    ]
    assert all(e.remote_addr == "127.0.0.1" and e.status == 200 for e in reads)


def test_logins_logouts_and_failures(app, rt, world):
    client = app.test_client()
    sign_in(client, "boss@gst.test")
    page = client.get("/account").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": csrf_of(page)}).status_code == 302
    token = csrf_of(client.get("/login").get_data(as_text=True))
    failed = client.post("/login", data={"email": "boss@gst.test", "password": "wrong",
                                         "csrf_token": token})
    assert failed.status_code == 401
    log = [(e.action, e.actor_email, e.remote_addr) for e in entries(rt)]
    assert log == [("login", "boss@gst.test", "127.0.0.1"), ("logout", "boss@gst.test", "127.0.0.1"),
                   ("login_failed", "boss@gst.test", "127.0.0.1")]


def test_repeated_failed_logins_alert_the_admins_once(app, rt, world):
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    for _ in range(rt.settings.login_alert_failures + 1):
        response = client.post("/login", data={"email": "nobody@x.test", "password": "guess",
                                               "csrf_token": token})
        assert response.status_code == 401
    s = rt.session_factory()
    alerts = [m.payload for m in s.scalars(select(OutboxMessage).where(
        OutboxMessage.topic == "notify")) if m.payload.get("event") == "failed_logins"]
    s.close()
    # the address and the account each crossed the threshold once
    assert sorted((a.get("account") or "", a.get("address") or "") for a in alerts) == [
        ("", "127.0.0.1"), ("nobody@x.test", "")]
    assert all(a["recipients"] == ["admin@sit.test"] and a["failures"] == 5 for a in alerts)
    assert len(entries(rt, action="login_failed")) == 6


def test_refusals_are_logged_and_the_log_is_admin_only(app, rt, tokens):
    client = app.test_client()
    refused = client.get("/api/v1/audit/access", headers=bearer(tokens, "boss@sit.test"))
    assert refused.status_code == 403
    assert refused.get_json()["status"] == 403
    assert client.get("/api/v1/audit/access").status_code == 401
    ui = app.test_client()
    sign_in(ui, "agent@sit.test")
    assert ui.get("/admin/access-log").status_code == 404
    refusal = entries(rt, action="permission_refused")
    assert [(e.actor_email, e.path, e.status) for e in refusal] == [
        ("boss@sit.test", "/api/v1/audit/access", 403)]

    admin = client.get("/api/v1/audit/access", headers=bearer(tokens, "admin@sit.test"))
    assert admin.status_code == 200
    actions = [item["action"] for item in admin.get_json()["items"]]
    assert "permission_refused" in actions and "login" in actions
    admin_ui = app.test_client()
    sign_in(admin_ui, "admin@sit.test")
    page = admin_ui.get("/admin/access-log?action=login")
    assert page.status_code == 200
    assert "agent@sit.test" in page.get_data(as_text=True)


def test_filters_csv_export_token_use_and_admin_actions(app, rt, tokens):
    client = app.test_client()
    admin = bearer(tokens, "admin@sit.test")
    made = client.post("/api/v1/organisations", headers=admin,
                       json={"name": "Geodata", "kind": "customer"})
    assert made.status_code == 201, made.get_json()
    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    listed = client.get("/api/v1/audit/access", headers=admin,
                        query_string={"action": "admin_action", "actor": "admin@sit.test",
                                      "since": since})
    items = listed.get_json()["items"]
    assert [(i["method"], i["path"], i["status"]) for i in items] == [
        ("POST", "/api/v1/organisations", 201)]
    # token use is logged coarsely: once per token per minute, however many calls
    assert [e.actor_email for e in entries(rt, action="token_use")] == ["admin@sit.test"]
    exported = client.get("/api/v1/audit/access?format=csv", headers=admin)
    assert exported.status_code == 200 and exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert rows[0][:3] == ["seq", "at", "action"]
    assert {r[2] for r in rows[1:]} >= {"token_use", "admin_action"}
    assert [e.target for e in entries(rt, action="export")] == ["/api/v1/audit/access"]
    bad = client.get("/api/v1/audit/access?action=hack&since=yesterday", headers=admin)
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"action"}


def test_tampering_is_detected(rt, world):
    s = rt.session_factory()
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    for i in range(5):
        access_log.record(s, "login", now=now + timedelta(minutes=i),
                          actor_email=f"u{i}@x.test", remote_addr="10.0.0.1")
    s.commit()
    assert access_log.verify_log(s) == (5, [])
    s.execute(text("UPDATE access_log SET actor_email = 'someone@else.test' WHERE seq = 2"))
    s.commit()
    checked, faults = access_log.verify_log(s)
    assert (checked, [(f.seq, f.reason) for f in faults]) == (
        5, [(2, "content changed after writing")])
    s.execute(text("DELETE FROM access_log WHERE seq = 4"))
    s.commit()
    reasons = [(f.seq, f.reason) for f in access_log.verify_log(s)[1]]
    assert (5, "sequence gap: expected 4") in reasons
    assert (5, "link to previous entry broken") in reasons
    s.close()


def test_retention_purges_the_oldest_and_the_chain_still_verifies(rt, world):
    s = rt.session_factory()
    now = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
    for days_ago in (400, 370, 10, 1):
        access_log.record(s, "logout", now=now - timedelta(days=days_ago), actor_email="a@x.test")
    s.commit()
    assert access_log.purge(s, retention_days=365, now=now) == 2
    s.commit()
    assert access_log.verify_log(s) == (2, [])
    assert access_log.purge(s, retention_days=0, now=now) == 0
    s.close()


def test_password_is_never_logged(app, rt, world):
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": "boss@gst.test", "password": PASSWORD + "x",
                                "csrf_token": token})
    assert all(PASSWORD not in repr(vars(e)) for e in entries(rt))
