"""The notifications page: the navigation shows the unread count, the page lists what the
organisation was told, and marking read clears the count for the whole team."""

from __future__ import annotations

import re

from tests.api.conftest import make_tokens
from tests.api.test_inbox import _deliver
from tests.web.conftest import csrf_of


def _badge(html: str) -> str | None:
    match = re.search(r'href="/notifications"[^>]*>[^<]*(?:<span class="count"[^>]*>([^<]+)</span>)?',
                      html)
    return match.group(1) if match else None


def test_the_team_reads_and_clears_its_notifications(app, rt, world, login):
    from tests.api.conftest import Api

    api = Api(app, make_tokens(rt))
    numbers = [api.incident("rep@gst.test", title=f"Disk {i}", layer="operating_system")["number"]
               for i in range(2)]
    _deliver(rt)
    agent = login("agent@gst.test")
    home = agent.get("/agent").get_data(as_text=True)
    assert _badge(home) == "2"
    page = agent.get("/notifications")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert all(n in html for n in numbers)
    assert html.count('class="unread"') == 2
    # one is marked read by a colleague: the count drops for the agent too
    boss = login("boss@gst.test")
    boss_page = boss.get("/notifications").get_data(as_text=True)
    first = re.search(r'name="id" value="(\d+)"', boss_page).group(1)
    done = boss.post("/notifications/read", data={"id": first, "csrf_token": csrf_of(boss_page)})
    assert done.status_code == 302
    assert _badge(agent.get("/agent").get_data(as_text=True)) == "1"
    agent.post("/notifications/read", data={"all": "1", "csrf_token": csrf_of(html)})
    after = agent.get("/notifications").get_data(as_text=True)
    assert _badge(after) is None and 'class="unread"' not in after
    assert all(n in after for n in numbers)  # read, not gone
    # without the form's CSRF token nothing changes
    assert agent.post("/notifications/read", data={"all": "1"}).status_code == 400


def test_reporters_have_no_inbox(app, world, login):
    reporter = login("rep@gst.test")
    assert 'href="/notifications"' not in reporter.get("/portal").get_data(as_text=True)
    assert reporter.get("/notifications").status_code == 404
    assert reporter.post("/notifications/read", data={"all": "1"}).status_code in (400, 404)
