"""The write paths' query budget: how many SQL statements a submission and a transition cost.

Round trips are most of what a write costs, so a change that adds one to the hot path should
be a decision, not an accident: these tests fail when the count grows. They also check that
what the write path skips (history head, paging, links) is still right in the answer."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from itilflow.models import TicketEvent
from itilflow.services import known
from tests.api.conftest import statements

#: token, system, INSERT ticket, INSERT history event, INSERT outbox rows (one statement)
SUBMIT_BUDGET = 5
#: token, ticket FOR UPDATE, what is known of it, UPDATE ticket, INSERT event, the SLA check
TRANSITION_BUDGET = 6
P5 = {"impact": 3, "urgency": 3, "layer": "operating_system"}




def _warm(api, rt):
    """A token's first calls log its use (once a minute) and learn that it is logged: not the
    steady state."""
    for _ in range(2):
        first = api.incident(**P5)
        assert api.fire("agent@sit.test", first["id"], "acknowledge").status_code == 200


def test_a_submission_costs_five_statements(api, rt):
    _warm(api, rt)
    with statements(rt) as seen:
        created = api.incident(**P5)
    # SQLite writes the outbox rows one statement each (no round trips there)
    budget = SUBMIT_BUDGET + (rt.engine.dialect.name == "sqlite")
    assert len(seen) <= budget, "\n".join(s[:120] for s in seen)
    assert created["paging"]["pages"] == [] and created["incidents"] == []
    assert created["problems"] == [] and created["state"] == "new"


def test_a_transition_costs_six_statements_and_chains_history(api, rt):
    _warm(api, rt)
    ticket = api.incident(**P5)
    with statements(rt) as seen:
        done = api.fire("agent@sit.test", ticket["id"], "acknowledge")
    assert done.status_code == 200, done.json
    assert len(seen) <= TRANSITION_BUDGET, "\n".join(s[:90].replace("\n", " ") for s in seen)
    s = rt.session_factory()
    events = list(s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket["id"])
                            .order_by(TicketEvent.seq)))
    s.close()
    assert [e.seq for e in events] == [1, 2]
    assert events[1].prev_hash == events[0].hash  # the head it skipped reading was right


def test_a_ticket_read_shows_links_it_knows_of(api, rt):
    incident = api.incident(**P5)
    problem = api.post("/problems", "agent@sit.test", {
        "system": "kort", "title": "Tiles", "layer": "operating_system",
        "incidents": [incident["id"]]})
    assert problem.status_code == 201, problem.json
    assert [i["id"] for i in problem.json["incidents"]] == [incident["id"]]
    again = api.get(f"/tickets/{incident['id']}", "agent@sit.test").json
    assert [p["id"] for p in again["problems"]] == [problem.json["id"]]


@pytest.mark.parametrize("end", ["commit", "rollback"])
def test_what_is_known_ends_with_the_transaction(rt, world, end):
    session = rt.session_factory()
    session.execute(select(1))  # a transaction is open
    known.fresh(session, 42)
    assert known.get(session, 42) is not None
    getattr(session, end)()
    assert known.get(session, 42) is None
    session.close()
