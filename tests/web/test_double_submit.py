"""A form posted several times at once with the same one-time key (a double click that got
through, a browser retrying) makes one ticket, on both backends: over real HTTP on loopback,
each request in a thread of its own with its own session and connection."""

from __future__ import annotations

import re

import pytest
import requests
from sqlalchemy import func, select

from itilflow.models import Ticket
from tests.conftest import PASSWORD
from tests.threaded import at_once, serve
from tests.web.conftest import csrf_of

TWINS = 8
FORM_KEY_RE = re.compile(r'name="form_key" value="([^"]+)"')


@pytest.fixture
def base(app, world):
    with serve(app) as url:
        yield url


def _signed_in(base: str, email: str) -> requests.Session:
    http = requests.Session()
    token = csrf_of(http.get(f"{base}/login", timeout=30).text)
    response = http.post(f"{base}/login", data={"email": email, "password": PASSWORD,
                                                 "csrf_token": token},
                         allow_redirects=False, timeout=30)
    assert response.status_code == 302, response.text[:500]
    return http


def _twins(base: str, http: requests.Session, path: str, fields: dict[str, str]) -> list:
    """The form, filled in once and posted TWINS times at once; the answers."""
    page = http.get(f"{base}{path}", timeout=30).text
    data = {"csrf_token": csrf_of(page), "form_key": FORM_KEY_RE.search(page).group(1), **fields}

    def post():
        with requests.Session() as twin:
            twin.cookies.update(http.cookies)
            return twin.post(f"{base}{path}", data=data, allow_redirects=False, timeout=90)
    return at_once([post] * TWINS)


def _tickets(rt, kind: str) -> int:
    with rt.session_factory() as s:
        return s.scalar(select(func.count()).select_from(Ticket).where(Ticket.kind == kind))


def test_the_portal_form_posted_at_once_makes_one_incident(base, rt):
    """On SQLite 4 of 5 tries made two: the check for an earlier ticket with the key and the
    insert were two steps another request could come between (PostgreSQL's advisory lock
    covered only PostgreSQL)."""
    answers = _twins(base, _signed_in(base, "rep@gst.test"), "/portal/incidents/new", {
        "system": "kort", "environment": "production", "layer": "", "title": "Map tiles fail",
        "description": "Blank since 09:00.", "impact": "2", "urgency": "2"})
    assert [a.status_code for a in answers] == [303] * TWINS, [a.text[:300] for a in answers]
    assert len({a.headers["Location"] for a in answers}) == 1
    assert _tickets(rt, "incident") == 1


def test_the_problem_form_posted_at_once_opens_one_problem(base, rt):
    answers = _twins(base, _signed_in(base, "agent@sit.test"), "/agent/new/problem", {
        "system": "kort", "layer": "infrastructure", "title": "Storage latency",
        "description": "The SAN.", "incidents": ""})
    assert [a.status_code for a in answers] == [303] * TWINS, [a.text[:300] for a in answers]
    assert len({a.headers["Location"] for a in answers}) == 1
    assert _tickets(rt, "problem") == 1
