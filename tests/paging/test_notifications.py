"""Notifications to the I parties: in the app, and by SMTP to a tiny SMTP server on loopback;
and acknowledging through the API stops the escalation."""

from __future__ import annotations

import socketserver
import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from itilflow.jobs.context import JobContext, smtp_sender
from itilflow.jobs.relay import Relay
from itilflow.models.paging import Notification
from itilflow.services import directory
from tests.paging.conftest import EVENING, drain, events, make_hooks, raise_incident


class _Smtp(socketserver.StreamRequestHandler):
    """Just enough SMTP: EHLO, MAIL, RCPT, DATA, QUIT; records each message."""

    def handle(self):
        self.wfile.write(b"220 test\r\n")
        mail = {"rcpt": [], "data": b""}
        while line := self.rfile.readline():
            cmd = line.strip().upper()
            if cmd.startswith(b"RCPT"):
                mail["rcpt"].append(line.split(b":", 1)[1].strip().strip(b"<>").decode())
                self.wfile.write(b"250 ok\r\n")
            elif cmd == b"DATA":
                self.wfile.write(b"354 go\r\n")
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    mail["data"] += chunk
                self.server.mails.append(mail)
                mail = {"rcpt": [], "data": b""}
                self.wfile.write(b"250 queued\r\n")
            elif cmd == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def smtp_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    server.daemon_threads = True
    server.mails = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def test_informed_party_notified_in_app_and_by_email_once(rt, world, smtp_server):
    settings = replace(rt.settings, smtp_host="127.0.0.1", smtp_port=smtp_server.server_address[1])
    ctx = JobContext(session_factory=rt.session_factory, rules=rt.rules, settings=settings,
                     send_mail=smtp_sender(settings))
    number = raise_incident(rt, system="arkiv", impact=3, urgency=3)
    relay = Relay(ctx)
    drain(relay, EVENING)
    drain(relay, EVENING + timedelta(minutes=5))
    s = rt.session_factory()
    notes = list(s.scalars(select(Notification).where(Notification.event == "created")))
    gst = directory.organisation_by_name(s, "GST")
    s.close()
    assert [(n.organisation_id, n.party) for n in notes] == [(gst.id, "customer")]
    assert number in notes[0].message
    assert len(smtp_server.mails) == 1
    assert sorted(smtp_server.mails[0]["rcpt"]) == ["agent@gst.test", "boss@gst.test",
                                                     "rep@gst.test"]
    assert f"[itilflow] {number}".encode() in smtp_server.mails[0]["data"]


def test_acknowledge_through_the_api_stops_escalation(rt, world, app, receiver, relay):
    make_hooks(rt, receiver, delays=(300, 300))
    number = raise_incident(rt)
    drain(relay, EVENING)
    s = rt.session_factory()
    token = directory.create_token(s, directory.user_by_email(s, "agent@sit.test"), now=EVENING)
    s.commit()
    s.close()
    client = app.test_client()
    answer = client.post(f"/api/v1/tickets/{number}/transitions",
                         headers={"Authorization": f"Bearer {token}"},
                         json={"trigger": "acknowledge"})
    assert answer.status_code == 200, answer.get_json()
    paging = answer.get_json()["paging"]
    assert paging["acknowledged_at"] is not None
    assert [(p["level"], p["action"], p["status"]) for p in paging["pages"]] == [
        (1, "trigger", "delivered"), (1, "acknowledge", "pending")]
    from itilflow.runtime import utcnow

    drain(relay, utcnow() + timedelta(hours=1))
    assert [r["body"]["type"] for r in receiver.requests] == [
        "incident.trigger", "incident.acknowledge"]
    assert [t for k, t, _d in events(rt, number) if k == "transition"] == ["acknowledge"]
