"""QA round 2 on paging and on-call, over HTTP on both backends: iCal recurrences too frequent
to expand are refused quickly, a second rotation keeps the secret the receiver uses, names that
cannot be a path segment are refused, concurrent schedule changes serialise, the refusal to
remove a hook in use is Danish in the Danish UI, and an override already over is refused."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import select

from itilflow.domain import oncall as rules_of_oncall
from itilflow.domain import paging as rules_of_paging
from itilflow.models.paging import PagerHook
from itilflow.services import directory
from tests.paging.conftest import make_hooks
from tests.threaded import at_once, serve
from tests.web.conftest import csrf_of, sign_in

ADMIN = "admin@sit.test"


def _ics(rule: str, start: str) -> str:
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//qa//EN\r\nBEGIN:VEVENT\r\nUID:1\r\n"
            f"DTSTART:{start}\r\nDTEND:{start[:9]}003000Z\r\nSUMMARY:Anne\r\nRRULE:{rule}\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n")


@pytest.fixture
def headers(rt, world) -> dict[str, str]:
    with rt.session_factory() as s:
        token = directory.create_token(s, directory.user_by_email(s, ADMIN), now=datetime.now(UTC),
                                       name="tests")
        s.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def login(app):
    """A test client signed in through the login form (the sign-in limiter reset first)."""
    app.extensions["itilflow_limiter"].reset()

    def make(email: str):
        signed_in = app.test_client()
        sign_in(signed_in, email)
        return signed_in
    return make


def _schedule(client, headers, name="sit-drift", **data):
    body = {"name": name, "rotation": {"people": ["Anne"], "handover": "mon 08:00"}, **data}
    return client.post("/api/v1/oncall-schedules", headers=headers, json=body)


# --- 2: recurrences too frequent to expand ---------------------------------------------------

BY_EVERY_MINUTE = "FREQ=DAILY;BYHOUR=" + ",".join(map(str, range(24))) + ";BYMINUTE=" + \
    ",".join(map(str, range(60)))


@pytest.mark.parametrize("rule, start", [
    ("FREQ=SECONDLY", "19700101T000000Z"),          # the report's: never answered
    ("FREQ=SECONDLY", "20261201T000000Z"),          # accepted, then /now took 40 s
    ("FREQ=MINUTELY", "20261201T000000Z"),
    ("FREQ=HOURLY;BYMINUTE=0,10,20,30,40,50", "19700101T000000Z"),
    (BY_EVERY_MINUTE, "19700101T000000Z"),
])
def test_a_recurrence_more_often_than_48_a_day_is_refused_quickly(client, headers, rule, start):
    began = time.monotonic()
    created = _schedule(client, headers, ical=_ics(rule, start))
    assert created.status_code == 422, created.get_json()
    assert "a day" in created.get_json()["errors"]["ical"][0]
    assert _schedule(client, headers).status_code == 201
    patched = client.patch("/api/v1/oncall-schedules/sit-drift", headers=headers,
                           json={"ical": _ics(rule, start)})
    assert patched.status_code == 422 and "ical" in patched.get_json()["errors"]
    assert time.monotonic() - began < 5


def test_a_weekly_rotation_with_rdate_and_exdate_still_works(client, headers):
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//qa//EN\r\nBEGIN:VEVENT\r\nUID:1\r\n"
           "DTSTART:20261109T070000Z\r\nDTEND:20261109T190000Z\r\nSUMMARY:Anne\r\n"
           "RRULE:FREQ=WEEKLY;BYDAY=MO\r\nRDATE:20261125T070000Z\r\n"
           "EXDATE:20261123T070000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    assert _schedule(client, headers, ical=ics).status_code == 201

    def source(at: str) -> str:
        return client.get(f"/api/v1/oncall-schedules/sit-drift/now?at={at}",
                          headers=headers).get_json()["source"]
    assert source("2026-11-16T10:00:00Z") == "ical"       # the weekly rule
    assert source("2026-11-23T10:00:00Z") == "rotation"   # EXDATE
    assert source("2026-11-25T10:00:00Z") == "ical"       # RDATE


def test_a_frequent_rule_must_not_start_decades_ago(client, headers):
    """Each lookup runs a rule from its DTSTART: half-hour shifts since 1970 cost 7 s a page."""
    for rule in ("FREQ=HOURLY;BYMINUTE=0,30", "FREQ=HOURLY"):
        refused = _schedule(client, headers, ical=_ics(rule, "19700101T000000Z"))
        assert refused.status_code == 422
        assert "Start it later" in refused.get_json()["errors"]["ical"][0]
    recent = (datetime.now(UTC) - timedelta(days=30)).strftime("%Y%m%dT000000Z")
    assert _schedule(client, headers, ical=_ics("FREQ=HOURLY;BYMINUTE=0,30", recent)
                     ).status_code == 201
    assert _schedule(client, headers, name="daily", ical=_ics("FREQ=DAILY", "19700101T000000Z")
                     ).status_code == 201
    began = time.monotonic()
    assert client.get("/api/v1/oncall-schedules/sit-drift/now", headers=headers).status_code == 200
    far = client.get("/api/v1/oncall-schedules/sit-drift/now?at=2999-01-01T00:00:00Z",
                     headers=headers)
    assert far.status_code == 422 and "Start it later" in far.get_json()["errors"]["at"][0]
    assert time.monotonic() - began < 2


def test_thirty_minute_shifts_are_the_most_allowed():
    rules_of_oncall.parse_ics(_ics("FREQ=HOURLY;BYMINUTE=0,30", "20261201T000000Z"))
    with pytest.raises(rules_of_oncall.ScheduleError):
        rules_of_oncall.parse_ics(_ics("FREQ=HOURLY;BYMINUTE=0,20,40", "20261201T000000Z"))


# --- 6: a second rotation during the overlap ------------------------------------------------

def _hook(rt, name="sit-vagt") -> PagerHook:
    with rt.session_factory() as s:
        return s.scalar(select(PagerHook).where(PagerHook.name == name))


def test_a_double_click_on_new_secret_keeps_the_secret_the_pager_uses(app, rt, world, login,
                                                                      client, headers):
    client.post("/api/v1/pager-hooks", headers=headers,
                json={"name": "sit-vagt", "url": "http://127.0.0.1:9/x", "format": "generic"})
    original = _hook(rt).secret
    admin = login(ADMIN)
    token = csrf_of(admin.get("/admin/pager").get_data(as_text=True))
    first = admin.post("/admin/pager/hooks/sit-vagt/secret", data={"csrf_token": token})
    after_first = _hook(rt)
    second = admin.post("/admin/pager/hooks/sit-vagt/secret", data={"csrf_token": token})
    assert first.status_code == second.status_code == 200
    hook = _hook(rt)
    assert hook.secret in second.get_data(as_text=True)
    assert (hook.previous_secret, hook.previous_secret_expires_at) == (
        original, after_first.previous_secret_expires_at)
    now = datetime.now(UTC)
    live = rules_of_paging.live_secrets(hook.secret, hook.previous_secret,
                                        hook.previous_secret_expires_at, now)
    assert live == [hook.secret, original] and after_first.secret not in live
    # and through the API
    for _ in range(2):
        assert client.patch("/api/v1/pager-hooks/sit-vagt", headers=headers,
                            json={"secret": None}).status_code == 200
    assert _hook(rt).previous_secret == original


def test_eight_rotations_at_once_keep_the_original_secret(app, rt, client, headers):
    client.post("/api/v1/pager-hooks", headers=headers,
                json={"name": "sit-vagt", "url": "http://127.0.0.1:9/x", "format": "generic"})
    original = _hook(rt).secret
    with serve(app) as base:
        def rotate():
            return requests.patch(f"{base}/api/v1/pager-hooks/sit-vagt", headers=headers,
                                  json={"secret": None}, timeout=60)
        answers = at_once([rotate] * 8)
    assert [a.status_code for a in answers] == [200] * 8
    hook = _hook(rt)
    assert hook.previous_secret == original
    assert hook.secret in {a.json()["secret"] for a in answers}


# --- 7: names that are path segments -------------------------------------------------------

BAD_NAMES = ["a/b", "/", ".", "..", " .. "]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_pager_hook_name_must_be_a_path_segment(client, headers, name):
    refused = client.post("/api/v1/pager-hooks", headers=headers,
                          json={"name": name, "url": "http://127.0.0.1:9/x", "format": "generic"})
    assert refused.status_code == 422
    assert refused.get_json()["errors"]["name"] == ['Without "/", and not "." or "..".']


def test_a_bad_hook_name_on_the_admin_page_is_named_in_danish(app, rt, world, login):
    admin = login(ADMIN)
    token = csrf_of(admin.get("/admin/pager").get_data(as_text=True))
    refused = admin.post("/admin/pager", headers={"Accept-Language": "da"}, data={
        "csrf_token": token, "name": "a/b", "url": "http://127.0.0.1:9/x", "format": "generic"})
    assert refused.status_code == 422
    assert 'Uden "/", og ikke "." eller "..".' in refused.get_data(as_text=True).replace(
        "&#34;", '"').replace("&quot;", '"')


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_schedule_name_must_be_a_path_segment(client, headers, name):
    refused = _schedule(client, headers, name=name)
    assert refused.status_code == 422 and "name" in refused.get_json()["errors"]
    assert _schedule(client, headers).status_code == 201
    renamed = client.patch("/api/v1/oncall-schedules/sit-drift", headers=headers,
                           json={"name": name})
    assert renamed.status_code == 422 and "name" in renamed.get_json()["errors"]
    assert client.get("/api/v1/oncall-schedules/sit-drift", headers=headers).status_code == 200


# --- 8: concurrent changes of one schedule --------------------------------------------------

def test_concurrent_patches_and_overrides_serialise(app, rt, client, headers):
    assert _schedule(client, headers).status_code == 201
    soon = datetime.now(UTC) + timedelta(days=1)

    def item(person: str, hours: int) -> dict[str, str]:
        return {"person": person, "start": (soon + timedelta(hours=hours)).isoformat(),
                "end": (soon + timedelta(hours=hours + 1)).isoformat()}

    lists = {i: [item(f"patch{i} n{k}", k) for k in range(3)] for i in range(6)}
    with serve(app) as base:
        url = f"{base}/api/v1/oncall-schedules/sit-drift"

        def patch(i):
            return lambda: requests.patch(url, headers=headers, json={"overrides": lists[i]},
                                          timeout=60)

        def add(j):
            return lambda: requests.post(f"{url}/overrides", headers=headers,
                                         json=item(f"added n{j}", 10 + j), timeout=60)
        answers = at_once([patch(i) for i in range(6)] + [add(j) for j in range(4)])
    assert sorted(a.status_code for a in answers) == [200] * 6 + [201] * 4
    final = client.get("/api/v1/oncall-schedules/sit-drift", headers=headers).get_json()
    people = [o["person"] for o in final["overrides"]]
    patched = [p for p in people if p.startswith("patch")]
    # one PATCH's list, whole and first; only overrides added after it follow
    assert len(patched) == 3 and len({p.split()[0] for p in patched}) == 1, people
    assert people[:3] == patched and all(p.startswith("added") for p in people[3:]), people


# --- 9: the refusal to remove a hook in use, in Danish ---------------------------------------

def test_the_refusal_to_remove_a_hook_in_use_is_danish(app, rt, world, login, receiver):
    make_hooks(rt, receiver, delays=(300,))  # kort-provider-l1 on kort's levels
    admin = login(ADMIN)
    token = csrf_of(admin.get("/admin/pager").get_data(as_text=True))
    refused = admin.post("/admin/pager/hooks/kort-provider-l1/remove",
                         data={"csrf_token": token}, headers={"Accept-Language": "da"})
    assert refused.status_code == 409
    text = refused.get_data(as_text=True)
    assert "Personsøger-hooken bruges af eskaleringsniveauerne for kort: fjern den fra dem " \
           "først." in text
    assert "used by the escalation levels" not in text


# --- 13: an override already over ----------------------------------------------------------

def test_an_override_that_has_already_ended_is_refused(client, headers):
    assert _schedule(client, headers).status_code == 201
    url = "/api/v1/oncall-schedules/sit-drift/overrides"
    past = client.post(url, headers=headers, json={
        "person": "Bo", "start": "2020-01-01T00:00:00Z", "end": "2020-01-02T00:00:00Z"})
    assert past.status_code == 422
    assert past.get_json()["errors"] == {"end": ["The override has already ended."]}
    now = datetime.now(UTC)
    running = client.post(url, headers=headers, json={
        "person": "Bo", "start": (now - timedelta(hours=1)).isoformat(),
        "end": (now + timedelta(hours=1)).isoformat()})
    assert running.status_code == 201
    assert [o["person"] for o in running.get_json()["overrides"]] == ["Bo"]
