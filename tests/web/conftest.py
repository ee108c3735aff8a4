"""Helpers for the web tests: sign in through the real login form (with its CSRF token)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import PASSWORD
from tests.threaded import serve

#: screenshots of the browser tests, for people to look at (not in git)
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    return CSRF_RE.search(html).group(1)


def sign_in(client, email: str, password: str = PASSWORD):
    token = csrf_of(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"email": email, "password": password,
                                           "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


@pytest.fixture(autouse=True)
def _reset_limits(request):
    """Each test starts with fresh rate-limit counters (the app lives for the whole session)."""
    if "app" in request.fixturenames:
        request.getfixturevalue("app").extensions["itilflow_limiter"].reset()
    yield


@pytest.fixture
def login(app):
    def make(email: str):
        client = app.test_client()
        sign_in(client, email)
        return client
    return make


# --- a real browser: Debian's Chromium driven by Playwright ----------------------------------

@pytest.fixture
def server(app):
    """The app on 127.0.0.1 at a free port, in a thread; stopped after the test."""
    with serve(app) as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed")
    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield chromium
        chromium.close()


def open_page(browser, base: str, email: str | None = None, *, viewport=(1400, 900),
              locale="en-GB"):
    """A page in a fresh browser context, signed in as ``email`` when one is given."""
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]},
                                  locale=locale, base_url=base)
    page = context.new_page()
    page.set_default_timeout(10_000)
    if email:
        page.goto("/login")
        page.locator("#email").fill(email)
        page.locator("#password").fill(PASSWORD)
        page.locator("form.login button[type=submit]").click()
        page.wait_for_url(lambda url: "/login" not in url)
    return page
