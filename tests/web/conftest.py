"""Helpers for the web tests: sign in through the real login form (with its CSRF token)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PASSWORD

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
