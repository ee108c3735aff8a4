"""On-call schedules wired into paging, end to end against a loopback receiver (SQLite and
PostgreSQL), and the /oncall-schedules API. Each paging test asserts exactly the deliveries it
expects."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from itilflow.models.paging import Page
from itilflow.services import directory, oncall, paging
from tests.paging.conftest import EVENING, drain, events, make_hooks, raise_incident

#: weekly from Monday 2 November 2026 08:00 local: alice, bob, Carl -> alice again on 23 Nov,
#: so alice has Tuesday 24 November 20:00 (EVENING)
ROTATION = {"people": ["alice@sit.test", "bob@sit.test", "Carl Ravn"], "handover": "mon 08:00",
            "weeks": 1, "start": "2026-11-02"}
#: an override that does not cover EVENING: nobody is on call then
ELSEWHEN = [{"person": "dora@sit.test", "start": "2026-11-25T08:00:00+01:00",
             "end": "2026-11-25T16:00:00+01:00"}]


def _admin(s):
    return directory.load_actor(s, directory.user_by_email(s, "admin@sit.test"))


def schedule(rt, name, **data):
    s = rt.session_factory()
    oncall.create_schedule(s, _admin(s), {"name": name, **data}, now=EVENING)
    s.commit()
    s.close()


def levels(rt, spec, system="kort", party="provider"):
    """spec: [(delay_seconds, schedule name or None)] for the hooks make_hooks made."""
    s = rt.session_factory()
    paging.set_escalation(s, _admin(s), system, {"party": party, "levels": [
        {"hook": f"{system}-{party}-l{i}", "delay_seconds": d,
         **({"schedule": name} if name else {})} for i, (d, name) in enumerate(spec, start=1)]})
    s.commit()
    s.close()


def _pages(rt):
    s = rt.session_factory()
    out = [(p.level, p.action, p.on_call) for p in s.scalars(select(Page).order_by(Page.id))]
    s.close()
    return out


def test_generic_page_names_the_person_on_call(rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(300, 600))
    schedule(rt, "sit-drift", rotation=ROTATION)
    levels(rt, [(300, "sit-drift"), (600, None)])
    number = raise_incident(rt)
    drain(relay, EVENING)
    assert [r["path"] for r in receiver.requests] == ["/l1"]
    body = receiver.requests[0]["body"]
    assert body["on_call"] == "alice@sit.test" and body["ticket"]["number"] == number
    (page_event,) = [d for _k, _t, d in events(rt, number, "page")]
    assert page_event["on_call"] == "alice@sit.test" and page_event["level"] == 1
    assert _pages(rt) == [(1, "trigger", "alice@sit.test")]
    drain(relay, EVENING + timedelta(seconds=300))        # level 2 has no schedule: as before
    assert [r["path"] for r in receiver.requests] == ["/l1", "/l2"]
    assert "on_call" not in receiver.requests[1]["body"]


def test_pagerduty_summary_and_details_name_the_person_override_wins(rt, world, receiver, relay):
    make_hooks(rt, receiver, fmt="pagerduty", delays=(300,))
    schedule(rt, "sit-drift", rotation=ROTATION, overrides=[
        {"person": "Eva Holm", "start": "2026-11-24T18:00:00Z", "end": "2026-11-25T07:00:00Z"}])
    levels(rt, [(300, "sit-drift")])
    number = raise_incident(rt)
    drain(relay, EVENING)
    (req,) = receiver.requests
    payload = req["body"]["payload"]
    assert payload["custom_details"]["on_call"] == "Eva Holm"
    assert payload["summary"].startswith(number) and payload["summary"].endswith(
        "(on call: Eva Holm)")


def test_ical_schedule_names_the_person(rt, world, receiver, relay):
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\nUID:n@t\r\n"
           "SUMMARY:Nattevagt\r\nATTENDEE:mailto:nina@sit.test\r\n"
           "DTSTART;TZID=Europe/Copenhagen:20261102T160000\r\n"
           "DTEND;TZID=Europe/Copenhagen:20261103T080000\r\nRRULE:FREQ=DAILY\r\nEND:VEVENT\r\n"
           "END:VCALENDAR\r\n")
    make_hooks(rt, receiver, delays=(300,))
    schedule(rt, "nat", ical=ics.replace("SUMMARY:Nattevagt", "SUMMARY:Nat: Nina"))
    levels(rt, [(300, "nat")])
    raise_incident(rt)
    drain(relay, EVENING)
    assert [r["body"]["on_call"] for r in receiver.requests] == ["nina@sit.test"]


def test_nobody_on_call_escalates_to_the_next_level_at_once(rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(3600, 3600))
    schedule(rt, "empty-evening", overrides=ELSEWHEN)
    levels(rt, [(3600, "empty-evening"), (3600, None)])
    number = raise_incident(rt)
    drain(relay, EVENING)
    assert [r["path"] for r in receiver.requests] == ["/l2"]   # at once, not in an hour
    (nobody,) = [d for _k, _t, d in events(rt, number, "nobody_on_call")]
    assert nobody["message"] == "nobody on call at level 1: escalated"
    assert nobody["schedule"] == "empty-evening"
    escalated = [d for _k, _t, d in events(rt, number, "escalated")]
    assert [d["level"] for d in escalated] == [2]
    assert escalated[0]["because"] == "nobody on call at level 1"
    drain(relay, EVENING + timedelta(hours=5))
    assert [r["path"] for r in receiver.requests] == ["/l2"]
    assert _pages(rt) == [(2, "trigger", None)]


def test_nobody_on_call_at_a_middle_level_when_its_timer_fires(rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(300, 300, 300))
    schedule(rt, "empty-evening", overrides=ELSEWHEN)
    schedule(rt, "sit-drift", rotation=ROTATION)
    levels(rt, [(300, None), (300, "empty-evening"), (300, "sit-drift")])
    number = raise_incident(rt)
    drain(relay, EVENING)
    assert [r["path"] for r in receiver.requests] == ["/l1"]
    drain(relay, EVENING + timedelta(seconds=300))
    assert [r["path"] for r in receiver.requests] == ["/l1", "/l3"]
    assert receiver.requests[1]["body"]["on_call"] == "alice@sit.test"
    kinds = [(k, d.get("level")) for k, _t, d in events(rt, number)
             if k in ("nobody_on_call", "escalated")]
    assert kinds == [("nobody_on_call", 2), ("escalated", 3)]
    drain(relay, EVENING + timedelta(hours=5))
    assert len(receiver.requests) == 2


def test_nobody_on_call_at_the_last_level_pages_nobody(rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(300,))
    schedule(rt, "empty-evening", overrides=ELSEWHEN)
    levels(rt, [(300, "empty-evening")])
    number = raise_incident(rt)
    drain(relay, EVENING + timedelta(hours=1))
    assert receiver.requests == []
    (nobody,) = [d for _k, _t, d in events(rt, number, "nobody_on_call")]
    assert nobody["message"] == "nobody on call at level 1: no further level"


def test_oncall_schedule_api(rt, world, app):
    s = rt.session_factory()
    admin = directory.create_token(s, directory.user_by_email(s, "admin@sit.test"), now=EVENING)
    agent = directory.create_token(s, directory.user_by_email(s, "agent@sit.test"), now=EVENING)
    paging.create_hook(s, _admin(s), {"name": "h1", "url": "http://127.0.0.1:9/x",
                                      "format": "generic"}, now=EVENING)
    s.commit()
    s.close()
    a = {"Authorization": f"Bearer {admin}"}
    client = app.test_client()
    made = client.post("/api/v1/oncall-schedules", headers=a, json={
        "name": "sit-drift", "timezone": "Europe/Copenhagen", "rotation": ROTATION,
        "overrides": [{"person": "Eva Holm", "start": "2026-11-24T18:00:00Z",
                       "end": "2026-11-24T20:00:00Z"}]})
    assert made.status_code == 201, made.get_json()
    body = made.get_json()
    assert body["rotation"]["handover"] == "mon 08:00" and body["overrides"][0]["person"] == \
        "Eva Holm"
    assert client.post("/api/v1/oncall-schedules", headers=a, json={
        "name": "sit-drift", "rotation": ROTATION}).status_code == 409
    listed = client.get("/api/v1/oncall-schedules", headers=a).get_json()
    assert [x["name"] for x in listed] == ["sit-drift"]
    now = client.get("/api/v1/oncall-schedules/sit-drift/now?at=2026-11-24T19:00:00Z",
                     headers=a).get_json()
    assert (now["on_call"], now["source"]) == ("Eva Holm", "override")
    now = client.get("/api/v1/oncall-schedules/sit-drift/now?at=2026-11-24T20:00:00%2B00:00",
                     headers=a).get_json()
    assert (now["on_call"], now["source"], now["until"]) == (
        "alice@sit.test", "rotation", "2026-11-30T07:00:00+00:00")
    assert client.get("/api/v1/oncall-schedules/sit-drift/now?at=tuesday",
                      headers=a).status_code == 422
    assert client.get("/api/v1/oncall-schedules/nosuch/now", headers=a).status_code == 404
    assert client.get("/api/v1/oncall-schedules/sit-drift/now", headers=a).status_code == 200

    def bad(data):
        r = client.post("/api/v1/oncall-schedules", headers=a, json={"name": "x", **data})
        assert r.status_code == 422, r.get_json()
        return r.get_json()

    assert "ical" in str(bad({"ical": "BEGIN:VCALENDAR\nthis is not ical"}))
    assert "rotation.people.1" in str(bad({"rotation": {**ROTATION, "people": ["a@b.dk", "<x>"]}}))
    assert "overrides.0.end" in str(bad({"overrides": [
        {"person": "Eva", "start": "2026-11-24T20:00:00Z", "end": "2026-11-24T18:00:00Z"}]}))
    assert "overrides.0.start" in str(bad({"overrides": [
        {"person": "Eva", "start": "2026-11-24T20:00:00", "end": "2026-11-24T21:00:00Z"}]}))
    assert "timezone" in str(bad({"timezone": "Mars/Olympus", "rotation": ROTATION}))
    assert "rotation.handover" in str(bad({"rotation": {**ROTATION, "handover": "someday"}}))
    assert "rotation.weeks" in str(bad({"rotation": {**ROTATION, "weeks": 0}}))
    assert "_schema" in str(bad({}))
    assert "ical" in str(bad({"ical": ["BEGIN:VCALENDAR"]}))
    assert "overrides.0.start" in str(bad({"overrides": [
        {"person": "Eva", "start": "0001-01-01T00:00:00+14:00", "end": "2026-11-24T21:00:00Z"}]}))
    assert "rotation.start" in str(bad({"rotation": {**ROTATION, "start": "0001-01-01"}}))
    assert "rotation.people" in str(bad({"rotation": {**ROTATION, "people": []}}))
    assert "colour" in str(bad({"rotation": ROTATION, "colour": "red"}))
    assert client.post("/api/v1/oncall-schedules", headers=a, data="[]",
                       content_type="application/json").status_code == 400  # not an object
    assert client.post("/api/v1/oncall-schedules", json={"name": "y"}).status_code == 401
    assert client.post("/api/v1/oncall-schedules", headers={"Authorization": f"Bearer {agent}"},
                       json={"name": "y", "rotation": ROTATION}).status_code == 403
    assert client.get("/api/v1/oncall-schedules",
                      headers={"Authorization": f"Bearer {agent}"}).status_code == 403

    put = client.put("/api/v1/systems/kort/escalation", headers=a, json={
        "party": "provider", "levels": [{"hook": "h1", "delay_seconds": 60,
                                         "schedule": "sit-drift"},
                                        {"hook": "h1", "delay_seconds": 60}]})
    assert put.status_code == 200, put.get_json()
    assert [lv.get("schedule") for lv in put.get_json()["levels"]] == ["sit-drift", None]
    assert "schedule" not in put.get_json()["levels"][1]   # a level without one, as before
    got = client.get("/api/v1/systems/kort/escalation", headers=a).get_json()
    assert got[0]["levels"][0]["schedule"] == "sit-drift"
    r = client.put("/api/v1/systems/kort/escalation", headers=a, json={
        "party": "provider", "levels": [{"hook": "h1", "delay_seconds": 60, "schedule": "nope"}]})
    assert r.status_code == 422 and "levels.0.schedule" in r.get_json()["errors"]
    assert client.get("/api/v1/systems/kort/escalation", headers=a).get_json()[0]["levels"][0][
        "schedule"] == "sit-drift"   # the failed request changed nothing


def test_now_answers_the_instant_in_utc_whatever_offset_it_was_asked_in(app, rt, world):
    from itilflow.domain.access import Actor
    from itilflow.domain.parties import Role
    from itilflow.services import directory, oncall
    from tests.paging.conftest import EVENING

    s = rt.session_factory()
    admin = directory.user_by_email(s, "admin@sit.test")
    actor = Actor(user_id=admin.id, role=Role.ADMIN, organisation_id=admin.organisation_id)
    oncall.create_schedule(s, actor, {"name": "utc-check", "rotation": {"people": ["alice@sit.test"]}},
                           now=EVENING)
    for asked in ("2026-11-24T20:00:00+01:00", "2026-11-24T20:00:30+01:00:30",
                  "2026-11-24T19:00:00Z"):
        answer = oncall.now_json(s, actor, "utc-check", at=asked, now=EVENING)
        assert answer["at"] == "2026-11-24T19:00:00+00:00", asked
    s.rollback()
    s.close()
