"""Fixtures for paging: a recording HTTP receiver on loopback, hooks and levels, a relay."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from itilflow.jobs.relay import Relay
from itilflow.services import directory, paging, tickets

#: Tuesday 24 November 2026, 20:00 in Copenhagen: after hours
EVENING = datetime(2026, 11, 24, 19, 0, tzinfo=UTC)


class Receiver:
    """A threaded HTTP server recording every request; answers from ``script`` in order
    (status, headers, delay seconds), then 200."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.script: list[tuple[int, dict, float]] = []
        self.lock = threading.Lock()
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.requests.append({"path": self.path, "headers": dict(self.headers),
                                              "body": json.loads(body or b"null"), "raw": body})
                    status, headers, delay = receiver.script.pop(0) if receiver.script \
                        else (200, {}, 0)
                receiver.arrived.set()
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def on(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def make_hooks(rt, receiver, *, fmt="generic", delays=(300, 600), system="kort",
               party="provider") -> dict[str, str]:
    """Hooks L1, L2 (, ...) at receiver paths /l1, /l2; levels on ``system`` for ``party``.
    Returns the hooks' secrets by name."""
    s = rt.session_factory()
    admin = directory.user_by_email(s, "admin@sit.test")
    actor = directory.load_actor(s, admin)
    secrets = {}
    for i, _delay in enumerate(delays, start=1):
        name = f"{system}-{party}-l{i}"
        data = {"name": name, "url": f"{receiver.url}/l{i}", "format": fmt}
        if fmt == "pagerduty":
            data["routing_key"] = f"rk{i}"
        _hook, secret = paging.create_hook(s, actor, data, now=EVENING)
        secrets[name] = secret
    paging.set_escalation(s, actor, system, {"party": party, "levels": [
        {"hook": f"{system}-{party}-l{i}", "delay_seconds": d}
        for i, d in enumerate(delays, start=1)]})
    s.commit()
    s.close()
    return secrets


def raise_incident(rt, *, now=EVENING, system="kort", environment="production", layer=None,
                   impact=1, urgency=1, email="rep@gst.test", title="Kort er nede"):
    s = rt.session_factory()
    user = directory.user_by_email(s, email)
    data = {"system": system, "environment": environment, "title": title, "description": "x",
            "impact": impact, "urgency": urgency}
    if layer:
        data["layer"] = layer
    ticket = tickets.submit_incident(s, rt.rules, user, directory.load_actor(s, user), data,
                                     now=now)
    s.commit()
    number = tickets.number_of(rt.rules, ticket)
    s.close()
    return number


def fire(rt, number, trigger, *, email="agent@sit.test", now=EVENING, **data):
    s = rt.session_factory()
    user = directory.user_by_email(s, email)
    tickets.fire_transition(s, rt.rules, user, directory.load_actor(s, user), number, trigger,
                            data, now=now)
    s.commit()
    s.close()


def drain(relay: Relay, now: datetime, rounds: int = 20) -> list:
    """Run everything due at ``now``, including rows that running others made due."""
    done = []
    for _ in range(rounds):
        ran = relay.run_due(now)
        if not ran:
            break
        done.extend(ran)
    return done


def events(rt, number, kind=None):
    s = rt.session_factory()
    from itilflow.domain.access import Actor
    from itilflow.domain.parties import Role

    ticket = tickets.get_ticket(s, rt.rules, Actor(0, Role.ADMIN, 0), number)
    out = [(e.kind, e.trigger, e.data) for e in tickets.events_of(s, ticket)]
    s.close()
    return [e for e in out if kind is None or e[0] == kind]
