"""A page of tickets costs a fixed number of queries, whatever its rows: no eight-table join,
no query per row for its systems, users or consultations, and the same answers as per row."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event, select

from itilflow.models import Ticket
from itilflow.services import changes, ticket_pages, tickets
from tests.changes.common import fire, submit_change
from tests.changes.test_changes import approved_os_change
from tests.conftest import WORK_TIME


@contextmanager
def statements(engine):
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _incident(session, rules, world, email="rep@gst.test", **data):
    user, ctx = world.actor(session, email)
    payload = {"system": "kort", "environment": "production", "title": "Broken", "impact": 2,
               "urgency": 2, **data}
    return tickets.submit_incident(session, rules, user, ctx, payload, now=WORK_TIME)


def _mixed_page(session, rules, world):
    for i in range(4):
        _incident(session, rules, world, title=f"Disk {i}", system="arkiv" if i % 2 else "kort")
    _incident(session, rules, world, email="rep@erst.test", system="virk", layer="application")
    assigned = _incident(session, rules, world, layer="operating_system")
    fire(session, rules, world, "agent@sit.test", assigned, "assign", assignee="agent2@sit.test")
    consulted = approved_os_change(session, rules, world)
    fire(session, rules, world, "agent@sit.test", consulted, "consult",
         stage="installation_test", question="Tuesday?")
    fire(session, rules, world, "agent@gst.test", consulted, "answer_consultation",
         stage="installation_test", answer="Yes")
    _, admin = world.actor(session, "admin@sit.test")
    changes.create_template(session, rules, admin, {
        "key": "os-patch", "name": "OS patch", "activity": "patch_management",
        "layer": "operating_system"}, now=WORK_TIME)
    submit_change(session, rules, world, change_type="standard", template="os-patch")
    session.commit()


def test_a_page_reads_its_systems_users_and_consultations_once(session, rules, world, rt):
    _mixed_page(session, rules, world)
    session.expunge_all()  # a new request: nothing of the page is in the session yet
    with statements(rt.engine) as seen:
        rows = list(session.scalars(select(Ticket).options(*ticket_pages.PAGE_LOADING)
                                    .order_by(Ticket.id.desc())))
        ticket_pages.attach_related(session, rows)
        shown = [(t.system.key, t.assignee.email if t.assignee else None,
                  t.reporter.email if t.reporter else None) for t in rows]
        for email in ("agent@sit.test", "agent@gst.test", "boss@sit.test", "rep@gst.test"):
            _, ctx = world.actor(session, email)
            before = len(seen)
            many = ticket_pages.available_transitions_many(session, rules, ctx, rows)
            assert len(seen) - before == 1  # the page's consultations, in one query
            for t in rows:
                assert many[t.id] == tickets.available_transitions(session, rules, ctx, t)
    assert len(rows) == 8 and "JOIN" not in seen[0]
    assert len(seen[:3]) == 3 and all("FROM systems" in s or "FROM users" in s for s in seen[1:3])
    assert ("kort", "agent2@sit.test", "rep@gst.test") in shown
    assert {key for key, _, _ in shown} == {"kort", "arkiv", "virk"}


def test_attach_related_reads_nothing_the_session_holds(session, rules, world, rt):
    _mixed_page(session, rules, world)
    rows = list(session.scalars(select(Ticket).options(*ticket_pages.PAGE_LOADING)))
    ticket_pages.attach_related(session, rows)
    with statements(rt.engine) as seen:
        ticket_pages.attach_related(session, rows)
        assert [t.system.key for t in rows] and not seen


def test_the_queue_reads_a_pause_without_running_the_clocks(rules):
    from datetime import timedelta

    from itilflow.models import System
    from itilflow.services.sla import sla_of, sla_paused

    start = (WORK_TIME - timedelta(hours=3)).isoformat()
    later = (WORK_TIME + timedelta(hours=1)).isoformat()
    for kind, pauses in [("incident", [[start, None]]), ("incident", [[start, later]]),
                         ("incident", [[later, None]]), ("incident", []), ("problem", [[start, None]])]:
        ticket = Ticket(kind=kind, priority="P3", sla_pauses=pauses, created_at=WORK_TIME -
                        timedelta(hours=5), system=System(vagtordning=False))
        status = sla_of(rules, ticket, WORK_TIME)
        assert sla_paused(ticket, WORK_TIME) == (status is not None and status.paused)
