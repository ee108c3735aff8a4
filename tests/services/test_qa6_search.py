"""QA round 6 (notes/qa6-ui.md L8): a search finds a ticket by its number's digits alone
(``000002``, ``2``) as by its number (``INC-2``), and matches titles in any letter case beyond
ASCII ("SØGNING" finds "Søgning") on SQLite as on PostgreSQL; in the agent's queue (through
HTTP) and the API's list (the service), without a statement more. Both backends."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import event

from itilflow.services import directory, queues, tickets
from tests.conftest import WORK_TIME
from tests.paging.conftest import raise_incident
from tests.web.conftest import sign_in

TITLES = ["Søgning virker ikke", "ÆBLE-portalen er nede", "Printer jams", "Kort er nede"]


@pytest.fixture
def agent(app, world):
    """SIT's agent, signed in through the login form."""
    client = app.test_client()
    sign_in(client, "agent@sit.test")
    return client


@pytest.fixture
def numbers(rt, world):
    return [raise_incident(rt, now=WORK_TIME, layer="operating_system", title=t) for t in TITLES]


def _queue(client, q: str) -> list[str]:
    response = client.get("/agent", query_string={"queue": "open", "q": q})
    assert response.status_code == 200
    return re.findall(r'name="ticket" value="([A-Z]+-\d+)"', response.get_data(as_text=True))


def _listed(rt, q: str) -> list[str]:
    with rt.session_factory() as s:
        _user, ctx = (lambda u: (u, directory.load_actor(s, u)))(
            directory.user_by_email(s, "agent@sit.test"))
        rows, _ = tickets.list_tickets(s, rt.rules, ctx, tickets.TicketFilters(q=q))
        return [tickets.number_of(rt.rules, t) for t in rows]


@pytest.mark.parametrize("which", ["queue", "list"])
def test_the_digits_of_a_number_find_its_ticket(rt, agent, numbers, which):
    find = (lambda q: _queue(agent, q)) if which == "queue" \
        else (lambda q: _listed(rt, q))
    second = numbers[1]
    digits = second.split("-")[1]           # "000002"
    assert find(second) == [second]
    assert find(digits) == [second]
    assert find(str(int(digits))) == [second]  # "2"
    assert find("0") == []                  # no ticket 0, and no title holds a 0
    assert find("99999999999999") == []     # beyond any id: the title only, not a 500


@pytest.mark.parametrize("which", ["queue", "list"])
def test_the_title_search_ignores_the_case_of_danish_letters(rt, agent, numbers, which):
    find = (lambda q: _queue(agent, q)) if which == "queue" \
        else (lambda q: _listed(rt, q))
    assert find("SØGNING") == [numbers[0]]
    assert find("søgning VIRKER") == [numbers[0]]
    assert find("æble") == [numbers[1]]
    assert find("printer") == [numbers[2]]
    assert find("Øl") == []
    # the GLOB's own wildcards are plain letters in a search
    assert find("Sø*") == [] and find("S?gning") == [] and find("[Ss]øg") == []


def test_a_search_costs_no_statement_more(rt, agent, numbers):
    client = agent
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    counts = []
    for q in ("", "000002", "SØGNING"):
        seen.clear()
        event.listen(rt.engine, "before_cursor_execute", record)
        try:
            assert client.get("/agent", query_string={"queue": "open", "q": q}).status_code == 200
        finally:
            event.remove(rt.engine, "before_cursor_execute", record)
        counts.append(len(seen))
    assert counts[0] == counts[1] == counts[2]


def test_the_queue_service_finds_by_digits(rt, numbers):
    with rt.session_factory() as s:
        user = directory.user_by_email(s, "agent@sit.test")
        ctx = directory.load_actor(s, user)
        rows, _ = queues.queue_tickets(s, rt.rules, ctx, "open", queues.QueueFilters(q="3"),
                                       now=WORK_TIME)
        assert [tickets.number_of(rt.rules, t) for t in rows] == [numbers[2]]
