"""A phone (390x844, Danish) and assistive technology: no page scrolls sideways, every item of
the top navigation is on screen, the monthly report's charts stay readable and speak the
reader's language, fields are tied to their hints and errors, a refused form says so in the
title, and the admin's buttons say whom they act on. Chromium against a real server on
loopback, as in test_browser.py; the wording and the units over plain HTTP."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

import pytest

from itilflow.services import directory, paging, tickets
from itilflow.web.i18n import DA, gettext
from itilflow.web.reports import duration
from tests.web.conftest import SHOTS, csrf_of, open_page

PHONE = (390, 844)

#: the browser tests: one backend (SQLite) is enough, as in test_browser.py
on_sqlite = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def _page(browser, base: str, email: str, *, viewport=PHONE, locale="da-DK"):
    return open_page(browser, base, email, viewport=viewport, locale=locale)


def _incidents_and_their_notifications(rt) -> None:
    """Incidents on both customers' systems, and what the parties are told of them delivered
    (so the top bar has an unread count)."""
    from itilflow.jobs.context import JobContext
    from itilflow.jobs.relay import Relay

    s = rt.session_factory()
    start = datetime.now(UTC).replace(microsecond=0)
    for age, (email, system, layer, title) in enumerate([
            ("rep@gst.test", "kort", None, "WMS requests time out"),
            ("rep@gst.test", "arkiv", "infrastructure", "Nightly backup failed"),
            ("rep@erst.test", "virk", "operating_system", "Login page very slow")]):
        user = directory.user_by_email(s, email)
        tickets.submit_incident(s, rt.rules, user, directory.load_actor(s, user), {
            "system": system, "environment": "production", "layer": layer, "title": title,
            "description": "Seen by several users.", "impact": 2, "urgency": 2,
            "outage": True}, now=start - timedelta(minutes=10 * (age + 1)))
    s.commit()
    s.close()
    relay = Relay(JobContext(session_factory=rt.session_factory, rules=rt.rules,
                             settings=rt.settings))
    while relay.run_due(datetime.now(UTC) + timedelta(seconds=1)):
        pass


SIDEWAYS = "document.scrollingElement.scrollWidth"
NAV_BOXES = """Array.from(document.querySelectorAll('nav.nav a, nav.nav .count')).map(e => {
  const r = e.getBoundingClientRect();
  return {text: e.textContent.trim(), left: r.left, right: r.right, top: r.top,
          bottom: r.bottom};
})"""
#: the smallest rendered size of any chart text: its font size times the SVG's own scaling
CHART_TEXT_PX = """Math.min(...Array.from(document.querySelectorAll('svg.chart text')).map(t =>
  parseFloat(getComputedStyle(t).fontSize) * t.ownerSVGElement.getScreenCTM().a))"""


@pytest.mark.parametrize(("email", "path"), [
    ("boss@gst.test", "/reports/monthly"), ("boss@gst.test", "/portal"),
    ("rep@gst.test", "/portal"), ("agent@sit.test", "/agent"), ("agent@gst.test", "/agent"),
    ("agent@sit.test", "/reports/monthly"), ("admin@sit.test", "/admin"),
])
@pytest.mark.browser
@on_sqlite
def test_a_phone_never_scrolls_sideways_and_shows_the_whole_navigation(browser, server, app,
                                                                        world, rt, email, path):
    _incidents_and_their_notifications(rt)
    page = _page(browser, server, email)
    page.goto(path)
    width = page.evaluate("innerWidth")
    assert width == PHONE[0]
    assert page.evaluate(SIDEWAYS) <= width, (email, path)
    boxes = page.evaluate(NAV_BOXES)
    assert boxes
    for box in boxes:
        assert box["left"] >= 0 and box["right"] <= width, (email, path, box)
        assert box["top"] >= 0 and box["bottom"] <= PHONE[1], (email, path, box)
    if email != "rep@gst.test":  # reporters have no inbox
        inbox = page.get_by_role("link", name=re.compile("^Beskeder"))
        assert inbox.is_visible()
        link = inbox.bounding_box()
        assert link["x"] >= 0 and link["x"] + link["width"] <= width
        badge = inbox.locator(".count")
        # the customer's team is told of the OS and infrastructure incidents (its I)
        assert badge.count() == 1 or not email.endswith("@gst.test")
        if badge.count():
            box = badge.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= width
    if path == "/reports/monthly":
        assert page.evaluate(CHART_TEXT_PX) >= 11
        # the wide tables scroll inside their own box
        assert page.locator(".table-scroll table").count() >= 3
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"report-phone-da-{email.split('@')[0]}.png"),
                        full_page=True)
    page.context.close()


@pytest.mark.parametrize("locale", ["en-GB", "da-DK"])
@pytest.mark.browser
@on_sqlite
def test_a_refused_incident_form_ties_every_field_to_its_hint_and_error(browser, server, app,
                                                                        world, locale):
    page = _page(browser, server, "rep@gst.test", locale=locale)
    page.goto("/portal/incidents/new")
    # before any error: the hints are tied to their fields already
    assert page.locator("#impact").get_attribute("aria-describedby") == "impact-hint"
    assert page.locator("fieldset[aria-describedby=layer-hint]").count() == 1
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.locator("form[data-once] button[type=submit]").click()
    assert sent.value.status == 422
    page.wait_for_load_state()
    assert page.title().startswith("Error: " if locale == "en-GB" else "Fejl: ")
    described = page.evaluate("""Array.from(document.querySelectorAll('[aria-describedby]')).map(
      e => [e.id || e.tagName, e.getAttribute('aria-describedby').split(/\\s+/).map(
        id => document.getElementById(id) ? document.getElementById(id).textContent.trim()
                                          : null)])""")
    assert described
    for field, texts in described:
        assert all(texts), (field, texts)  # every id named exists and says something
    invalid = page.locator("[aria-invalid=true]")
    assert invalid.count() >= 2  # system, environment, title at least
    for i in range(invalid.count()):
        field = invalid.nth(i)
        ids = (field.get_attribute("aria-describedby") or "").split()
        errors = [x for x in ids if "-error" in x]
        assert errors, field.get_attribute("id")
        assert page.locator(f"#{errors[0]}").get_attribute("class") == "field-error"
    title = page.locator("#title")
    assert title.get_attribute("aria-invalid") == "true"
    assert page.locator(f"#{title.get_attribute('aria-describedby')}").is_visible()
    page.context.close()


@pytest.mark.browser
@on_sqlite
def test_admin_buttons_name_whom_they_act_on_and_deactivation_is_confirmed(browser, server,
                                                                          app, world, rt):
    with rt.session_factory() as s:
        paging.create_hook(s, world.actor(s, "admin@sit.test")[1],
                           {"name": "sit-vagt", "url": "http://10.20.0.5:8080/page",
                            "format": "generic"}, now=datetime.now(UTC))
        s.commit()
    admin = _page(browser, server, "admin@sit.test", viewport=(1280, 900), locale="en-GB")
    admin.goto("/admin")
    row = admin.locator("tr[data-user='agent@gst.test']")
    assert row.locator(".pill").first.inner_text() == "Customer agent"
    # one step opens the confirmation (named for the user), the second deactivates
    admin.locator("summary[aria-label='Deactivate agent@gst.test']").click()
    confirm = admin.get_by_role("button", name="Yes, deactivate agent@gst.test")
    assert confirm.is_visible()
    assert admin.get_by_role("button", name="Yes, deactivate rep@gst.test").is_hidden()
    confirm.click()
    admin.wait_for_url("**/admin")
    assert admin.get_by_text("agent@gst.test is deactivated").is_visible()
    assert admin.get_by_role("button", name="Reactivate agent@gst.test").is_visible()
    admin.goto("/admin/pager")
    assert admin.get_by_role("button", name="New secret for pager hook sit-vagt").is_visible()
    assert admin.get_by_role("button", name="Remove pager hook sit-vagt").is_visible()
    admin.context.close()

    danish = _page(browser, server, "admin@sit.test", viewport=(1280, 900))
    danish.goto("/admin")
    pills = danish.locator("tr[data-user] .pill").all_inner_texts()
    assert "Kundemedarbejder" in pills and "SIT-leder" in pills
    assert not {"customer_agent", "sit_manager", "admin"} & set(pills)
    assert danish.locator("summary[aria-label='Deaktivér rep@gst.test']").is_visible()
    danish.context.close()


# --- over plain HTTP -------------------------------------------------------------------------

def test_working_time_is_counted_in_hours_not_days():
    assert duration(168 * 3600, working=True) == "168 h 00 min"
    assert duration(7 * 86400) == "7 d 0 h"
    assert duration(90 * 60, working=True) == duration(90 * 60) == "1 h 30 min"
    assert duration(None, working=True) == "-"


def test_the_report_page_speaks_danish_in_local_time_and_working_hours(app, world, login):
    month = "2026-11"
    page = login("boss@gst.test").get(f"/reports/monthly?month={month}",
                                      headers={"Accept-Language": "da"})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    charts = " ".join(re.findall(r"<svg class=\"chart\".*?</svg>", text, re.S))
    assert "Kortforsyningen (døgnet rundt)" in charts
    assert "Matrikelarkivet (arbejdstid)" in charts
    assert "working_time" not in charts and "24x7" not in charts and "provider" not in charts
    sub = html.unescape(re.sub(r"<[^>]+>", "", re.search(r'<p class="sub">(.*?)</p>', text,
                                                         re.S).group(1)))
    assert "T" not in sub.split("·", 1)[1] and "+00:00" not in sub
    assert "tal pr. 01 dec. 2026 00:00" in sub  # the end of November, Copenhagen time
    # November 2026 has 21 working days of 8 hours in Copenhagen: 168 working hours
    arkiv = re.search(r"<tr><td>Matrikelarkivet \(arkiv\)</td>.*?</tr>", text, re.S).group(0)
    assert "168 t 00 min" in arkiv and " d " not in arkiv


@pytest.mark.parametrize(("english", "danish"), [
    ("the provider (SIT)", "SIT"),
    ("provider", "SIT"),
    ("SIT (provider)", "SIT"),
    ("Waiting for supplier", "Venter på leverandøren"),
    ("The supplier", "Leverandøren"),
    ("This change already has the approval of the provider (SIT).",
     "Ændringen er allerede godkendt af SIT."),
    ("No open consultation of the provider on installation_test.",
     "Der er ingen åben høring af SIT om Installationsprøve."),
])
def test_danish_names_sit_sit_and_only_a_third_party_a_supplier(app, english, danish):
    with app.test_request_context(headers={"Accept-Language": "da"}):
        assert gettext(english) == danish


def test_leverandoer_only_ever_means_a_third_party_supplier():
    """"Leverandøren" in a customer's Danish is the supplier working for it, never SIT."""
    for english, text in DA.items():
        if "leverandør" in text.lower():
            assert "supplier" in english.lower(), (english, text)
        if re.search(r"\bprovider", english, re.I):
            assert "leverandør" not in text.lower(), (english, text)


class _Tags(HTMLParser):
    """Every start tag's attributes as the page wrote them, repeats included."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))


def _described(body: str) -> dict[str, list[str]]:
    parser = _Tags()
    parser.feed(body)
    found = {}
    for tag, attrs in parser.tags:
        names = [name for name, _value in attrs]
        assert len(names) == len(set(names)), (tag, attrs)  # a browser keeps only the first
        values = dict(attrs)
        if values.get("aria-describedby") and values.get("id"):
            found[values["id"]] = values["aria-describedby"].split()
    return found


def test_refused_admin_forms_tie_each_field_to_its_hint_and_its_error(app, world, login):
    """The pager hook and system forms wrote a field's hint by hand beside the error the macro
    adds: two aria-describedby attributes, of which a browser reads only the first (the hint),
    so a screen reader never heard the error."""
    admin = login("admin@sit.test")
    pager = admin.get("/admin/pager").get_data(as_text=True)
    assert _described(pager)["url"] == ["url-hint"]
    refused = admin.post("/admin/pager", data={
        "csrf_token": csrf_of(pager), "name": "vagt", "url": "not a url", "format": "generic"})
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert _described(body)["url"] == ["url-hint", "url-error"]
    assert 'id="url-error"' in body
    systems = admin.get("/admin/systems").get_data(as_text=True)
    refused = admin.post("/admin/systems", data={
        "csrf_token": csrf_of(systems), "key": "ny", "name": "Ny", "customer": "GST",
        "environments": ",".join(f"env{i}" for i in range(30))})
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert _described(body)["s-envs"] == ["s-envs-hint", "environments-error"]
    assert 'id="environments-error"' in body
