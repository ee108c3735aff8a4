"""The notifications inbox: what an organisation was told (the I of the matrix), over the API,
kept to the caller's organisation, with the team's read mark; security alerts for admins only."""

from __future__ import annotations

from datetime import timedelta

from itilflow.domain.access import Actor
from itilflow.domain.parties import Role
from itilflow.jobs.context import JobContext
from itilflow.jobs.relay import Relay
from itilflow.runtime import utcnow
from itilflow.services import directory, notifications
from tests.web.conftest import csrf_of


def _deliver(rt):
    """Run the outbox as the worker would (the test app runs no relay of its own)."""
    relay = Relay(JobContext(session_factory=rt.session_factory, rules=rt.rules,
                             settings=rt.settings))
    while relay.run_due(utcnow() + timedelta(seconds=1)):
        pass


def _raise_two(api, rt):
    gst = api.incident("rep@gst.test", title="GST map down", layer="operating_system")
    erst = api.incident("rep@erst.test", system="virk", title="ERST portal down",
                        layer="operating_system")
    _deliver(rt)
    return gst["number"], erst["number"]


def _inbox(api, email, **query):
    answer = api.get("/notifications", email, query_string=query)
    assert answer.status_code == 200, answer.json
    return answer.json


def test_each_organisation_reads_only_its_own_inbox(api, rt):
    gst, erst = _raise_two(api, rt)
    mine = _inbox(api, "agent@gst.test")["items"]
    assert mine and all(gst in n["message"] and n["party"] == "customer" for n in mine)
    assert all(n["read_at"] is None and n["ticket_id"] for n in mine)
    theirs = _inbox(api, "boss@erst.test")["items"]
    assert theirs and all(erst in n["message"] for n in theirs)
    assert not {n["id"] for n in mine} & {n["id"] for n in theirs}
    # the customers are the I of an operating system incident; SIT, its R, works it from the
    # queue and is told nothing here
    assert all(n["party"] == "provider" for n in _inbox(api, "agent@sit.test")["items"])
    # reporters follow their tickets and suppliers have none: no inbox; no token: 401
    assert api.get("/notifications", "rep@gst.test").status_code == 403
    assert api.get("/notifications", "sup@supplier.test").status_code == 403
    assert api.get("/notifications").status_code == 401


def test_marking_read_is_shared_by_the_team_and_stays_in_the_inbox(api, rt):
    _raise_two(api, rt)
    first = _inbox(api, "agent@gst.test")["items"][0]["id"]
    erst_ids = [n["id"] for n in _inbox(api, "agent@erst.test")["items"]]
    # another organisation's ids are ignored: nothing of theirs changes
    answer = api.post("/notifications/read", "boss@gst.test", {"ids": [first, *erst_ids]})
    assert answer.status_code == 200 and answer.json == {"marked": 1}
    seen = {n["id"]: n["read_at"] for n in _inbox(api, "agent@gst.test")["items"]}
    assert seen[first] is not None
    assert all(n["read_at"] is None for n in _inbox(api, "agent@erst.test")["items"])
    unread = sum(1 for v in seen.values() if v is None)
    assert api.post("/notifications/read", "agent@gst.test", {}).json == {"marked": unread}
    assert api.post("/notifications/read", "agent@gst.test", {}).json == {"marked": 0}
    assert all(n["read_at"] for n in _inbox(api, "agent@gst.test")["items"])


def test_bad_input_is_refused_and_changes_nothing(api, rt):
    _raise_two(api, rt)
    for body in ({"ids": "all"}, {"ids": [0]}, {"ids": [True]}, {"ids": list(range(1, 502))},
                 {"everything": True}):
        answer = api.post("/notifications/read", "agent@gst.test", body)
        assert answer.status_code == 422, (body, answer.json)
        assert answer.json["status"] == 422
    for before in ("abc", "0", "-3", "99999999999999", "²"):
        answer = api.get("/notifications", "agent@gst.test", query_string={"before": before})
        assert answer.status_code == 422, before
    assert all(n["read_at"] is None for n in _inbox(api, "agent@gst.test")["items"])


def test_pages_go_back_in_time_without_overlap(api, rt):
    for i in range(5):
        api.incident("rep@gst.test", title=f"Incident {i}", layer="operating_system")
    _deliver(rt)
    s = rt.session_factory()
    agent = directory.user_by_email(s, "agent@gst.test")
    actor = directory.load_actor(s, agent)
    everything, more = notifications.inbox(s, actor, limit=100)
    assert more is None and len(everything) >= 5
    pages, before = [], None
    while True:
        rows, before = notifications.inbox(s, actor, before=before, limit=2)
        pages.append([n.id for n in rows])
        if before is None:
            break
    s.close()
    assert [i for page in pages for i in page] == [n.id for n in everything]
    assert all(len(page) <= 2 for page in pages)
    api_page = _inbox(api, "agent@gst.test", before=pages[0][-1])
    assert [n["id"] for n in api_page["items"]] == [n.id for n in everything][2:]


def test_failed_login_alert_reaches_the_admins_inbox_only(app, api, rt):
    client = app.test_client()
    token = csrf_of(client.get("/login").get_data(as_text=True))
    for _ in range(rt.settings.login_alert_failures):
        client.post("/login", data={"email": "nobody@x.test", "password": "guess",
                                    "csrf_token": token})
    _deliver(rt)
    alerts = [n for n in _inbox(api, "admin@sit.test")["items"] if n["ticket_id"] is None]
    assert len(alerts) == 2  # the account and the address each crossed the threshold
    assert all(n["event"] == "failed_logins" and "failed logins" in n["message"] for n in alerts)
    assert not [n for n in _inbox(api, "agent@sit.test")["items"] if n["ticket_id"] is None]
    s = rt.session_factory()
    admin = directory.user_by_email(s, "admin@sit.test")
    assert notifications.unread_count(s, directory.load_actor(s, admin)) == 2
    reporter = Actor(user_id=1, role=Role.REPORTER, organisation_id=admin.organisation_id)
    assert notifications.unread_count(s, reporter) == 0
    s.close()
