"""50 clients fire the same transition with the same version at once, over real HTTP on
loopback against PostgreSQL (the transition reads the row FOR UPDATE): exactly one wins, the
other 49 get 409, and the history has one event for it."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise

import psycopg
import pytest
import requests
from sqlalchemy import select, text, update
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.serving import make_server

from itilflow.app import create_app, csrf
from itilflow.domain.errors import StaleTicket
from itilflow.models import Ticket, TicketEvent
from itilflow.runtime import db, utcnow
from itilflow.services.history import append_event
from itilflow.settings import Settings
from tests.threaded import at_once, serve

CLIENTS = 50


@pytest.fixture
def server(app, backend):
    if backend != "postgresql":
        pytest.skip("row locks and concurrent writers: PostgreSQL only")
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/api/v1"
    httpd.shutdown()
    thread.join(timeout=10)
    httpd.server_close()


def test_fifty_clients_one_winner(server, api, rt):
    ticket = api.incident()
    assert ticket["version"] == 1
    barrier = threading.Barrier(CLIENTS)
    headers = api.headers("agent@sit.test")

    def fire(_):
        with requests.Session() as http:
            barrier.wait(timeout=30)
            r = http.post(f"{server}/tickets/{ticket['id']}/transitions", headers=headers,
                          json={"trigger": "start_work", "version": 1}, timeout=60)
            return r.status_code, r.json()

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = list(pool.map(fire, range(CLIENTS)))
    statuses = sorted(status for status, _ in results)
    assert statuses.count(200) == 1, statuses
    assert statuses.count(409) == CLIENTS - 1, statuses
    assert all(body["status"] == 409 for status, body in results if status == 409)
    with rt.session_factory() as s:
        events = s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket["id"],
                                                     TicketEvent.kind == "transition")).all()
    assert [(e.trigger, e.from_state, e.to_state) for e in events] == [
        ("start_work", "new", "in_progress")]
    final = api.get(f"/tickets/{ticket['id']}", "agent@sit.test").json
    assert final["state"] == "in_progress" and final["version"] == 2


def test_a_background_append_and_a_comment_chain_in_turn(server, api, rt):
    """A worker writing history (say an SLA breach) while an agent comments on the same
    ticket: the worker holds the ticket's row lock while it appends, the comment waits for it
    and then links its event after the worker's. (A transition locks the row FOR UPDATE and
    the worker's history row's foreign key holds it too; a comment only updates the row,
    which does not wait for that.) Without the lock both took seq 2 and the comment failed on
    the unique (ticket_id, seq) with a 500."""
    ticket = api.incident(impact=3, urgency=3, layer="operating_system")
    worker = rt.session_factory()
    append_event(worker, worker.get(Ticket, ticket["id"]), kind="sla_breach", actor=None,
                 now=utcnow(), data={"target": "response"})
    worker.flush()  # seq 2 written, not committed, the ticket's row lock held
    result: dict = {}

    def fire():
        with requests.Session() as http:
            result["response"] = http.post(
                f"{server}/tickets/{ticket['id']}/comments", headers=api.headers("agent@sit.test"),
                json={"body": "Looking at it."}, timeout=60)

    agent = threading.Thread(target=fire)
    agent.start()
    with rt.engine.connect() as probe:  # wait until the comment is blocked on the lock
        for _ in range(600):
            waiting = probe.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()")).scalar()
            probe.rollback()  # the activity view is a snapshot per transaction
            if waiting:
                break
            time.sleep(0.05)
    assert waiting, "the comment never waited for the worker's lock"
    worker.commit()
    worker.close()
    agent.join(timeout=60)
    assert result["response"].status_code == 201, result["response"].text
    with rt.session_factory() as s:
        events = s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket["id"])
                           .order_by(TicketEvent.seq)).all()
    assert [(e.seq, e.kind) for e in events] == [(1, "created"), (2, "sla_breach"),
                                                 (3, "comment")]
    assert events[2].prev_hash == events[1].hash


def test_connections_the_server_closed_are_replaced_without_an_error(server, api, rt):
    """The database ends every pooled connection (a restart, an administrator): the next
    calls get fresh ones and succeed. The pool sees the closed socket at checkout; without
    that check (and without a pre-ping round trip) the first call on each dead connection
    failed with a 500."""
    headers = api.headers("agent@sit.test")
    with requests.Session() as http:  # fill the pool with several connections
        for _ in range(5):
            assert http.get(f"{server}/tickets", headers=headers, timeout=30).status_code == 200
    url = rt.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as admin:  # not one of the pool's
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        for _ in range(200):  # until the ended backends are gone
            left = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                 "current_database() AND pid <> pg_backend_pid()").fetchone()[0]
            if not left:
                break
            time.sleep(0.05)
    assert not left
    with requests.Session() as http:
        statuses = [http.get(f"{server}/tickets", headers=headers, timeout=30).status_code
                    for _ in range(12)]
    assert statuses == [200] * 12


def _taken_meanwhile(rt, name: str, request) -> tuple[int, str]:
    """``request()`` runs while another transaction holds an uncommitted organisation ``name``:
    the request's existence check cannot see it and its INSERT waits on the unique index until
    the other commits. Returns the request's (status, body)."""
    blocker = psycopg.connect(rt.settings.database_url)
    blocker.execute("INSERT INTO organisations (name, kind, created_at) "
                    "VALUES (%s, 'customer', now())", (name,))

    def commit_once_waited_for():
        with psycopg.connect(rt.settings.database_url, autocommit=True) as watch:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not watch.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'").fetchone()[0]:
                time.sleep(0.02)
        blocker.commit()
        blocker.close()

    committer = threading.Thread(target=commit_once_waited_for)
    committer.start()
    try:
        status, body = request()
    finally:
        committer.join(timeout=30)
    with rt.session_factory() as s:
        assert s.scalar(text("SELECT count(*) FROM organisations WHERE name = :n"), {"n": name}) == 1
    return status, body


def test_a_name_taken_meanwhile_is_a_409_in_the_api(server, api, rt):
    status, body = _taken_meanwhile(rt, "Race A/S", lambda: (lambda r: (r.status_code, r.json()))(
        requests.post(f"{server}/organisations", headers=api.headers("admin@sit.test"),
                      json={"name": "Race A/S", "kind": "customer"}, timeout=30)))
    assert status == 409, body
    assert body["status"] == 409 and "meanwhile" in body["message"]


def test_a_name_taken_meanwhile_is_a_409_page_in_the_ui(server, api, rt):
    import re

    from tests.conftest import PASSWORD

    base = server.removesuffix("/api/v1")
    http = requests.Session()

    def csrf(path: str) -> str:
        page = http.get(f"{base}{path}", timeout=30).text
        return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)

    http.post(f"{base}/login", data={"email": "admin@sit.test", "password": PASSWORD,
                                      "csrf_token": csrf("/login")}, timeout=30)
    token = csrf("/admin")
    status, body = _taken_meanwhile(rt, "Race ApS", lambda: (lambda r: (r.status_code, r.text))(
        http.post(f"{base}/admin", data={"form": "organisation", "name": "Race ApS",
                                         "kind": "customer", "csrf_token": token}, timeout=30)))
    assert status == 409
    assert "<html" in body and "saved the same thing meanwhile" in body


# --- both backends: writers of one ticket go one after the other --------------------------

@pytest.fixture
def any_server(app):
    """The threaded server on either backend (SQLite: the write lock instead of row locks)."""
    with serve(app) as base:
        yield f"{base}/api/v1"


def _post(url: str, headers: dict[str, str], body: dict):
    def call():
        with requests.Session() as http:
            return http.post(url, headers=headers, json=body, timeout=90)
    return call


def _history(rt, ticket_id: int) -> list[TicketEvent]:
    with rt.session_factory() as s:
        return list(s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
                              .order_by(TicketEvent.seq)))


def _warm(api, *emails: str) -> None:
    """A token's first call of the minute marks it used: a write, which on SQLite takes the
    write lock early and so lines the burst up. The steady state is a token in use."""
    for email in emails:
        assert api.get("/tickets", email).status_code == 200


def _one_chain(events: list[TicketEvent]) -> None:
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert all(later.prev_hash == earlier.hash for earlier, later in pairwise(events))


def test_concurrent_comments_are_all_stored(any_server, api, rt):
    """Ten comments on one ticket at once, by its reporter and by the service desk: every one
    is stored, in one chain. A comment bumps the ticket's version; it read the ticket without
    the row lock (on SQLite: before taking the write lock), so all but the first failed on the
    stale version with a 500 and were lost."""
    ticket = api.incident()
    _warm(api, "rep@gst.test", "agent@sit.test")
    url = f"{any_server}/tickets/{ticket['id']}/comments"
    responses = at_once([_post(url, api.headers(email), {"body": f"Comment {n}"})
                         for n, email in enumerate(["rep@gst.test", "agent@sit.test"] * 5)])
    assert [r.status_code for r in responses] == [201] * 10, [r.text for r in responses]
    events = _history(rt, ticket["id"])
    assert sorted(e.data["body"] for e in events if e.kind == "comment") == \
        sorted(f"Comment {n}" for n in range(10))
    _one_chain(events)


def test_comments_racing_transitions_are_all_stored(any_server, api, rt):
    """Comments while the service desk assigns the same ticket back and forth: every comment
    and every transition is stored (16 of 32 were a 500 on PostgreSQL). (Assign, not
    reclassify: a reclassification to the layer the ticket has is refused, and in a race
    which one that is cannot be known.)"""
    from itilflow.services import directory

    ticket = api.incident(layer="operating_system")
    _warm(api, "rep@gst.test", "agent@sit.test")
    with rt.session_factory() as s:
        agents = [directory.user_by_email(s, e).id for e in ("agent@sit.test", "agent2@sit.test")]
    base = f"{any_server}/tickets/{ticket['id']}"
    comments = [_post(f"{base}/comments", api.headers("rep@gst.test"), {"body": f"Still down {n}"})
                for n in range(8)]
    moves = [_post(f"{base}/transitions", api.headers("agent@sit.test"),
                   {"trigger": "assign", "assignee": agent, "comment": "Taking it"})
             for agent in agents * 4]
    responses = at_once(comments + moves)
    assert [r.status_code for r in responses] == [201] * 8 + [200] * 8, \
        [r.text for r in responses]
    events = _history(rt, ticket["id"])
    assert [e.kind for e in events].count("comment") == 8
    assert [e.kind for e in events].count("transition") == 8
    _one_chain(events)
    final = api.get(f"/tickets/{ticket['id']}", "agent@sit.test").json
    assert final["version"] == 1 + 16


def test_concurrent_transitions_answer_200_or_409(any_server, api, rt):
    """Ten reclassifications at once, without a version: each is a 200 (one after the other),
    a 409, or a 422 where the layer asked for is the one it has by then; never a 500. On
    SQLite 8 of 10 were a 500: the stale version's 409 left the session unusable and the
    access log's after-request hook failed on it."""
    ticket = api.incident(layer="operating_system")
    _warm(api, "agent@sit.test")
    url = f"{any_server}/tickets/{ticket['id']}/transitions"
    responses = at_once([_post(url, api.headers("agent@sit.test"),
                               {"trigger": "reclassify", "layer": layer})
                         for layer in ["infrastructure", "operating_system"] * 5])
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 409, 422}, [r.text for r in responses]
    assert all(r.json()["status"] == 409 for r in responses if r.status_code == 409)
    # a 422 only for a move to the layer the ticket had by then (an earlier one won the race)
    assert all(r.json()["errors"] == {"layer": ["The layer is unchanged: choose another layer."]}
               for r in responses if r.status_code == 422)
    events = _history(rt, ticket["id"])
    assert [e.kind for e in events].count("transition") == statuses.count(200)
    _one_chain(events)


def test_a_service_error_after_a_failed_flush_is_answered_not_a_500(app, database_url, rt, api,
                                                                    tmp_path):
    """A service turns a failed flush (StaleDataError: someone changed the ticket meanwhile)
    into a 409. The session refuses every statement until it is rolled back; the request
    boundary rolls it back before the after-request hooks (the access log reads the caller's
    token through it). Staged here in a view of a test app: the race, made deterministic."""
    ticket = api.incident()
    test_app = create_app(Settings.load(database_url=database_url, secret_key="test-secret",
                                        testing=True, instance_dir=tmp_path, redis_url=""))

    @test_app.post("/api/v1/stale/<int:ticket_id>")
    def stale(ticket_id):
        session = db()
        row = session.get(Ticket, ticket_id)
        with rt.engine.begin() as other:  # another writer changes it and commits
            other.execute(update(Ticket).where(Ticket.id == ticket_id)
                          .values(version=Ticket.version + 1))
        row.title = "Mine"
        try:
            session.flush()
        except StaleDataError:
            raise StaleTicket("The ticket was changed by someone else meanwhile.") from None
        return {}

    csrf.exempt(stale)  # as the API's blueprints are: Bearer tokens, no cookie
    try:
        response = test_app.test_client().post(
            f"/api/v1/stale/{ticket['id']}", headers=api.headers("agent@sit.test"), json={})
    finally:
        test_app.extensions["itilflow"].engine.dispose()
    assert response.status_code == 409, response.get_data(as_text=True)
    assert response.get_json()["message"] == "The ticket was changed by someone else meanwhile."
    with rt.session_factory() as s:
        assert s.get(Ticket, ticket["id"]).title == ticket["title"]


def _wait_until_blocked(rt) -> None:
    """Until a request waits for a lock held by the test (PostgreSQL shows it; SQLite's busy
    wait does not show, so give it time)."""
    if rt.engine.dialect.name != "postgresql":
        time.sleep(1)
        return
    with rt.engine.connect() as probe:
        for _ in range(600):
            waiting = probe.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()")).scalar()
            probe.rollback()
            if waiting:
                return
            time.sleep(0.05)
    raise AssertionError("the request never waited for the lock")


def test_a_link_waits_for_the_incidents_other_writer(any_server, api, rt):
    """A problem links an incident that another transaction is changing (a worker's, holding
    it): the link waits for it, then is stored. It read the incident without the row lock, so
    its update found the version changed under it: a 500."""
    incident = api.incident(layer="operating_system")
    problem = api.post("/problems", "agent@sit.test", {
        "system": "kort", "title": "Tiles", "layer": "operating_system"}).json
    _warm(api, "agent@sit.test")
    worker = rt.session_factory()
    worker.get(Ticket, incident["id"]).title = "Renamed by a worker"
    worker.flush()  # version 2, not committed: the row (on SQLite the database) is locked
    result: dict = {}

    def link():
        result["response"] = _post(f"{any_server}/problems/{problem['id']}/incidents",
                                   api.headers("agent@sit.test"),
                                   {"incident": incident["number"]})()

    linker = threading.Thread(target=link)
    linker.start()
    try:
        _wait_until_blocked(rt)
    finally:
        worker.commit()
        worker.close()
        linker.join(timeout=60)
    assert result["response"].status_code == 200, result["response"].text
    kinds = [e.kind for e in _history(rt, incident["id"])]
    assert kinds == ["created", "linked"]
