"""50 clients fire the same transition with the same version at once, over real HTTP on
loopback against PostgreSQL (the transition reads the row FOR UPDATE): exactly one wins, the
other 49 get 409, and the history has one event for it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from itilflow.models import TicketEvent

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
