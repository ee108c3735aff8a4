"""Paging end to end against a loopback receiver, on SQLite and PostgreSQL, time driven by
passing ``now`` to the relay: each test asserts exactly the deliveries it expects."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

from sqlalchemy import select

from itilflow.domain import paging as rules_of_paging
from itilflow.models import OutboxMessage, Ticket
from itilflow.models.paging import Notification, Page
from itilflow.services import directory, paging, tickets
from tests.conftest import WORK_TIME
from tests.paging.conftest import EVENING, drain, events, fire, make_hooks, raise_incident


def _ids(requests):
    return [r["headers"]["webhook-id"] for r in requests]


def test_level_one_at_once_level_two_after_its_delay(rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(300, 600))
    number = raise_incident(rt)
    drain(relay, EVENING)
    assert len(receiver.on("/l1")) == 1 and receiver.on("/l2") == []
    page = receiver.on("/l1")[0]["body"]
    assert page["type"] == "incident.trigger" and page["level"] == 1
    assert page["dedup_key"] == f"itilflow-{number}" and page["ticket"]["number"] == number
    drain(relay, EVENING + timedelta(seconds=299))
    assert receiver.on("/l2") == []
    drain(relay, EVENING + timedelta(seconds=300))
    assert len(receiver.on("/l1")) == 1 and len(receiver.on("/l2")) == 1
    drain(relay, EVENING + timedelta(hours=5))
    assert len(receiver.requests) == 2  # the last level does not escalate further
    kinds = [k for k, _t, _d in events(rt, number)]
    assert kinds.count("page") == 2 and "escalated" in kinds and "paging" in kinds


def test_generic_pages_are_signed_standard_webhooks(rt, world, receiver, relay):
    secrets = make_hooks(rt, receiver, delays=(60,))
    raise_incident(rt)
    drain(relay, EVENING)
    (req,) = receiver.requests
    h = req["headers"]
    secret = secrets["kort-provider-l1"]
    assert secret.startswith("whsec_")
    assert h["webhook-timestamp"] == str(int(EVENING.timestamp()))
    expected = rules_of_paging.sign(secret, h["webhook-id"], int(h["webhook-timestamp"]),
                                    req["raw"])
    assert h["webhook-signature"] == expected and req["body"]["id"] == h["webhook-id"]


def test_acknowledge_trigger_stops_escalation_and_pagerduty_follows(rt, world, receiver, relay):
    make_hooks(rt, receiver, fmt="pagerduty", delays=(300, 600))
    number = raise_incident(rt)
    drain(relay, EVENING)
    (trigger,) = receiver.requests
    assert trigger["body"]["event_action"] == "trigger"
    assert trigger["body"]["routing_key"] == "rk1"
    assert trigger["body"]["payload"]["severity"] == "critical"
    assert trigger["body"]["payload"]["component"] == "kort"
    fire(rt, number, "acknowledge", now=EVENING + timedelta(seconds=60))
    drain(relay, EVENING + timedelta(seconds=60))
    drain(relay, EVENING + timedelta(hours=2))
    assert [r["path"] for r in receiver.requests] == ["/l1", "/l1"]
    ack = receiver.requests[1]["body"]
    assert ack == {"routing_key": "rk1", "event_action": "acknowledge",
                   "dedup_key": f"itilflow-{number}"}
    fire(rt, number, "resolve", now=EVENING + timedelta(hours=3), resolution="Genstartet")
    drain(relay, EVENING + timedelta(hours=3))
    assert receiver.requests[-1]["body"]["event_action"] == "resolve"
    assert len(receiver.requests) == 3


def test_no_page_in_working_time_or_without_vagtordning(rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(60,))
    make_hooks(rt, receiver, delays=(60,), system="arkiv")
    working = raise_incident(rt, now=WORK_TIME)            # working time: the queue has it
    raise_incident(rt, system="arkiv")                      # no vagtordning
    raise_incident(rt, impact=3, urgency=3)                 # P5
    raise_incident(rt, environment="test")                  # not production
    drain(relay, WORK_TIME + timedelta(hours=5, minutes=59))
    assert receiver.requests == []
    drain(relay, EVENING + timedelta(days=1))
    # ... until working time ends (16:00) with nobody having acknowledged it; the others never
    assert [r["body"]["ticket"]["number"] for r in receiver.requests] == [working]


def test_receiver_500_three_times_then_200_delivered_once_same_id(rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(3600,))
    receiver.script = [(500, {}, 0)] * 3
    number = raise_incident(rt)
    now = EVENING
    for _ in range(6):
        drain(relay, now)
        now += timedelta(minutes=20)   # past any back-off of the first attempts
    l1 = receiver.on("/l1")
    assert len(l1) == 4 and len(set(_ids(l1))) == 1
    assert len({r["raw"] for r in l1}) == 1  # the same body on every retry
    assert [k for k, _t, _d in events(rt, number)].count("page") == 1


def test_429_retry_after_is_respected(rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(3600,))
    receiver.script = [(429, {"Retry-After": "600"}, 0)]
    raise_incident(rt)
    drain(relay, EVENING)
    drain(relay, EVENING + timedelta(seconds=590))
    assert len(receiver.requests) == 1
    drain(relay, EVENING + timedelta(seconds=601))
    assert len(receiver.requests) == 2 and len(set(_ids(receiver.requests))) == 1


def test_400_is_not_retried_dead_letter_pages_next_level_and_resend(rt, world, receiver, relay,
                                                                   app):
    make_hooks(rt, receiver, delays=(3600, 3600))
    receiver.script = [(400, {}, 0)]
    number = raise_incident(rt)
    drain(relay, EVENING)
    assert [r["path"] for r in receiver.requests] == ["/l1", "/l2"]  # L2 at once, not in 1 h
    drain(relay, EVENING + timedelta(hours=3))
    assert len(receiver.requests) == 2
    assert [k for k, _t, _d in events(rt, number)].count("page_failed") == 1
    s = rt.session_factory()
    token = directory.create_token(s, directory.user_by_email(s, "admin@sit.test"), now=EVENING)
    s.commit()
    s.close()
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    dead = client.get("/api/v1/pager/dead-letters", headers=auth).get_json()
    assert [(d["ticket"], d["level"], d["status"]) for d in dead] == [(number, 1, "dead")]
    assert client.post(f"/api/v1/pager/dead-letters/{dead[0]['id']}/resend",
                       headers=auth).status_code == 202
    from itilflow.runtime import utcnow

    drain(relay, utcnow() + timedelta(seconds=1))  # the API re-sends now (wall clock)
    assert [r["path"] for r in receiver.requests] == ["/l1", "/l2", "/l1"]
    assert receiver.requests[2]["headers"]["webhook-id"] == dead[0]["webhook_id"]
    assert client.get("/api/v1/pager/dead-letters", headers=auth).get_json() == []


def test_rolled_back_transaction_sends_nothing(rt, world, receiver, relay):
    from itilflow.services import tickets

    make_hooks(rt, receiver, delays=(60,))
    s = rt.session_factory()
    user = directory.user_by_email(s, "rep@gst.test")
    tickets.submit_incident(s, rt.rules, user, directory.load_actor(s, user), {
        "system": "kort", "environment": "production", "title": "t", "impact": 1,
        "urgency": 1}, now=EVENING)
    assert s.scalar(select(OutboxMessage).where(OutboxMessage.topic == "page")) is not None
    s.rollback()
    s.close()
    drain(relay, EVENING + timedelta(days=1))
    assert receiver.requests == []


def test_two_relays_at_once_no_duplicates(rt, world, receiver, ctx):
    from itilflow.jobs.relay import Relay

    make_hooks(rt, receiver, delays=(60, 60))
    numbers = [raise_incident(rt, title=f"t{i}") for i in range(8)]
    barrier = threading.Barrier(2)

    def run():
        relay = Relay(ctx, batch=3)
        barrier.wait()
        for _ in range(3):
            drain(relay, EVENING + timedelta(seconds=61))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pages = [(r["path"], r["body"]["ticket"]["number"]) for r in receiver.requests]
    assert sorted(pages) == sorted([(p, n) for n in numbers for p in ("/l1", "/l2")])


def test_reclassify_to_the_customer_pages_its_levels(rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(600,))
    make_hooks(rt, receiver, delays=(600,), party="customer")
    number = raise_incident(rt)          # unknown layer: the provider's levels
    drain(relay, EVENING)
    assert [r["path"] for r in receiver.requests] == ["/l1"]
    fire(rt, number, "reclassify", layer="application", now=EVENING + timedelta(seconds=30))
    drain(relay, EVENING + timedelta(seconds=30))
    bodies = [(r["body"]["type"], r["body"]["ticket"]["responsible_party"])
              for r in receiver.requests]
    assert bodies == [("incident.trigger", "provider"), ("incident.resolve", "customer"),
                      ("incident.trigger", "customer")]


def test_sla_breach_is_a_history_event_and_notifies_the_a(rt, world, relay):
    number = raise_incident(rt, now=WORK_TIME, system="arkiv", impact=2, urgency=2)  # P3
    drain(relay, WORK_TIME + timedelta(days=30))
    breaches = events(rt, number, "sla_breach")
    assert sorted(d["target"] for _k, _t, d in breaches) == ["resolution", "response"]
    s = rt.session_factory()
    notes = list(s.scalars(select(Notification).where(Notification.event == "sla_breach")))
    assert len(notes) == 2 and {n.party for n in notes} == {"provider"}
    created = list(s.scalars(select(Notification).where(Notification.event == "created")))
    assert created and all(n.party == "customer" for n in created)
    s.close()


def _admin_and_agent_tokens(rt) -> tuple[str, str]:
    with rt.session_factory() as s:
        tokens = tuple(directory.create_token(s, directory.user_by_email(s, email), now=EVENING)
                       for email in ("admin@sit.test", "agent@sit.test"))
        s.commit()
    return tokens


def test_pager_hook_api(rt, world, app, receiver):
    admin, agent = _admin_and_agent_tokens(rt)
    client = app.test_client()
    a = {"Authorization": f"Bearer {admin}"}
    made = client.post("/api/v1/pager-hooks", headers=a, json={
        "name": "gw", "url": f"{receiver.url}/gw", "format": "generic"})
    assert made.status_code == 201 and made.get_json()["secret"].startswith("whsec_")
    listed = client.get("/api/v1/pager-hooks", headers=a).get_json()
    assert [h["name"] for h in listed] == ["gw"] and "secret" not in listed[0]
    assert client.post("/api/v1/pager-hooks", headers=a, json={
        "name": "gw", "url": "http://x/", "format": "generic"}).status_code == 409
    bad = client.post("/api/v1/pager-hooks", headers=a, json={
        "name": "pd", "url": "ftp://x", "format": "pagerduty", "secret": "nope"})
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {
        "url", "routing_key", "secret"}
    assert client.post("/api/v1/pager-hooks", json={}).status_code == 401
    assert client.post("/api/v1/pager-hooks", headers={"Authorization": f"Bearer {agent}"},
                       json={"name": "x", "url": "http://x/", "format": "generic"}
                       ).status_code == 403
    put = client.put("/api/v1/systems/kort/escalation", headers=a, json={
        "party": "provider", "levels": [{"hook": "gw", "delay_seconds": 120}]})
    assert put.status_code == 200 and put.get_json()["levels"] == [
        {"position": 1, "hook": "gw", "delay_seconds": 120}]
    bad = client.put("/api/v1/systems/kort/escalation", headers=a, json={
        "party": "x", "levels": [{"hook": "nohook", "delay_seconds": -1}]})
    assert bad.status_code == 422
    assert client.put("/api/v1/systems/nosuch/escalation", headers=a, json={
        "party": "provider", "levels": []}).status_code == 404


def _signed(secret, body: dict, at, webhook_id="evt_1"):
    raw = json.dumps(body).encode()
    headers = rules_of_paging.signed_headers(secret, webhook_id, at, raw)
    headers["Content-Type"] = "application/json"
    return raw, headers


def test_signed_inbound_acknowledge_stops_escalation_forged_and_replayed_refused(
        rt, world, app, receiver, relay):
    from itilflow.runtime import utcnow

    secrets = make_hooks(rt, receiver, delays=(300, 300))
    number = raise_incident(rt)
    drain(relay, EVENING)
    assert len(receiver.requests) == 1
    client = app.test_client()
    key = f"itilflow-{number}"
    body = {"dedup_key": key, "action": "acknowledge"}
    now = utcnow()
    # unsigned, forged, stale: refused, nothing changes
    assert client.post("/api/v1/pager/events", json=body).status_code == 401
    raw, headers = _signed(rules_of_paging.SECRET_PREFIX + "A" * 44, body, now)
    assert client.post("/api/v1/pager/events", data=raw, headers=headers).status_code == 401
    raw, headers = _signed(secrets["kort-provider-l1"], body, now - timedelta(minutes=6))
    assert client.post("/api/v1/pager/events", data=raw, headers=headers).status_code == 401
    raw, headers = _signed(secrets["kort-provider-l1"], {**body, "dedup_key": "itilflow-X"}, now)
    assert client.post("/api/v1/pager/events", data=raw, headers=headers).status_code == 401
    # signed: acknowledged, through the workflow, in the history
    raw, headers = _signed(secrets["kort-provider-l1"], body, now)
    ok = client.post("/api/v1/pager/events", data=raw, headers=headers)
    assert ok.status_code == 200 and ok.get_json()["applied"] is True
    # the same call again is a replay
    assert client.post("/api/v1/pager/events", data=raw, headers=headers).status_code == 401
    # another acknowledgement (a second person's pager): nothing more to do, said so
    raw, headers = _signed(secrets["kort-provider-l1"], body, now, "again")
    again = client.post("/api/v1/pager/events", data=raw, headers=headers)
    assert again.status_code == 200 and again.get_json()["applied"] is False
    transitions = [(t, d.get("via")) for k, t, d in events(rt, number) if k == "transition"]
    assert transitions == [("acknowledge", "pager")]
    with rt.session_factory() as s:
        ticket = s.get(Ticket, tickets.ticket_id_of(rt.rules, number))
        assert paging.paging_summary(s, ticket)["acknowledged_by"] == "pager hook kort-provider-l1"
    drain(relay, now + timedelta(hours=2))  # past the level 2 deadline too
    assert [r["body"]["type"] for r in receiver.requests] == [
        "incident.trigger", "incident.acknowledge"]
    assert receiver.on("/l2") == []
    # resolve from the pager, with its text
    raw, headers = _signed(secrets["kort-provider-l1"], {"dedup_key": key, "action": "resolve",
                                                         "resolution": "Disk skiftet"}, now, "e2")
    assert client.post("/api/v1/pager/events", data=raw, headers=headers).get_json()["state"] \
        == "resolved"


def test_paging_field_and_readyz(rt, world, app, receiver, relay):
    from itilflow.services.paging_view import paging_of

    make_hooks(rt, receiver, delays=(300,))
    number = raise_incident(rt)
    client = app.test_client()
    lagging = client.get("/readyz")          # a page due since EVENING, days ago
    assert lagging.status_code == 503 and lagging.get_json()["status"] == "behind"
    drain(relay, EVENING)
    s = rt.session_factory()
    from itilflow.models import Ticket

    page = s.scalar(select(Page))
    view = paging_of(s, s.get(Ticket, page.ticket_id))
    s.close()
    assert [(p["level"], p["status"]) for p in view["pages"]] == [(1, "delivered")]
    assert view["escalating"] is True and view["party"] == "provider"
    assert number


def test_a_hooks_url_and_secret_change_and_the_next_page_follows(rt, world, app, receiver, relay):
    """PATCH /pager-hooks/{name}: the next page goes to the new url, signed with the rotated
    secret (which the answer shows once) and, within the overlap, the old one; bad changes are
    refused and change nothing."""
    old = make_hooks(rt, receiver, delays=(0,))["kort-provider-l1"]
    token, agent = _admin_and_agent_tokens(rt)
    client = app.test_client()
    a = {"Authorization": f"Bearer {token}"}
    url = "/api/v1/pager-hooks/kort-provider-l1"
    for body, field in (({"url": "ftp://x/"}, "url"), ({"format": "pagerduty"}, "routing_key"),
                        ({"secret": "whsec_short"}, "secret"), ({"name": "renamed"}, "name")):
        refused = client.patch(url, headers=a, json=body)
        assert refused.status_code == 422 and field in refused.get_json()["errors"], body
    assert client.patch("/api/v1/pager-hooks/nosuch", headers=a, json={}).status_code == 404
    assert client.patch(url, headers={"Authorization": f"Bearer {agent}"},
                        json={"secret": None}).status_code == 403
    changed = client.patch(url, headers=a, json={"url": f"{receiver.url}/moved", "secret": None})
    assert changed.status_code == 200, changed.get_json()
    new = changed.get_json()["secret"]
    assert new.startswith("whsec_") and new != old
    assert "secret" not in client.get("/api/v1/pager-hooks", headers=a).get_json()[0]
    raise_incident(rt)
    drain(relay, EVENING)
    [page] = receiver.requests
    assert page["path"] == "/moved"
    assert rules_of_paging.verify([new], page["headers"], page["raw"], EVENING) == \
        page["headers"]["webhook-id"]
    # the old secret signs too for the overlap window (tests/paging/test_hook_rotation.py: and
    # not after it)
    assert len(page["headers"]["webhook-signature"].split()) == 2
    assert rules_of_paging.verify([old], page["headers"], page["raw"], EVENING) == \
        page["headers"]["webhook-id"]
