"""The UI in a real browser: Playwright driving Debian's Chromium against a real server on
loopback. One backend (SQLite) is enough here; the service rules run on both elsewhere.
Screenshots go to test-artifacts/screenshots/."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from itilflow.models import Ticket
from itilflow.services import directory, tickets
from tests.web.conftest import SHOTS, open_page

pytestmark = [pytest.mark.browser, pytest.mark.parametrize("backend", ["sqlite"], indirect=True)]

def _seed_queue(rt) -> None:
    """A few tickets of several priorities and layers, reported over the last hours, so the
    queue looks like a real day (nothing asserts on these times)."""
    s = rt.session_factory()
    start = datetime.now(UTC).replace(microsecond=0)
    rows = [
        ("rep@gst.test", "kort", "production", None, 1, 1, "WMS requests time out", True),
        ("rep@erst.test", "virk", "production", "operating_system", 2, 2, "Login page very slow",
         False),
        ("rep@gst.test", "arkiv", "production", "infrastructure", 2, 3, "Nightly backup failed",
         False),
        ("rep@gst.test", "kort", "test", None, 3, 3, "Typo on the status page", False),
        ("rep@erst.test", "virk", "production", None, 1, 2, "Certificate expires Friday", False),
    ]
    for age, (email, system, env, layer, impact, urgency, title, outage) in zip(
            (300, 200, 120, 45, 10), rows, strict=True):
        user = directory.user_by_email(s, email)
        tickets.submit_incident(s, rt.rules, user, directory.load_actor(s, user), {
            "system": system, "environment": env, "layer": layer, "title": title,
            "description": "Seen by several users since this morning.", "impact": impact,
            "urgency": urgency, "outage": outage}, now=start - timedelta(minutes=age))
    s.commit()
    s.close()


def _ticket_count(rt) -> int:
    with rt.session_factory() as s:
        return s.scalar(select(func.count()).select_from(Ticket))


def test_incident_from_portal_to_triage_to_the_customers_queue(browser, server, app, world, rt):
    SHOTS.mkdir(parents=True, exist_ok=True)
    _seed_queue(rt)

    # a customer reports an incident
    customer = open_page(browser, server, "rep@gst.test")
    assert customer.url.endswith("/portal")
    customer.get_by_role("link", name="Report an incident").first.click()
    customer.get_by_label("System", exact=True).select_option("kort")
    customer.get_by_label("Environment", exact=True).select_option("production")
    customer.get_by_label("Title", exact=True).fill("Map tiles do not load")
    customer.get_by_label("Description", exact=True).fill("Since 09:10 the map shows grey tiles for everyone "
                                              "in the office.")
    customer.get_by_label("Impact", exact=True).select_option("2")
    customer.get_by_label("Urgency", exact=True).select_option("1")
    customer.get_by_role("checkbox", name=re.compile("^Outage")).check()
    customer.screenshot(path=str(SHOTS / "portal-form.png"), full_page=True)
    customer.get_by_role("button", name="Send incident").click()
    customer.wait_for_url("**/tickets/INC-*")
    number = customer.url.rsplit("/", 1)[1]
    assert customer.get_by_text(f"Incident {number} is registered.").is_visible()
    customer.goto("/portal")
    row = customer.locator("tr", has_text=number)
    assert row.is_visible() and "SIT service desk" in row.inner_text()

    # SIT's service desk sees it in triage and hands it over to the customer (application)
    agent = open_page(browser, server, "agent@sit.test")
    assert agent.url.endswith("/agent")
    assert agent.locator("#queue-rows tr", has_text=number).is_visible()
    agent.screenshot(path=str(SHOTS / "agent-queue.png"), full_page=True)
    agent.keyboard.press("/")  # search, then j and Enter open the ticket: keyboard only
    assert agent.evaluate("document.activeElement.id") == "q"
    agent.keyboard.type(number)
    agent.keyboard.press("Enter")
    agent.wait_for_url("**q=INC-*")
    assert agent.locator("#queue-rows tr[data-href]").count() == 1
    agent.keyboard.press("j")
    agent.keyboard.press("Enter")
    agent.wait_for_url(f"**/tickets/{number}")
    assert agent.get_by_text("Who does what (RACI)").is_visible()
    agent.locator("summary[data-trigger=reclassify]").click()
    agent.locator("#reclassify-layer").select_option("application")
    agent.locator("#reclassify-comment").fill("The tile renderer of the application crashes; the servers "
                                   "are fine.")
    agent.get_by_role("button", name="Reclassify layer").click()
    agent.wait_for_load_state()
    assert agent.get_by_text("handed over from SIT to the customer").is_visible()
    agent.goto("/agent?queue=triage")
    assert agent.locator("#queue-rows tr", has_text=number).count() == 0

    # the customer's own agent has it in the customer's queue
    customer_agent = open_page(browser, server, "agent@gst.test")
    customer_agent.goto("/agent?queue=mine")
    assert customer_agent.locator("#queue-rows tr", has_text=number).is_visible()
    customer_agent.locator("#queue-rows a", has_text=number).click()
    customer_agent.get_by_role("button", name="Assign to me").click()
    customer_agent.wait_for_load_state()
    customer_agent.locator("#comment-body").fill("Restarting the renderer now.")
    customer_agent.get_by_role("button", name="Comment", exact=True).click()
    customer_agent.wait_for_load_state()
    customer_agent.screenshot(path=str(SHOTS / "ticket.png"), full_page=True)

    # a customer of another organisation gets a 404
    stranger = open_page(browser, server, "rep@erst.test")
    response = stranger.goto(f"/tickets/{number}")
    assert response.status == 404

    # and the portal works on a phone
    phone = open_page(browser, server, "rep@gst.test", viewport=(390, 844), locale="da-DK")
    phone.goto("/portal/incidents/new")
    assert phone.get_by_label("System", exact=True).is_visible()
    phone.screenshot(path=str(SHOTS / "portal-form-phone-da.png"), full_page=True)
    for page in (customer, agent, customer_agent, stranger, phone):
        page.context.close()


def test_forms_refuse_a_missing_csrf_token(browser, server, app, world, rt):
    page = open_page(browser, server, "rep@gst.test")
    page.goto("/portal/incidents/new")
    page.get_by_label("System", exact=True).select_option("kort")
    page.get_by_label("Environment", exact=True).select_option("production")
    page.get_by_label("Title", exact=True).fill("Without a token")
    page.evaluate("document.querySelector('form[data-once] input[name=csrf_token]').remove()")
    with page.expect_response(lambda r: r.request.method == "POST") as sent:
        page.get_by_role("button", name="Send incident").click()
    assert sent.value.status == 400
    assert page.get_by_text("The form has expired").is_visible()
    assert _ticket_count(rt) == 0
    page.context.close()


def test_login_throttles_password_guessing(browser, server, app, world):
    page = open_page(browser, server)
    statuses = []
    for attempt in range(12):
        page.goto("/login")
        page.get_by_label("Email", exact=True).fill("rep@gst.test")
        page.get_by_label("Password", exact=True).fill(f"guess-{attempt}")
        with page.expect_response(lambda r: r.request.method == "POST") as sent:
            page.get_by_role("button", name="Sign in").click()
        statuses.append(sent.value.status)
    assert statuses[0] == 401 and statuses[-1] == 429
    assert page.get_by_text("Too many attempts").first.is_visible()
    page.context.close()


def test_the_inbox_tells_the_team_and_clears(browser, server, app, world, rt):
    """What the customer's team is told (the I of an operating system incident) shows in the top
    bar's count and on the notifications page; marking all read clears the count."""
    from itilflow.jobs.context import JobContext
    from itilflow.jobs.relay import Relay

    SHOTS.mkdir(parents=True, exist_ok=True)
    _seed_queue(rt)
    relay = Relay(JobContext(session_factory=rt.session_factory, rules=rt.rules,
                             settings=rt.settings))
    while relay.run_due(datetime.now(UTC) + timedelta(seconds=1)):
        pass
    agent = open_page(browser, server, "agent@gst.test")
    link = agent.get_by_role("link", name=re.compile("^Notifications"))
    badge = link.locator(".count")
    assert badge.is_visible()
    unread = int(badge.inner_text())
    assert unread >= 1
    link.click()
    agent.wait_for_url("**/notifications")
    rows = agent.locator("table.notifications tbody tr.unread")
    assert rows.count() == unread
    assert "WMS requests time out" in agent.locator("table.notifications").inner_text()
    assert "Login page very slow" not in agent.content()  # ERST's ticket: not GST's inbox
    agent.screenshot(path=str(SHOTS / "notifications.png"), full_page=True)
    agent.get_by_role("button", name="Mark all as read").click()
    agent.wait_for_load_state()
    assert agent.get_by_text(f"Marked as read: {unread}.").is_visible()
    assert agent.locator("table.notifications tbody tr.unread").count() == 0
    assert agent.get_by_role("link", name=re.compile("^Notifications")).locator(".count").count() == 0
    agent.context.close()


def test_admin_adds_a_pager_hook_and_an_escalation_level(browser, server, app, world, rt):
    """The admin adds a hook on the Paging tab (its secret shown once), then pages it at level 1
    of a system's provider escalation."""
    from itilflow.models import System
    from itilflow.services import paging

    SHOTS.mkdir(parents=True, exist_ok=True)
    admin = open_page(browser, server, "admin@sit.test")
    admin.get_by_role("link", name="Paging", exact=True).click()
    admin.wait_for_url("**/admin/pager")
    admin.get_by_label("Name", exact=True).fill("sit-vagt")
    admin.get_by_label("Address (URL)", exact=True).fill("http://10.20.0.5:8080/page")
    admin.get_by_label("Format", exact=True).select_option("generic")
    admin.get_by_role("button", name="Add pager hook").click()
    admin.wait_for_load_state()
    secret = admin.locator("#new-secret code.token").inner_text()
    assert secret.startswith("whsec_")
    assert admin.locator("#hooks tr", has_text="sit-vagt").is_visible()
    admin.screenshot(path=str(SHOTS / "admin-paging.png"), full_page=True)
    admin.reload()
    assert admin.locator("#new-secret").count() == 0 and secret not in admin.content()

    admin.get_by_role("link", name="Systems", exact=True).click()
    admin.locator("tr", has_text="Kortforsyningen").get_by_role("link", name="Edit").click()
    admin.wait_for_url("**/admin/systems/kort")
    admin.get_by_label("Pager hook of level 1").first.select_option("sit-vagt")
    admin.get_by_label("Wait before the next level, level 1").first.fill("15")
    admin.get_by_role("button", name="Save the provider's levels").click()
    admin.wait_for_url("**/admin/systems/kort#escalation")
    assert admin.get_by_text("Escalation saved: Provider.").is_visible()
    row = admin.locator("#levels-provider tbody tr").first
    assert row.inner_text().split("\t")[:2] == ["1", "sit-vagt"]
    admin.locator("#escalation").screenshot(path=str(SHOTS / "admin-escalation.png"))
    with rt.session_factory() as s:
        kort = s.scalar(select(System).where(System.key == "kort"))
        assert [(lv.hook.name, lv.delay_seconds) for lv in paging.levels_of(s, kort.id, "provider")] \
            == [("sit-vagt", 900)]
    admin.context.close()


def test_sit_agent_logs_a_callers_incident_from_the_workspace(browser, server, app, world, rt):
    """A caller phones SIT's service desk: the agent logs the incident from /agent and lands on
    its ticket page; without a layer it waits in SIT's triage queue."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    agent = open_page(browser, server, "agent@sit.test")
    assert agent.url.endswith("/agent")
    agent.get_by_role("link", name="New incident").click()
    agent.wait_for_url("**/agent/new/incident")
    agent.get_by_label("System", exact=True).select_option("kort")
    agent.get_by_label("Environment", exact=True).select_option("production")
    assert agent.get_by_role("radio", name="don't know").is_checked()
    agent.get_by_label("Title", exact=True).fill("Caller: the map shows grey tiles")
    agent.get_by_label("Description", exact=True).fill("Jens Hansen (GST, 7254 5000) called at "
                                                       "09:12: grey tiles in the web map.")
    agent.get_by_label("Impact", exact=True).select_option("2")
    agent.get_by_label("Urgency", exact=True).select_option("2")
    agent.screenshot(path=str(SHOTS / "agent-new-incident.png"), full_page=True)
    agent.get_by_role("button", name="Log incident").click()
    agent.wait_for_url("**/tickets/INC-*")
    number = agent.url.rsplit("/", 1)[1]
    assert agent.get_by_text(f"Incident {number} is registered.").is_visible()
    assert agent.get_by_role("heading", name=re.compile("Caller: the map shows grey tiles")).is_visible()
    agent.screenshot(path=str(SHOTS / "agent-new-incident-ticket.png"), full_page=True)
    agent.goto("/agent?queue=triage")
    assert agent.locator("#queue-rows tr", has_text=number).is_visible()
    assert _ticket_count(rt) == 1
    agent.context.close()


def test_the_consulted_customer_reads_the_question_on_the_change(browser, server, app, world,
                                                                  rt):
    """The customer's manager opens a change SIT consults them on: the question, the planned
    window and the approval still needed are on the page, next to the action that answers."""
    from tests.web.test_ticket_page import QUESTION, _change_waiting_on_the_customer

    SHOTS.mkdir(parents=True, exist_ok=True)
    number = _change_waiting_on_the_customer(rt)
    manager = open_page(browser, server, "boss@gst.test")
    manager.goto(f"/tickets/{number}")
    consultations = manager.locator("section.consultations")
    assert QUESTION in consultations.inner_text()
    assert consultations.get_by_text("Your answer is needed").is_visible()
    change = manager.locator("section.change-card").inner_text()
    assert "08 Dec 2026 10:00" in change and "approval pending" in change
    assert manager.locator("summary[data-trigger=answer_consultation]").is_visible()
    manager.screenshot(path=str(SHOTS / "ticket-change-consulted.png"), full_page=True)
    manager.context.close()


def test_a_long_hook_address_keeps_the_rows_buttons_inside_the_card(browser, server, app, world,
                                                                    rt):
    """QA round 6: at 1366 px a long pager address pushed the Actions buttons past the card."""
    from itilflow.runtime import utcnow
    from itilflow.services import paging

    with rt.session_factory() as s:
        actor = directory.load_actor(s, directory.user_by_email(s, "admin@sit.test"))
        paging.create_hook(s, actor, {"name": "long-address", "format": "generic",
                                      "url": "https://pager-gateway.drift.sit.example/api/v2/"
                                             "integrations/" + "a1b2c3d4e5f6" * 12},
                           now=utcnow())
        s.commit()
    admin = open_page(browser, server, "admin@sit.test", viewport=(1366, 900))
    admin.goto(f"{server}/admin/pager")
    row = admin.locator("tr", has_text="long-address")
    card = admin.locator("section.card", has=row).first
    button = row.locator("button").last
    card_box, button_box = card.bounding_box(), button.bounding_box()
    assert button_box["x"] + button_box["width"] <= card_box["x"] + card_box["width"] + 1
