"""Changing an on-call schedule after it was made: the fields of a PATCH replace the
schedule's, one override is added the way a team swaps a night, and the next page asks the
changed schedule who is on call (end to end against a loopback receiver)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from itilflow.domain.errors import Conflict, NotFound, NotPermitted, ValidationError
from itilflow.services import directory, oncall
from tests.paging.conftest import EVENING, drain, make_hooks, raise_incident
from tests.paging.test_oncall import ROTATION, _admin, _pages, levels, schedule


def _change(rt, name, data, *, as_email="admin@sit.test", now=EVENING):
    s = rt.session_factory()
    try:
        actor = directory.load_actor(s, directory.user_by_email(s, as_email))
        out = oncall.schedule_json(oncall.update_schedule(s, actor, name, data, now=now))
        s.commit()
        return out
    finally:
        s.close()


def _add(rt, name, item, *, now=EVENING):
    s = rt.session_factory()
    try:
        out = oncall.schedule_json(oncall.add_override(s, _admin(s), name, item, now=now))
        s.commit()
        return out
    finally:
        s.close()


def _read(rt, name):
    s = rt.session_factory()
    try:
        return oncall.schedule_json(oncall.get_schedule(s, _admin(s), name))
    finally:
        s.close()


def test_a_changed_rotation_pages_the_new_person(rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(300,))
    schedule(rt, "sit-drift", rotation=ROTATION)
    levels(rt, [(300, "sit-drift")])
    changed = _change(rt, "sit-drift", {"rotation": {**ROTATION, "people": ["Carl Ravn"]}})
    assert changed["rotation"]["people"] == ["Carl Ravn"]
    assert changed["timezone"] == "Europe/Copenhagen"     # what was not given stays
    raise_incident(rt)
    drain(relay, EVENING)
    assert _pages(rt) == [(1, "trigger", "Carl Ravn")]
    assert receiver.requests[0]["body"]["on_call"] == "Carl Ravn"


def test_an_added_override_wins_and_past_ones_are_dropped(rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(300,))
    past = {"person": "Old Timer", "start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00Z"}
    schedule(rt, "sit-drift", rotation=ROTATION, overrides=[past])
    levels(rt, [(300, "sit-drift")])
    after = _add(rt, "sit-drift", {"person": "bob@sit.test", "start": "2026-11-24T18:00:00Z",
                                   "end": "2026-11-25T06:00:00Z"})
    assert [o["person"] for o in after["overrides"]] == ["bob@sit.test"]
    assert after["rotation"]["people"] == ROTATION["people"]
    raise_incident(rt)
    drain(relay, EVENING)
    assert _pages(rt) == [(1, "trigger", "bob@sit.test")]


def test_fields_replace_and_null_clears_but_someone_must_stay_named(rt, world):
    schedule(rt, "sit-drift", rotation=ROTATION, timezone="Europe/Copenhagen")
    moved = _change(rt, "sit-drift", {"name": "sit-nat", "timezone": "UTC",
                                      "overrides": [{"person": "Eva", "start": "2026-11-24T18:00:00Z",
                                                     "end": "2026-11-24T20:00:00Z"}]})
    assert (moved["name"], moved["timezone"], len(moved["overrides"])) == ("sit-nat", "UTC", 1)
    assert _change(rt, "sit-nat", {"rotation": None})["rotation"] is None  # overrides remain
    with pytest.raises(ValidationError) as refused:
        _change(rt, "sit-nat", {"overrides": []})       # nobody would be named any more
    assert "_schema" in refused.value.errors
    assert _read(rt, "sit-nat")["overrides"][0]["person"] == "Eva"   # nothing changed
    with pytest.raises(NotFound):
        _read(rt, "sit-drift")                           # renamed


@pytest.mark.parametrize(("data", "field"), [
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"rotation": {**ROTATION, "weeks": 0}}, "rotation.weeks"),
    ({"overrides": [{"person": "Eva", "start": "2026-11-24T20:00:00Z",
                     "end": "2026-11-24T18:00:00Z"}]}, "overrides.0.end"),
    ({"ical": "BEGIN:VCALENDAR\nnot ical"}, "ical"),
    ({"name": ""}, "name"),
    ({"colour": "red"}, "colour"),
])
def test_bad_changes_are_refused_and_change_nothing(rt, world, data, field):
    schedule(rt, "sit-drift", rotation=ROTATION)
    before = _read(rt, "sit-drift")
    with pytest.raises(ValidationError) as refused:
        _change(rt, "sit-drift", {"timezone": "UTC", **data})
    assert field in refused.value.errors
    assert _read(rt, "sit-drift") == before


def test_who_may_change_and_name_clashes(rt, world):
    schedule(rt, "sit-drift", rotation=ROTATION)
    schedule(rt, "sit-dag", rotation=ROTATION)
    with pytest.raises(Conflict):
        _change(rt, "sit-drift", {"name": "sit-dag"})
    assert _change(rt, "sit-drift", {"name": "sit-drift"})["name"] == "sit-drift"  # its own
    with pytest.raises(NotPermitted):
        _change(rt, "sit-drift", {"timezone": "UTC"}, as_email="agent@sit.test")
    with pytest.raises(NotFound):
        _change(rt, "nosuch", {"timezone": "UTC"})
    with pytest.raises(ValidationError):
        _change(rt, "sit-drift", ["not", "an", "object"])


def test_a_bad_override_names_its_fields(rt, world):
    schedule(rt, "sit-drift", rotation=ROTATION)
    with pytest.raises(ValidationError) as refused:
        _add(rt, "sit-drift", {"person": "<x>", "start": "tonight", "end": "2026-11-25T06:00:00Z"})
    assert {"person", "start"} <= set(refused.value.errors)
    with pytest.raises(ValidationError) as refused:
        _add(rt, "sit-drift", ["person"])
    assert "_schema" in refused.value.errors
    assert _read(rt, "sit-drift")["overrides"] == []


def test_overrides_to_come_are_capped(rt, world):
    soon = EVENING + timedelta(days=1)
    many = [{"person": "Eva", "start": (soon + timedelta(hours=i)).isoformat(),
             "end": (soon + timedelta(hours=i + 1)).isoformat()}
            for i in range(oncall.MAX_OVERRIDES)]
    schedule(rt, "sit-drift", rotation=ROTATION, overrides=many)
    with pytest.raises(ValidationError):
        _add(rt, "sit-drift", {"person": "Bo", "start": soon.isoformat(),
                               "end": (soon + timedelta(hours=1)).isoformat()})


def test_schedule_changes_over_the_api(rt, world, app):
    s = rt.session_factory()
    admin = directory.create_token(s, directory.user_by_email(s, "admin@sit.test"), now=EVENING)
    agent = directory.create_token(s, directory.user_by_email(s, "agent@sit.test"), now=EVENING)
    s.commit()
    s.close()
    schedule(rt, "sit-drift", rotation=ROTATION)
    a = {"Authorization": f"Bearer {admin}"}
    client = app.test_client()
    changed = client.patch("/api/v1/oncall-schedules/sit-drift", headers=a,
                           json={"rotation": {**ROTATION, "people": ["Carl Ravn"]}})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["rotation"]["people"] == ["Carl Ravn"]
    added = client.post("/api/v1/oncall-schedules/sit-drift/overrides", headers=a, json={
        "person": "Eva Holm", "start": "2030-01-01T18:00:00Z", "end": "2030-01-02T06:00:00Z"})
    assert added.status_code == 201, added.get_json()
    assert [o["person"] for o in added.get_json()["overrides"]] == ["Eva Holm"]
    now = client.get("/api/v1/oncall-schedules/sit-drift/now?at=2030-01-01T19:00:00Z",
                     headers=a).get_json()
    assert (now["on_call"], now["source"]) == ("Eva Holm", "override")
    refused = client.patch("/api/v1/oncall-schedules/sit-drift", headers=a,
                           json={"rotation": {**ROTATION, "weeks": 0}})
    assert refused.status_code == 422 and "rotation" in str(refused.get_json()["errors"])
    assert client.patch("/api/v1/oncall-schedules/nosuch", headers=a,
                        json={"timezone": "UTC"}).status_code == 404
    assert client.post("/api/v1/oncall-schedules/sit-drift/overrides", headers=a,
                       json={"person": "Eva"}).status_code == 422
    assert client.patch("/api/v1/oncall-schedules/sit-drift",
                        headers={"Authorization": f"Bearer {agent}"},
                        json={"timezone": "UTC"}).status_code == 403
    assert client.get("/api/v1/oncall-schedules/sit-drift", headers=a).get_json()[
        "rotation"]["people"] == ["Carl Ravn"]   # the refused calls changed nothing
