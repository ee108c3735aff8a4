"""The admin's paging pages: pager hooks (secret shown once), dead letters sent again, and a
system's escalation levels, through the Flask test client and the real login form, on both
backends."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from itilflow.models import System
from itilflow.models.audit import AccessLogEntry
from itilflow.models.paging import PagerHook
from itilflow.runtime import utcnow
from itilflow.services import directory, paging
from tests.paging.conftest import EVENING, drain, fire, make_hooks, raise_incident
from tests.web.conftest import csrf_of


def _hooks(rt) -> dict[str, str]:
    with rt.session_factory() as s:
        return {h.name: h.secret for h in s.scalars(select(PagerHook))}


def _add_hooks(rt, *names: str) -> None:
    with rt.session_factory() as s:
        actor = directory.load_actor(s, directory.user_by_email(s, "admin@sit.test"))
        for name in names:
            paging.create_hook(s, actor, {"name": name, "url": f"http://127.0.0.1:9/{name}",
                                          "format": "generic"}, now=EVENING)
        s.commit()


def _levels(rt, system: str = "kort", party: str = "provider") -> list[tuple[str, int]]:
    with rt.session_factory() as s:
        found = s.scalar(select(System).where(System.key == system))
        return [(lv.hook.name, lv.delay_seconds) for lv in paging.levels_of(s, found.id, party)]


def _escalation_form(client, party: str = "provider", rows=(), system: str = "kort") -> dict:
    page = client.get(f"/admin/systems/{system}").get_data(as_text=True)
    data = {"csrf_token": csrf_of(page), "party": party}
    for i in range(5):
        hook, delay, unit = rows[i] if i < len(rows) else ("", "", "minutes")
        data.update({f"hook_{i}": hook, f"delay_{i}": delay, f"unit_{i}": unit,
                     f"schedule_{i}": ""})
    return data


def _text(response) -> str:
    """The page's visible text, roughly: tags dropped, whitespace collapsed."""
    return _text_of(response.get_data(as_text=True))


def _text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_admin_adds_a_hook_and_sees_its_secret_only_once(app, world, rt, login):
    client = login("admin@sit.test")
    page = client.get("/admin/pager")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'href="/admin/pager" aria-current="page"' in body and "Access log" in body
    created = client.post("/admin/pager", data={
        "csrf_token": csrf_of(body), "name": "sit-primary", "url": "http://10.0.0.5:8080/page",
        "format": "generic", "routing_key": "", "secret": ""})
    assert created.status_code == 200
    secret = _hooks(rt)["sit-primary"]
    assert secret.startswith("whsec_")
    shown = created.get_data(as_text=True)
    assert secret in shown and "it will not be shown again" in shown
    again = client.get("/admin/pager").get_data(as_text=True)
    assert "sit-primary" in again and "http://10.0.0.5:8080/page" in again
    assert secret not in again and "whsec_" + secret[6:12] not in again

    # the admin's own secret: nothing to show, back to the list
    own = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    kept = client.post("/admin/pager", data={
        "csrf_token": csrf_of(again), "name": "pd", "url": "https://events.pagerduty.com/v2/enqueue",
        "format": "pagerduty", "routing_key": "R0UT1NG", "secret": own})
    assert kept.status_code == 303
    listed = client.get("/admin/pager")
    assert "Pager hook pd created." in listed.get_data(as_text=True)
    assert own not in listed.get_data(as_text=True) and _hooks(rt)["pd"] == own


def test_a_bad_hook_form_answers_with_the_reasons_and_creates_nothing(app, world, rt, login):
    client = login("admin@sit.test")
    token = csrf_of(client.get("/admin/pager").get_data(as_text=True))
    refused = client.post("/admin/pager", data={
        "csrf_token": token, "name": "pd", "url": "ftp://pager.example/x", "format": "pagerduty",
        "routing_key": "", "secret": "not-a-secret"})
    assert refused.status_code == 422
    text = _text(refused)
    assert "An http:// or https:// URL." in text and "Required for the pagerduty format." in text
    assert "followed by base64" in text
    body = refused.get_data(as_text=True)
    assert 'id="url" name="url"' in body and 'aria-describedby="url-hint url-error"' in body
    assert 'value="ftp://pager.example/x"' in body  # what was typed is kept
    assert _hooks(rt) == {}

    _add_hooks(rt, "taken")
    taken = client.post("/admin/pager", data={"csrf_token": token, "name": "taken",
                                              "url": "http://127.0.0.1/x", "format": "generic"})
    assert taken.status_code == 409 and "A pager hook named &#39;taken&#39; exists." in \
        taken.get_data(as_text=True)
    assert list(_hooks(rt)) == ["taken"]


def test_admin_sets_two_escalation_levels_for_the_provider(app, world, rt, login):
    _add_hooks(rt, "sit-l1", "sit-l2")
    client = login("admin@sit.test")
    page = client.get("/admin/systems/kort")
    assert page.status_code == 200 and "No levels: nobody is paged." in page.get_data(as_text=True)
    saved = client.post("/admin/systems/kort/escalation", data=_escalation_form(
        client, rows=[("sit-l1", "5", "minutes"), ("", "", "minutes"), ("sit-l2", "90", "seconds")]))
    assert saved.status_code == 303
    assert saved.headers["Location"].endswith("/admin/systems/kort#escalation")
    assert _levels(rt) == [("sit-l1", 300), ("sit-l2", 90)]
    assert _levels(rt, party="customer") == []
    shown = client.get("/admin/systems/kort")
    table = re.search(r'<table class="tickets compact" id="levels-provider">(.*?)</table>',
                      shown.get_data(as_text=True), re.S).group(1)
    rows = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r)).strip()
            for r in re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]]
    assert rows == ["1 sit-l1 5 min", "2 sit-l2 —"]
    assert "Escalation saved: Provider." in shown.get_data(as_text=True)
    # the form is drawn with the levels in it, ready to change
    body = shown.get_data(as_text=True)
    assert re.search(r'id="provider-hook_0" name="hook_0"\s*>.*?<option selected>sit-l1</option>',
                     body, re.S)
    assert 'id="provider-delay_1" name="delay_1" inputmode="decimal" size="6" value="90"' in body

    # emptied rows remove every level of that party
    cleared = client.post("/admin/systems/kort/escalation", data=_escalation_form(client))
    assert cleared.status_code == 303 and _levels(rt) == []


def test_a_bad_escalation_form_is_a_422_and_changes_nothing(app, world, rt, login):
    _add_hooks(rt, "sit-l1", "sit-l2")
    client = login("admin@sit.test")
    assert client.post("/admin/systems/kort/escalation", data=_escalation_form(
        client, rows=[("sit-l1", "10", "minutes"), ("sit-l2", "0", "minutes")])).status_code == 303
    before = _levels(rt)
    refused = client.post("/admin/systems/kort/escalation", data=_escalation_form(
        client, rows=[("sit-l1", "-5", "minutes"), ("", "", "minutes"), ("nope", "1", "minutes")]))
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert "The escalation policy has invalid fields." in body
    # each reason sits by its own row of the form it came from
    assert re.search(r'name="delay_0"[^>]*aria-invalid="true"', body)
    assert re.search(r'name="hook_2"[^>]*aria-invalid="true"', body)
    assert 'id="delay_0-error">A whole number of seconds from 0 to 604800 (7 days).' in body
    assert 'id="hook_2-error">No pager hook by that name.' in body
    assert 'value="-5"' in body and "<option selected>nope</option>" in body
    assert _levels(rt) == before == [("sit-l1", 600), ("sit-l2", 0)]

    for bad in ({"delay_0": "ten"}, {"unit_0": "hours"}, {"delay_0": "0.001"},
                {"delay_0": "8", "unit_0": "minutes", "party": "everyone"}):
        data = _escalation_form(client, rows=[("sit-l1", "5", "minutes")])
        data.update(bad)
        assert client.post("/admin/systems/kort/escalation", data=data).status_code == 422, bad
    assert _levels(rt) == before
    # in Danish, with a decimal comma: 1,5 minutes are 90 seconds
    data = _escalation_form(client, party="customer", rows=[("sit-l2", "1,5", "minutes")])
    assert client.post("/admin/systems/kort/escalation", data=data,
                       headers={"Accept-Language": "da"}).status_code == 303
    assert _levels(rt, party="customer") == [("sit-l2", 90)] and _levels(rt) == before
    unknown = client.post("/admin/systems/nosuch/escalation", data=data)
    assert unknown.status_code == 404


def test_forms_without_the_csrf_token_are_refused(app, world, rt, login):
    _add_hooks(rt, "sit-l1")
    client = login("admin@sit.test")
    hook = client.post("/admin/pager", data={"name": "x", "url": "http://127.0.0.1/x",
                                             "format": "generic"})
    assert hook.status_code == 400 and "The form has expired" in hook.get_data(as_text=True)
    data = _escalation_form(client, rows=[("sit-l1", "5", "minutes")])
    del data["csrf_token"]
    assert client.post("/admin/systems/kort/escalation", data=data).status_code == 400
    data["csrf_token"] = "forged"
    assert client.post("/admin/systems/kort/escalation", data=data).status_code == 400
    assert client.post("/admin/pager/dead-letters/1/resend").status_code == 400
    assert list(_hooks(rt)) == ["sit-l1"] and _levels(rt) == []


def test_non_admins_get_a_404(app, world, rt, login):
    _add_hooks(rt, "sit-l1")
    for email in ("agent@sit.test", "boss@sit.test", "rep@gst.test", "boss@gst.test"):
        client = login(email)
        token = csrf_of(client.get("/account").get_data(as_text=True))
        assert client.get("/admin/pager").status_code == 404, email
        assert client.post("/admin/pager", data={
            "csrf_token": token, "name": "x", "url": "http://127.0.0.1/x",
            "format": "generic"}).status_code == 404, email
        assert client.post("/admin/systems/kort/escalation", data={
            "csrf_token": token, "party": "provider", "hook_0": "sit-l1",
            "delay_0": "1"}).status_code == 404, email
        assert client.post("/admin/pager/dead-letters/1/resend",
                           data={"csrf_token": token}).status_code == 404, email
        assert client.get("/admin/access-log").status_code == 404, email
    assert list(_hooks(rt)) == ["sit-l1"] and _levels(rt) == []
    with rt.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(PagerHook)) == 1


def test_a_dead_lettered_page_is_sent_again(app, world, rt, login, receiver, relay):
    make_hooks(rt, receiver, delays=(3600,))
    receiver.script = [(410, {}, 0)]  # gone: not retried, dead at once
    number = raise_incident(rt)
    drain(relay, EVENING)
    assert len(receiver.requests) == 1
    first_id = receiver.requests[0]["headers"]["webhook-id"]

    client = login("admin@sit.test")
    page = client.get("/admin/pager")
    dead = re.search(r'<table class="tickets compact" id="dead-letters">(.*?)</table>',
                     page.get_data(as_text=True), re.S).group(1)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dead))
    assert f"{number} 1 kort-provider-l1 1 HTTP 410" in text
    action = re.search(r'action="(/admin/pager/dead-letters/(\d+)/resend)"', dead)
    sent = client.post(action.group(1), data={"csrf_token": csrf_of(page.get_data(as_text=True))})
    assert sent.status_code == 303
    after = client.get("/admin/pager").get_data(as_text=True)
    assert f"Level 1 of {number} will be sent again to kort-provider-l1." in after
    assert "None: every page was delivered." in after

    drain(relay, utcnow() + timedelta(seconds=1))
    assert len(receiver.requests) == 2
    assert receiver.requests[1]["headers"]["webhook-id"] == first_id  # the same message
    # sent already: a second click is refused and says why
    twice = client.post(action.group(1), data={"csrf_token": csrf_of(after)})
    assert twice.status_code == 409
    assert "Only a dead-lettered page can be sent again." in twice.get_data(as_text=True)
    missing = client.post("/admin/pager/dead-letters/99999999999/resend",
                          data={"csrf_token": csrf_of(after)})
    assert missing.status_code == 404 and "No such page." in missing.get_data(as_text=True)
    assert len(receiver.requests) == 2


def test_the_access_log_has_its_admin_tab(app, world, login):
    body = login("admin@sit.test").get("/admin/access-log").get_data(as_text=True)
    assert 'aria-current="page">Access log</a>' in body
    assert '<a href="/admin/pager" >Paging</a>' in body
    assert "<h2>Access log</h2>" in body  # one h1 on the page: the admin's


def test_admin_gives_a_hook_a_new_secret_shown_once(app, rt, world, login):
    _add_hooks(rt, "sit-vagt")
    with rt.session_factory() as s:
        old = s.scalar(select(PagerHook.secret).where(PagerHook.name == "sit-vagt"))
    admin = login("admin@sit.test")
    html = admin.get("/admin/pager").get_data(as_text=True)
    assert 'data-hook="sit-vagt"' in html and old not in html
    rotated = admin.post("/admin/pager/hooks/sit-vagt/secret", data={"csrf_token": csrf_of(html)})
    assert rotated.status_code == 200
    with rt.session_factory() as s:
        new = s.scalar(select(PagerHook.secret).where(PagerHook.name == "sit-vagt"))
    assert new != old and new in _text(rotated) and "has a new signing secret" in _text(rotated)
    assert new not in _text(admin.get("/admin/pager"))  # once
    assert admin.post("/admin/pager/hooks/sit-vagt/secret", data={}).status_code == 400
    assert admin.post("/admin/pager/hooks/nosuch/secret",
                      data={"csrf_token": csrf_of(html)}).status_code == 404
    boss = login("boss@sit.test")
    token = csrf_of(boss.get("/agent").get_data(as_text=True))
    assert boss.post("/admin/pager/hooks/sit-vagt/secret",
                     data={"csrf_token": token}).status_code == 404
    with rt.session_factory() as s:
        assert s.scalar(select(PagerHook.secret).where(PagerHook.name == "sit-vagt")) == new


def test_a_new_secret_says_until_when_the_old_one_still_counts(app, rt, world, login):
    _add_hooks(rt, "sit-vagt")
    admin = login("admin@sit.test")
    html = admin.get("/admin/pager").get_data(as_text=True)
    rotated = admin.post("/admin/pager/hooks/sit-vagt/secret", data={"csrf_token": csrf_of(html)})
    assert rotated.status_code == 200
    with rt.session_factory() as s:
        hook = s.scalar(select(PagerHook).where(PagerHook.name == "sit-vagt"))
        old, until = hook.previous_secret, hook.previous_secret_expires_at
    assert old and timedelta(hours=23) < until - utcnow() <= timedelta(hours=24)
    assert "The old secret stays valid until" in _text(rotated) and old not in _text(rotated)
    listed = _text(admin.get("/admin/pager"))
    assert "old secret valid until" in listed and old not in listed


def test_admin_removes_hooks_refused_while_in_use_deleted_or_retired(app, rt, world, login,
                                                                     receiver, relay):
    make_hooks(rt, receiver, delays=(300,))  # kort-provider-l1, on kort's levels
    _add_hooks(rt, "spare")
    admin = login("admin@sit.test")
    page = admin.get("/admin/pager").get_data(as_text=True)
    row = re.search(r'<tr data-hook="spare"[^>]*>(.*?)</tr>', page, re.S).group(1)
    assert 'action="/admin/pager/hooks/spare/remove"' in row and ">Remove</button>" in row

    used = admin.post("/admin/pager/hooks/kort-provider-l1/remove",
                      data={"csrf_token": csrf_of(page)})
    assert used.status_code == 409
    assert "used by the escalation levels of kort" in _text(used)
    assert admin.post("/admin/pager/hooks/spare/remove", data={}).status_code == 400
    assert admin.post("/admin/pager/hooks/nosuch/remove",
                      data={"csrf_token": csrf_of(page)}).status_code == 404
    boss = login("boss@sit.test")
    token = csrf_of(boss.get("/agent").get_data(as_text=True))
    assert boss.post("/admin/pager/hooks/spare/remove", data={"csrf_token": token}
                     ).status_code == 404
    assert set(_hooks(rt)) == {"kort-provider-l1", "spare"}

    deleted = admin.post("/admin/pager/hooks/spare/remove", data={"csrf_token": csrf_of(page)})
    assert deleted.status_code == 303
    assert "Pager hook spare deleted." in _text(admin.get("/admin/pager"))
    assert set(_hooks(rt)) == {"kort-provider-l1"}

    # a hook that paged is retired: listed as such, without buttons, not offered for levels
    number = raise_incident(rt)
    drain(relay, EVENING)
    with rt.session_factory() as s:
        actor = directory.load_actor(s, directory.user_by_email(s, "admin@sit.test"))
        paging.set_escalation(s, actor, "kort", {"party": "provider", "levels": []})
        s.commit()
    fire(rt, number, "acknowledge")
    retired = admin.post("/admin/pager/hooks/kort-provider-l1/remove",
                         data={"csrf_token": csrf_of(page)})
    assert retired.status_code == 303
    after = admin.get("/admin/pager").get_data(as_text=True)
    assert "Pager hook kort-provider-l1 retired: it pages no more" in _text_of(after)
    row = re.search(r'<tr data-hook="kort-provider-l1"[^>]*>(.*?)</tr>', after, re.S).group(1)
    assert "retired" in row and "<button" not in row
    systems = admin.get("/admin/systems/kort").get_data(as_text=True)
    assert "<option>kort-provider-l1</option>" not in systems
    with rt.session_factory() as s:
        assert s.scalar(select(PagerHook.active)) is False
        logged = [e.path for e in s.scalars(select(AccessLogEntry).where(
            AccessLogEntry.action == "admin_action")) if e.path.endswith("/remove")]
    assert logged == ["/admin/pager/hooks/spare/remove",
                      "/admin/pager/hooks/kort-provider-l1/remove"]
    # in Danish
    da = admin.get("/admin/pager", headers={"Accept-Language": "da"}).get_data(as_text=True)
    assert "udfaset" in da
