"""Accounts and sign-in hardening (QA round 3): the assign trigger names nobody it should not,
a wrong current password on /account is a failed login, a new password revokes API tokens,
redirects stay on the site, the form throttle outlives a sign-out, invisible characters make no
look-alike accounts, and behind trusted proxies the client's address is the forwarded one."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from itilflow.domain.errors import ConfigError
from itilflow.models import AccessLogEntry, OutboxMessage, User
from itilflow.services import directory
from itilflow.settings import Settings
from tests.api.conftest import Api, make_tokens
from tests.conftest import PASSWORD, WORK_TIME
from tests.web.conftest import csrf_of, sign_in

NEW_PASSWORD = "a brand new password 1"


@pytest.fixture
def api(app, rt, world) -> Api:
    return Api(app, make_tokens(rt))


def _log(rt, action: str) -> list[AccessLogEntry]:
    with rt.session_factory() as s:
        return list(s.scalars(select(AccessLogEntry).where(AccessLogEntry.action == action)
                              .order_by(AccessLogEntry.seq)))


def _alerts(rt) -> list[dict]:
    with rt.session_factory() as s:
        return [m.payload for m in s.scalars(select(OutboxMessage).where(
            OutboxMessage.topic == "notify")) if m.payload.get("event") == "failed_logins"]


# --- 1. the assign trigger does not list other organisations' accounts --------------------

def test_assign_answers_alike_for_unknown_users_and_users_who_may_not_take_it(api, rt):
    # the customer (GST) is R, and arkiv has no supplier: only GST's people may take it
    ticket = api.incident(system="arkiv", layer="application")
    with rt.session_factory() as s:
        users = {u.email: u.id for u in s.scalars(select(User))}
    unknown = api.fire("agent@gst.test", ticket["id"], "assign", assignee=max(users.values()) + 1)
    assert unknown.status_code == 422 and unknown.json["errors"] == {"assignee": ["No such user."]}
    by_email = api.fire("agent@gst.test", ticket["id"], "assign", assignee="nobody@erst.test")
    assert (by_email.status_code, by_email.json) == (422, unknown.json)
    outsiders = [e for e in users if not e.endswith("@gst.test")]
    for email in outsiders:  # SIT, the other customer, the supplier: as if they did not exist
        for assignee in (users[email], email):
            answer = api.fire("agent@gst.test", ticket["id"], "assign", assignee=assignee)
            assert (answer.status_code, answer.json) == (422, unknown.json), (email, answer.json)
            assert "@" not in answer.get_data(as_text=True)
    # SIT's staff get the same neutral answer on their own tickets ...
    sit = api.fire("agent@sit.test", api.incident()["id"], "assign", assignee="rep@gst.test")
    assert (sit.status_code, sit.json["errors"]) == (422, {"assignee": ["No such user."]})
    assert "rep@gst.test" not in sit.get_data(as_text=True)
    # ... and a candidate is still assigned
    done = api.fire("agent@gst.test", ticket["id"], "assign", assignee=users["agent@gst.test"])
    assert done.status_code == 200 and done.json["assignee"] == "agent@gst.test"


# --- 3. guessing the current password on /account is a failed login -----------------------

def _change_password(client, current: str, new: str = NEW_PASSWORD):
    page = client.get("/account").get_data(as_text=True)
    return client.post("/account", data={"csrf_token": csrf_of(page), "form": "password",
                                         "current": current, "new": new, "repeat": new})


def test_a_wrong_current_password_is_throttled_logged_and_alerted(app, rt, world, login):
    client = login("agent@erst.test")
    limit = int(rt.settings.login_rate_limit.split()[0])  # 10 per minute
    statuses = [_change_password(client, f"guess{i}").status_code for i in range(limit + 1)]
    assert statuses == [422] * limit + [429]
    # even the right password waits now, but the language form is not a guess
    assert _change_password(client, PASSWORD).status_code == 429
    page = client.get("/account").get_data(as_text=True)
    assert client.post("/account", data={"csrf_token": csrf_of(page), "form": "locale",
                                         "locale": "da"}).status_code == 302
    failed = _log(rt, "login_failed")
    assert len(failed) == limit
    assert {(e.actor_email, e.path, e.remote_addr) for e in failed} == {
        ("agent@erst.test", "/account", "127.0.0.1")}
    alerts = _alerts(rt)  # the account and the address each crossed the threshold once
    assert sorted((a.get("account") or "", a.get("address") or "") for a in alerts) == [
        ("", "127.0.0.1"), ("agent@erst.test", "")]
    assert all(a["recipients"] == ["admin@sit.test"] for a in alerts)


def test_login_and_account_failures_fill_one_bucket(app, rt, world, login):
    client = login("agent@erst.test")
    token = csrf_of(client.get("/login").get_data(as_text=True))
    for i in range(5):
        assert client.post("/login", data={"email": "agent@erst.test", "password": f"g{i}",
                                           "csrf_token": token}).status_code == 401
    assert [_change_password(client, f"guess{i}").status_code for i in range(6)] == \
        [422] * 5 + [429]
    fresh = app.test_client()  # the same address and account, on /login: throttled too
    refused = fresh.post("/login", data={"email": "agent@erst.test", "password": PASSWORD,
                                         "csrf_token": csrf_of(fresh.get("/login").get_data(
                                             as_text=True))})
    assert refused.status_code == 429
    # a new passwords mismatch with the right current password is no guess: nothing logged
    app.extensions["itilflow_limiter"].reset()
    before = len(_log(rt, "login_failed"))
    page = client.get("/account").get_data(as_text=True)
    differ = client.post("/account", data={"csrf_token": csrf_of(page), "form": "password",
                                           "current": PASSWORD, "new": NEW_PASSWORD,
                                           "repeat": NEW_PASSWORD + "x"})
    assert differ.status_code == 422 and len(_log(rt, "login_failed")) == before


# --- 4. a new password revokes the user's API tokens --------------------------------------

def _token(rt, email: str) -> str:
    with rt.session_factory() as s:
        token = directory.create_token(s, directory.user_by_email(s, email), now=WORK_TIME,
                                       name="stolen")
        s.commit()
    return token


def _works(app, token: str) -> int:
    return app.test_client().get("/api/v1/tickets",
                                 headers={"Authorization": f"Bearer {token}"}).status_code


@pytest.mark.parametrize("how", ["own", "admin_page", "admin_api"])
def test_a_new_password_revokes_api_tokens(app, rt, world, login, how):
    token = _token(rt, "boss@erst.test")
    other = _token(rt, "agent@erst.test")
    assert _works(app, token) == 200
    if how == "own":
        assert _change_password(login("boss@erst.test"), PASSWORD).status_code == 302
    elif how == "admin_page":
        admin = login("admin@sit.test")
        page = admin.get("/admin").get_data(as_text=True)
        assert admin.post("/admin/users/boss@erst.test/password", data={
            "password": NEW_PASSWORD, "csrf_token": csrf_of(page)}).status_code == 303
    else:
        admin_token = _token(rt, "admin@sit.test")
        answer = app.test_client().patch("/api/v1/users/boss@erst.test",
                                         headers={"Authorization": f"Bearer {admin_token}"},
                                         json={"password": NEW_PASSWORD})
        assert answer.status_code == 200, answer.get_json()
    assert _works(app, token) == 401
    assert _works(app, other) == 200  # only that user's tokens


# --- 8. redirects taken from the request stay on the site ---------------------------------

@pytest.mark.parametrize("back", ["/\t/evil.example", "/\n/evil.example", "//evil.example",
                                  "/\\evil.example", "https://evil.example/", "javascript:x"])
def test_bulk_assign_back_and_login_next_stay_on_the_site(app, world, login, back):
    sit = login("agent@sit.test")
    token = csrf_of(sit.get("/agent").get_data(as_text=True))
    answer = sit.post("/agent/bulk-assign", data={"csrf_token": token, "ticket": "",
                                                  "back": back})
    assert answer.status_code == 303 and answer.location == "/agent"
    fresh = app.test_client()
    page = fresh.get("/login").get_data(as_text=True)
    signed = fresh.post("/login", query_string={"next": back}, data={
        "email": "agent@sit.test", "password": PASSWORD, "csrf_token": csrf_of(page)})
    assert signed.status_code == 302 and signed.location == "/"


def test_a_back_address_on_the_site_is_kept(app, world, login):
    sit = login("agent@sit.test")
    token = csrf_of(sit.get("/agent").get_data(as_text=True))
    answer = sit.post("/agent/bulk-assign", data={"csrf_token": token, "ticket": "",
                                                  "back": "/agent?queue=triage"})
    assert answer.status_code == 303 and answer.location == "/agent?queue=triage"


# --- 9. signing out and in again does not reset the form throttle -------------------------

def test_signing_out_and_in_keeps_the_form_throttle(app, rt, world, login):
    client = login("rep@gst.test")
    form = "/portal/incidents/new"
    limit = int(rt.settings.form_rate_limit.split()[0])  # 30 per minute
    token = csrf_of(client.get(form).get_data(as_text=True))
    statuses = [client.post(form, data={"csrf_token": token}).status_code
                for _ in range(limit + 1)]
    assert statuses[-2:] == [422, 429]
    page = client.get("/portal").get_data(as_text=True)
    assert client.post("/logout", data={"csrf_token": csrf_of(page)}).status_code == 302
    sign_in(client, "rep@gst.test")
    token = csrf_of(client.get(form).get_data(as_text=True))
    assert client.post(form, data={"csrf_token": token}).status_code == 429


# --- 10b. no invisible characters in emails and names -------------------------------------

@pytest.mark.parametrize("mark", ["\u200b", "\u200e", "\u202e", "\ufeff"])
def test_invisible_characters_are_refused_in_emails_and_names(api, mark):
    admin = "admin@sit.test"
    user = {"organisation": "ERST", "role": "reporter", "password": NEW_PASSWORD}
    twin = api.post("/users", admin, {"email": f"rep@gst.test{mark}", **user})
    assert twin.status_code == 422 and set(twin.json["errors"]) == {"email"}
    inside = api.post("/users", admin, {"email": f"r{mark}ep@gst.test", **user})
    assert inside.status_code == 422 and set(inside.json["errors"]) == {"email"}
    named = api.post("/users", admin, {"email": "new@erst.test", "name": f"Bo{mark}", **user})
    assert named.status_code == 422 and set(named.json["errors"]) == {"name"}
    renamed = api.call("PATCH", "/users/rep@erst.test", admin, json={"name": f"rep{mark}"})
    assert renamed.status_code == 422 and set(renamed.json["errors"]) == {"name"}
    org = api.post("/organisations", admin, {"name": f"GST{mark}", "kind": "customer"})
    assert org.status_code == 422 and set(org.json["errors"]) == {"name"}
    # letters beyond ASCII are still names and addresses
    assert api.post("/users", admin, {"email": "ánne@erst.test", "name": "Ånne",
                                      **user}).status_code == 201


def test_the_admin_page_refuses_a_look_alike_account(app, rt, world, login):
    admin = login("admin@sit.test")
    page = admin.get("/admin").get_data(as_text=True)
    answer = admin.post("/admin", data={
        "csrf_token": csrf_of(page), "form": "user", "email": "rep@gst.test\u200b",
        "organisation": "ERST", "role": "reporter", "password": NEW_PASSWORD})
    assert answer.status_code == 422
    with rt.session_factory() as s:
        assert s.scalar(select(User.id).where(User.email.like("rep@gst.test_%"))) is None


# --- 11. behind trusted proxies the client's address is the forwarded one -----------------

def _failed_login(client, forwarded: str) -> int:
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post("/login", headers={"X-Forwarded-For": forwarded}, data={
        "email": "nobody@x.test", "password": "guess", "csrf_token": token}).status_code


def test_x_forwarded_for_counts_only_behind_trusted_proxies(app, rt, world, database_url,
                                                           tmp_path):
    from itilflow.app import create_app

    assert _failed_login(app.test_client(), "203.0.113.7") == 401  # the default: ignored
    behind = create_app(Settings.load(database_url=database_url, secret_key="x", testing=True,
                                      instance_dir=tmp_path, redis_url="", trusted_proxies=1))
    try:
        # one trusted hop: the address that hop saw, not what the client wrote before it
        assert _failed_login(behind.test_client(), "198.51.100.1, 203.0.113.7") == 401
        limit = int(rt.settings.login_rate_limit.split()[0])
        for i in range(limit - 1):
            assert _failed_login(behind.test_client(), f"192.0.2.{i + 1}") == 401
        # the account's bucket is per address: another client is not locked out by these
        assert _failed_login(behind.test_client(), "192.0.2.200") == 401
    finally:
        behind.extensions["itilflow"].engine.dispose()
    addresses = [e.remote_addr for e in _log(rt, "login_failed")]
    assert addresses[:2] == ["127.0.0.1", "203.0.113.7"]
    assert addresses[-1] == "192.0.2.200"


def test_trusted_proxies_must_be_a_number_of_hops(monkeypatch):
    assert Settings.load().trusted_proxies == 0
    monkeypatch.setenv("ITILFLOW_TRUSTED_PROXIES", "2")
    assert Settings.load().trusted_proxies == 2
    for bad in ("-1", "two"):
        monkeypatch.setenv("ITILFLOW_TRUSTED_PROXIES", bad)
        with pytest.raises(ConfigError, match="trusted_proxies"):
            Settings.load()
