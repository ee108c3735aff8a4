"""Rotating a pager hook's secret with an overlap window, and retiring a hook: pages to a
loopback receiver, signed pager calls through the API, the migration that stores the replaced
secret, on SQLite and PostgreSQL. Time is passed in (``now``) or is the wall clock the API reads;
nothing sleeps."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text

from itilflow.db import make_engine
from itilflow.domain import paging as rules_of_paging
from itilflow.domain.errors import Conflict
from itilflow.migrate import downgrade, upgrade
from itilflow.models import Base
from itilflow.models.audit import AccessLogEntry
from itilflow.models.paging import PagerHook
from itilflow.runtime import utcnow
from itilflow.services import directory, paging
from tests.paging.conftest import EVENING, drain, events, fire, make_hooks, raise_incident

HOOK = "kort-provider-l1"
DAY = timedelta(hours=24)


def _signatures(request: dict) -> list[str]:
    return request["headers"]["webhook-signature"].split()


def _signs(secret: str, request: dict, at) -> bool:
    try:
        rules_of_paging.verify([secret], request["headers"], request["raw"], at)
    except rules_of_paging.Unauthenticated:
        return False
    return True


def _rotate(rt, name: str = HOOK, *, now, overlap=DAY) -> str:
    """Rotate through the service at ``now``; the new secret."""
    with rt.session_factory() as s:
        actor = directory.load_actor(s, directory.user_by_email(s, "admin@sit.test"))
        _hook, secret = paging.update_hook(s, actor, name, {"secret": None}, now=now,
                                           overlap=overlap)
        s.commit()
    return secret


def _tokens(rt) -> dict[str, dict[str, str]]:
    with rt.session_factory() as s:
        tokens = {email: {"Authorization": "Bearer " + directory.create_token(
            s, directory.user_by_email(s, email), now=EVENING, name="tests")}
            for email in ("admin@sit.test", "agent@sit.test")}
        s.commit()
    return tokens


def _pager_call(client, secret: str, number: str, action: str, webhook_id: str):
    raw = json.dumps({"dedup_key": f"itilflow-{number}", "action": action}).encode()
    headers = rules_of_paging.signed_headers(secret, webhook_id, utcnow(), raw)
    return client.post("/api/v1/pager/events", data=raw,
                       headers={**headers, "Content-Type": "application/json"})


# --- the rules, without a database --------------------------------------------------------

OLD = rules_of_paging.SECRET_PREFIX + "b2xkLXNlY3JldC1vZi0zMi1ieXRlcy0wMTIzNDU2Nzg5"
NEW = rules_of_paging.SECRET_PREFIX + "bmV3LXNlY3JldC1vZi0zMi1ieXRlcy0wMTIzNDU2Nzg5"


def test_the_replaced_secret_counts_until_the_window_ends_and_not_at_its_end():
    until = EVENING + DAY
    assert rules_of_paging.live_secrets(NEW, OLD, until, EVENING) == [NEW, OLD]
    assert rules_of_paging.live_secrets(NEW, OLD, until, until - timedelta(seconds=1)) == [NEW, OLD]
    assert rules_of_paging.live_secrets(NEW, OLD, until, until) == [NEW]
    assert rules_of_paging.live_secrets(NEW, None, None, EVENING) == [NEW]
    assert rules_of_paging.rotated_secret(OLD, NEW, now=EVENING, overlap=DAY) == (NEW, OLD, until)
    assert rules_of_paging.rotated_secret(OLD, NEW, now=EVENING, overlap=timedelta(0)) == (
        NEW, None, None)
    headers = rules_of_paging.signed_headers([NEW, OLD], "msg_1", EVENING, b"{}")
    assert headers["webhook-signature"] == " ".join(
        rules_of_paging.sign(k, "msg_1", int(EVENING.timestamp()), b"{}") for k in (NEW, OLD))


def test_removal_is_refused_while_used_then_retires_or_deletes():
    with pytest.raises(Conflict, match="escalation levels of kort, virk"):
        rules_of_paging.hook_removal(used_by=["kort", "virk"], escalating=0, paged=True)
    with pytest.raises(Conflict, match="1 escalation"):
        rules_of_paging.hook_removal(used_by=[], escalating=1, paged=True)
    assert rules_of_paging.hook_removal(used_by=[], escalating=0, paged=True) == "retired"
    assert rules_of_paging.hook_removal(used_by=[], escalating=0, paged=False) == "deleted"


# --- outgoing pages -----------------------------------------------------------------------

def test_a_page_in_the_overlap_carries_both_signatures_after_it_only_the_new(
        rt, world, receiver, relay):
    old = make_hooks(rt, receiver, delays=(3600,))[HOOK]
    new = _rotate(rt, now=EVENING - timedelta(hours=1))
    raise_incident(rt)
    drain(relay, EVENING)
    [during] = receiver.requests
    assert len(_signatures(during)) == 2
    assert _signs(new, during, EVENING) and _signs(old, during, EVENING)
    assert _signatures(during)[0] == rules_of_paging.sign(
        new, during["headers"]["webhook-id"], int(EVENING.timestamp()), during["raw"])

    later = EVENING - timedelta(hours=1) + DAY  # Wednesday 20:00: after hours, window over
    raise_incident(rt, now=later, title="Kort er nede igen")
    drain(relay, later)
    assert len(receiver.requests) == 2
    after = receiver.requests[1]
    assert len(_signatures(after)) == 1
    assert _signs(new, after, later) and not _signs(old, after, later)
    # the next change to the hook clears the replaced secret for good
    with rt.session_factory() as s:
        actor = directory.load_actor(s, directory.user_by_email(s, "admin@sit.test"))
        hook, _none = paging.update_hook(s, actor, HOOK, {"url": f"{receiver.url}/l1"},
                                         now=later, overlap=DAY)
        s.commit()
        assert (hook.secret, hook.previous_secret, hook.previous_secret_expires_at) == (
            new, None, None)


def test_a_rotation_in_the_overlap_keeps_the_older_secret_and_its_end(rt, world, app, receiver,
                                                                      relay):
    """The receiver still uses the first secret; the second was shown moments ago."""
    first = make_hooks(rt, receiver, delays=(3600,))[HOOK]
    second = _rotate(rt, now=EVENING - timedelta(hours=2))
    third = _rotate(rt, now=EVENING - timedelta(hours=1))
    raise_incident(rt)
    drain(relay, EVENING)
    [page] = receiver.requests
    assert len(_signatures(page)) == 2
    assert _signs(third, page, EVENING) and _signs(first, page, EVENING)
    assert not _signs(second, page, EVENING)
    # the answer shows until when (the first window's end), never the replaced secret
    admin = _tokens(rt)["admin@sit.test"]
    listed = app.test_client().get("/api/v1/pager-hooks", headers=admin)
    [hook] = listed.get_json()
    assert hook["previous_secret_expires_at"] == (EVENING - timedelta(hours=2) + DAY).isoformat()
    assert hook["active"] is True
    body = listed.get_data(as_text=True)
    assert second not in body and third not in body and "previous_secret\"" not in body


def test_no_overlap_replaces_the_secret_at_once(rt, world, receiver, relay):
    old = make_hooks(rt, receiver, delays=(3600,))[HOOK]
    new = _rotate(rt, now=EVENING - timedelta(hours=1), overlap=timedelta(0))
    raise_incident(rt)
    drain(relay, EVENING)
    [page] = receiver.requests
    assert _signatures(page) and len(_signatures(page)) == 1
    assert _signs(new, page, EVENING) and not _signs(old, page, EVENING)


# --- inbound pager calls --------------------------------------------------------------------

def test_a_pager_answering_with_the_old_secret_is_accepted_in_the_window_only(
        rt, world, app, receiver, relay):
    s0 = make_hooks(rt, receiver, delays=(300, 300))[HOOK]
    first = raise_incident(rt)
    second = raise_incident(rt, title="Kort er langsomt")
    drain(relay, EVENING)
    assert len(receiver.requests) == 2
    client = app.test_client()
    admin = _tokens(rt)["admin@sit.test"]

    # rotated 25 hours ago (wall clock): s0's window ended an hour ago
    s1 = _rotate(rt, now=utcnow() - DAY - timedelta(hours=1))
    refused = _pager_call(client, s0, second, "acknowledge", "evt_after")
    assert refused.status_code == 401
    assert [t for k, t, _d in events(rt, second) if k == "transition"] == []
    assert _pager_call(client, s1, second, "acknowledge", "evt_new").status_code == 200

    # rotated now through the API: s1 still counts for a day, s0 (two rotations back) never
    rotated = client.patch(f"/api/v1/pager-hooks/{HOOK}", headers=admin, json={"secret": None})
    assert rotated.status_code == 200
    s2 = rotated.get_json()["secret"]
    left = datetime.fromisoformat(rotated.get_json()["previous_secret_expires_at"]) - utcnow()
    assert DAY - timedelta(minutes=1) < left <= DAY  # the default overlap, from the settings
    assert s1 not in rotated.get_data(as_text=True) and s2 != s1
    assert _pager_call(client, s0, first, "acknowledge", "evt_oldest").status_code == 401
    during = _pager_call(client, s1, first, "acknowledge", "evt_during")
    assert during.status_code == 200 and during.get_json()["applied"] is True
    assert [(t, d["hook"]) for k, t, d in events(rt, first) if k == "transition"] == [
        ("acknowledge", HOOK)]
    assert _pager_call(client, s2, first, "resolve", "evt_resolve").get_json()["state"] == \
        "resolved"


# --- retiring and deleting hooks ------------------------------------------------------------

def _hook_rows(rt) -> dict[str, bool]:
    with rt.session_factory() as s:
        return {h.name: h.active for h in s.scalars(select(PagerHook))}


def test_delete_is_admin_only_refused_while_levels_use_it_and_deletes_a_hook_never_paged(
        rt, world, app, receiver, relay):
    make_hooks(rt, receiver, delays=(300,))
    tokens = _tokens(rt)
    admin, agent = tokens["admin@sit.test"], tokens["agent@sit.test"]
    client = app.test_client()
    url = f"/api/v1/pager-hooks/{HOOK}"
    assert client.put("/api/v1/systems/virk/escalation", headers=admin, json={
        "party": "provider", "levels": [{"hook": HOOK, "delay_seconds": 60}]}).status_code == 200

    assert client.delete(url).status_code == 401
    assert client.delete(url, headers=agent).status_code == 403
    assert client.delete("/api/v1/pager-hooks/nosuch", headers=admin).status_code == 404
    used = client.delete(url, headers=admin)
    assert used.status_code == 409
    assert "escalation levels of kort, virk" in used.get_json()["message"]
    assert _hook_rows(rt) == {HOOK: True}

    for system in ("kort", "virk"):
        assert client.put(f"/api/v1/systems/{system}/escalation", headers=admin, json={
            "party": "provider", "levels": []}).status_code == 200
    raise_incident(rt)  # no levels left: pages nobody
    drain(relay, EVENING)
    removed = client.delete(url, headers=admin)
    assert removed.status_code == 200 and removed.get_json() == {"name": HOOK,
                                                                "outcome": "deleted"}
    assert _hook_rows(rt) == {}
    assert client.get("/api/v1/pager-hooks", headers=admin).get_json() == []
    assert client.delete(url, headers=admin).status_code == 404
    assert receiver.requests == []


def test_a_retired_hook_is_listed_as_such_refused_in_levels_and_trusted_no_more(
        rt, world, app, receiver, relay):
    secret = make_hooks(rt, receiver, delays=(300,))[HOOK]
    admin = _tokens(rt)["admin@sit.test"]
    client = app.test_client()
    url = f"/api/v1/pager-hooks/{HOOK}"
    number = raise_incident(rt)
    drain(relay, EVENING)
    assert len(receiver.requests) == 1
    assert client.put("/api/v1/systems/kort/escalation", headers=admin, json={
        "party": "provider", "levels": []}).status_code == 200
    escalating = client.delete(url, headers=admin)
    assert escalating.status_code == 409 and "in progress" in escalating.get_json()["message"]
    fire(rt, number, "acknowledge")  # the escalation stops; its pager is told
    drain(relay, EVENING)
    assert [r["body"]["type"] for r in receiver.requests] == [
        "incident.trigger", "incident.acknowledge"]

    removed = client.delete(url, headers=admin)
    assert removed.status_code == 200 and removed.get_json() == {"name": HOOK,
                                                                "outcome": "retired"}
    assert _hook_rows(rt) == {HOOK: False}
    [listed] = client.get("/api/v1/pager-hooks", headers=admin).get_json()
    assert listed["name"] == HOOK and listed["active"] is False
    refused = client.put("/api/v1/systems/kort/escalation", headers=admin, json={
        "party": "provider", "levels": [{"hook": HOOK, "delay_seconds": 60}]})
    assert refused.status_code == 422
    assert refused.get_json()["errors"] == {"levels.0.hook": ["This pager hook is retired."]}
    # its pages keep their history; its secret no longer resolves the ticket they were for
    assert _pager_call(client, secret, number, "resolve", "evt_retired").status_code == 401
    assert [k for k, _t, _d in events(rt, number)].count("page") == 2
    # removing it again changes nothing
    assert client.delete(url, headers=admin).get_json()["outcome"] == "retired"
    with rt.session_factory() as s:
        logged = [(e.method, e.path, e.status) for e in s.scalars(
            select(AccessLogEntry).where(AccessLogEntry.action == "admin_action"))
            if e.method == "DELETE"]
    assert logged == [("DELETE", url, 200), ("DELETE", url, 200)]
    assert len(receiver.requests) == 2


# --- the migration ----------------------------------------------------------------------------

@pytest.fixture
def scratch_engine(database_url, tmp_path):
    """A database of this test's own (the shared test schema is left alone)."""
    if database_url.startswith("sqlite"):
        engine = make_engine(f"sqlite:///{tmp_path / 'rotation.db'}")
        yield engine
        engine.dispose()
        return
    import psycopg

    from tests.conftest import PG_ADMIN_URL, _pg_url

    name = f"{database_url.rsplit('/', 1)[1]}_rot"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(_pg_url(name).replace("postgresql://", "postgresql+psycopg://"))
    yield engine
    engine.dispose()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _columns(engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("pager_hooks")}


def test_the_migration_adds_and_removes_the_previous_secret_keeping_hooks(scratch_engine):
    engine = scratch_engine
    upgrade(engine, "0001")
    assert "previous_secret" not in _columns(engine)
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO pager_hooks (name, url, format, secret, active, created_at) VALUES "
            "('gw', 'http://127.0.0.1:9/gw', 'generic', :secret, :yes, :at)"),
            {"secret": OLD, "yes": True, "at": EVENING})
    upgrade(engine, "0002")
    assert {"previous_secret", "previous_secret_expires_at"} <= _columns(engine)
    with engine.begin() as conn:
        assert conn.execute(text(
            "SELECT secret, previous_secret, previous_secret_expires_at FROM pager_hooks")
        ).all() == [(OLD, None, None)]
        conn.execute(text("UPDATE pager_hooks SET previous_secret = :old, secret = :new"),
                     {"old": OLD, "new": NEW})
    upgrade(engine)
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    downgrade(engine, "0001")
    assert not {"previous_secret", "previous_secret_expires_at"} & _columns(engine)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT name, secret FROM pager_hooks")).all() == [("gw", NEW)]
    upgrade(engine)
    assert "previous_secret_expires_at" in _columns(engine)
