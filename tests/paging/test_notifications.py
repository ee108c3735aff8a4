"""Notifications to the I parties: in the app, and by SMTP to a tiny SMTP server on loopback;
and acknowledging through the API stops the escalation."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select, update

from itilflow.jobs import tasks
from itilflow.jobs.context import JobContext, smtp_sender
from itilflow.jobs.relay import Relay
from itilflow.models import OutboxMessage
from itilflow.models.paging import Notification
from itilflow.runtime import utcnow
from itilflow.services import directory
from tests.paging.conftest import EVENING, drain, events, make_hooks, raise_incident
from tests.web.conftest import csrf_of


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
    # rep@gst.test raised it: the receipt, though nobody is mailed of other steps of their own
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


def _outbox(rt, topic="notify"):
    s = rt.session_factory()
    rows = {m.message_id: (m.status, m.attempts) for m in s.scalars(
        select(OutboxMessage).where(OutboxMessage.topic == topic))}
    s.close()
    return rows


def _notes(rt):
    s = rt.session_factory()
    notes = sorted((n.message_id, n.party, n.message) for n in s.scalars(select(Notification)))
    s.close()
    return notes


def test_relay_writes_in_app_notifications_of_a_tick_together(rt, world, ctx):
    numbers = [raise_incident(rt, system="arkiv", impact=3, urgency=3, title=f"n{i}")
               for i in range(5)]
    results = Relay(ctx).run_due(EVENING)
    pending = _outbox(rt)
    assert len(pending) == 5
    assert sorted(results) == sorted((m, "notified") for m in pending)
    assert set(pending.values()) == {("done", 1)}
    notes = _notes(rt)
    assert [m for m, _p, _t in notes] == sorted(pending)
    assert all(party == "customer" for _m, party, _t in notes)
    assert sorted(n for n in numbers if any(n in t for _m, _p, t in notes)) == sorted(numbers)


def test_in_app_batch_leaves_a_row_another_relay_took(rt, world, ctx):
    for i in range(3):
        raise_incident(rt, system="arkiv", impact=3, urgency=3, title=f"t{i}")
    relay = Relay(ctx)
    claimed = [(m, a) for m, a, _topic in relay.claim(EVENING)]
    stolen = claimed[0][0]
    s = rt.session_factory()  # its lease ran out and another relay's attempt took it
    s.execute(update(OutboxMessage).where(OutboxMessage.message_id == stolen)
              .values(attempts=OutboxMessage.attempts + 1))
    s.commit()
    s.close()
    results = dict(tasks.execute_in_app(ctx, claimed, now=EVENING))
    assert results.pop(stolen) == "taken"
    assert set(results.values()) == {"notified"}
    assert stolen not in [m for m, _p, _t in _notes(rt)]
    assert _outbox(rt)[stolen] == ("pending", 1)
    # a repeat of the batch (a relay that thought it still held them) changes nothing
    before = _notes(rt)
    assert set(dict(tasks.execute_in_app(ctx, claimed, now=EVENING)).values()) == {"taken"}
    assert _notes(rt) == before


def test_redelivered_notification_is_written_once(rt, world, ctx):
    raise_incident(rt, system="arkiv", impact=3, urgency=3)
    Relay(ctx).run_due(EVENING)
    [message_id] = _outbox(rt)
    s = rt.session_factory()  # at least once: the row is delivered again after its outcome
    s.execute(update(OutboxMessage).where(OutboxMessage.message_id == message_id)
              .values(status="pending", done_at=None))
    s.commit()
    s.close()
    assert Relay(ctx).run_due(EVENING) == [(message_id, "notified")]
    assert [m for m, _p, _t in _notes(rt)] == [message_id]


def test_with_smtp_each_notification_runs_on_its_own(rt, world, smtp_server):
    settings = replace(rt.settings, smtp_host="127.0.0.1", smtp_port=smtp_server.server_address[1])
    ctx = JobContext(session_factory=rt.session_factory, rules=rt.rules, settings=settings,
                     send_mail=smtp_sender(settings))
    assert not tasks.in_app_only(ctx, "notify")
    for i in range(2):
        raise_incident(rt, system="arkiv", impact=3, urgency=3, title=f"m{i}")
    Relay(ctx).run_due(EVENING)
    assert len(smtp_server.mails) == 2
    assert set(_outbox(rt).values()) == {("done", 1)}


def test_failed_login_alert_is_mailed_to_the_admins(app, rt, world, smtp_server):
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    for _ in range(rt.settings.login_alert_failures):
        client.post("/login", data={"email": "nobody@x.test", "password": "guess",
                                    "csrf_token": token})
    settings = replace(rt.settings, smtp_host="127.0.0.1", smtp_port=smtp_server.server_address[1])
    ctx = JobContext(session_factory=rt.session_factory, rules=rt.rules, settings=settings,
                     send_mail=smtp_sender(settings))
    drain(Relay(ctx), utcnow() + timedelta(seconds=1))
    assert len(smtp_server.mails) == 2  # the account and the address
    assert all(m["rcpt"] == ["admin@sit.test"] for m in smtp_server.mails)
    assert all(b"Subject: [itilflow] Security alert: 5 failed logins" in m["data"]
               for m in smtp_server.mails)
    with rt.session_factory() as s:
        events = sorted(n.event for n in s.scalars(select(Notification)))
    assert events == ["failed_logins", "failed_logins"]
