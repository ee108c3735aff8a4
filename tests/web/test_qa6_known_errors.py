"""QA6: an open incident's page shows staff the known errors (problems with a workaround) that
may match it, as the API's ``/tickets/{id}/known-errors`` finds them, each with a button that
links the incident to it; customers, closed incidents and incidents without a match show nothing.
Flask test client, English and Danish, both backends."""

from __future__ import annotations

import re

from itilflow.services import problems, tickets
from tests.conftest import WORK_TIME
from tests.web.conftest import csrf_of
from tests.web.test_ticket_page import _actor, _fire, _text

EN, DA = {"Accept-Language": "en"}, {"Accept-Language": "da"}
WORKAROUND = "Run the cache purge job."


def _known_error_and_incidents(rt):
    """A known error on kort (tile cache disk fills up, with a workaround), an incident whose
    title shares its words, one that shares none; as the API's known-error tests make them."""
    with rt.session_factory() as s:
        rep, rep_ctx = _actor(s, "rep@gst.test")
        made = [tickets.submit_incident(s, rt.rules, rep, rep_ctx, {
            "system": "kort", "environment": "production", "layer": "operating_system",
            "title": title, "impact": 2, "urgency": 2}, now=WORK_TIME)
            for title in ("Tile cache full again", "Printer jammed")]
        sit, sit_ctx = _actor(s, "agent@sit.test")
        problem = tickets.submit_problem(s, rt.rules, sit, sit_ctx, {
            "system": "kort", "layer": "operating_system",
            "title": "Tile cache disk fills up"}, now=WORK_TIME)
        _fire(s, rt, "agent@sit.test", problem.id, "investigate")
        _fire(s, rt, "agent@sit.test", problem.id, "record_known_error", {
            "root_cause": "Log rotation disabled for the tile cache.", "workaround": WORKAROUND})
        numbers = [tickets.number_of(rt.rules, t) for t in (problem, *made)]
        s.commit()
    return numbers


def _section(page: str) -> str:
    found = re.search(r'<section[^>]*aria-labelledby="known-errors-h".*?</section>', page, re.S)
    return found.group(0) if found else ""


def test_staff_see_matching_known_errors_and_link_one(app, world, rt, login):
    problem, incident, _ = _known_error_and_incidents(rt)
    agent = login("agent@sit.test")
    page = agent.get(f"/tickets/{incident}", headers=EN).get_data(as_text=True)
    section = _section(page)
    assert section, "no known-error section on the incident's page"
    text = _text(section)
    assert "Known errors that may match" in text
    assert f"{problem} Tile cache disk fills up" in text and WORKAROUND in text
    assert f'href="/tickets/{problem}"' in section
    assert f'action="/tickets/{incident}/problems"' in section
    assert f'name="problem" value="{problem}"' in section
    assert f'aria-label="Link this incident to {problem}"' in section

    danish = _section(agent.get(f"/tickets/{incident}", headers=DA).get_data(as_text=True))
    assert "Kendte fejl, der kan passe" in danish
    assert f"Knyt hændelsen til {problem}" in danish and "Known errors" not in danish

    # the button posts to the existing link route: the incident is linked to the problem
    response = agent.post(f"/tickets/{incident}/problems", headers=EN, data={
        "csrf_token": csrf_of(page), "problem": problem})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    after = agent.get(f"/tickets/{incident}", headers=EN).get_data(as_text=True)
    section = _section(after)
    assert "Already linked" in _text(section) and 'name="problem" value=' not in section
    assert f"Problems {problem} Tile cache disk fills up" in _text(after)
    assert "Allerede tilknyttet" in _text(_section(
        agent.get(f"/tickets/{incident}", headers=DA).get_data(as_text=True)))


def test_the_page_lists_what_the_api_lists(app, world, rt, login):
    problem, incident, _ = _known_error_and_incidents(rt)
    with rt.session_factory() as s:
        _, ctx = _actor(s, "agent@sit.test")
        expected = [k["number"] for k in problems.matching_known_errors(s, rt.rules, ctx, incident)]
    section = _section(login("agent@sit.test").get(f"/tickets/{incident}").get_data(as_text=True))
    assert expected == [problem]
    assert re.findall(r'<li><a href="/tickets/([A-Z]+-\d+)"', section) == expected


def test_customers_closed_and_unmatched_incidents_show_nothing(app, world, rt, login,
                                                              monkeypatch):
    problem, incident, unmatched = _known_error_and_incidents(rt)
    calls = []
    real = problems.matching_known_errors

    def counted(*args, **kwargs):
        calls.append(args[3])
        return real(*args, **kwargs)

    monkeypatch.setattr(problems, "matching_known_errors", counted)
    for headers in (EN, DA):
        rep_page = login("rep@gst.test").get(f"/tickets/{incident}", headers=headers)
        assert rep_page.status_code == 200
        page = rep_page.get_data(as_text=True)
        assert not _section(page) and WORKAROUND not in page
    assert calls == []  # not even computed for a customer

    agent = login("agent@sit.test")
    page = agent.get(f"/tickets/{unmatched}").get_data(as_text=True)
    assert 'id="known-errors-h"' not in page and "Known errors that may match" not in page

    with rt.session_factory() as s:
        ticket = tickets.get_ticket(s, rt.rules, _actor(s, "agent@sit.test")[1], incident)
        _fire(s, rt, "agent@sit.test", ticket.id, "start_work")
        _fire(s, rt, "agent@sit.test", ticket.id, "resolve", {"resolution": "Purged."})
        s.commit()
    calls.clear()
    page = agent.get(f"/tickets/{incident}").get_data(as_text=True)
    assert not _section(page) and calls == []  # a resolved incident: not computed
    problem_page = agent.get(f"/tickets/{problem}").get_data(as_text=True)
    assert not _section(problem_page) and calls == []  # nor on a problem's own page


def test_the_suggestions_cost_the_same_statements_however_many_match(app, world, rt):
    """One statement per matching known error (its incidents, to say 'already linked') made
    the incident's page grow with the system's known errors."""
    from tests.api.conftest import statements

    numbers = _known_error_and_incidents(rt)
    incident = numbers[1]

    def cost() -> tuple[int, int]:
        with rt.session_factory() as s:
            _, ctx = _actor(s, "agent@sit.test")
            ticket = tickets.get_ticket(s, rt.rules, ctx, incident)
            s.expire_all()
            with statements(rt) as seen:
                found = problems.matching_known_errors(s, rt.rules, ctx, ticket)
            return len(found), len(seen)

    one, before = cost()
    with rt.session_factory() as s:
        sit, sit_ctx = _actor(s, "agent@sit.test")
        for n in range(3):
            problem = tickets.submit_problem(s, rt.rules, sit, sit_ctx, {
                "system": "kort", "layer": "operating_system",
                "title": f"Tile cache full on node {n}"}, now=WORK_TIME)
            _fire(s, rt, "agent@sit.test", problem.id, "investigate")
            _fire(s, rt, "agent@sit.test", problem.id, "record_known_error", {
                "root_cause": "Rotation.", "workaround": WORKAROUND})
        s.commit()
    four, after = cost()
    assert (one, four) == (1, 4)
    assert after == before
