"""The agent's queue page costs the same few queries with 2 rows as with 20: the tickets
alone (no join of eight tables), then the page's systems and users once."""

from __future__ import annotations

from sqlalchemy import event

from itilflow.services import directory, tickets
from tests.conftest import WORK_TIME


def _submit(rt, n, **data):
    with rt.session_factory() as s:
        user = directory.user_by_email(s, "rep@gst.test")
        ctx = directory.load_actor(s, user)
        for i in range(n):
            payload = {"system": "kort" if i % 2 else "arkiv", "environment": "production",
                       "title": f"Broken {i}", "impact": 2, "urgency": 2, **data}
            tickets.submit_incident(s, rt.rules, user, ctx, payload, now=WORK_TIME)
        s.commit()


def _queue_statements(rt, client, url):
    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(rt.engine, "before_cursor_execute", record)
    try:
        response = client.get(url)
    finally:
        event.remove(rt.engine, "before_cursor_execute", record)
    assert response.status_code == 200
    return seen, response.get_data(as_text=True)


def test_queue_page_queries_do_not_grow_with_its_rows(app, world, rt, login):
    sit = login("agent@sit.test")
    _submit(rt, 2)
    few, page = _queue_statements(rt, sit, "/agent?queue=open")
    assert page.count('name="ticket"') == 2
    _submit(rt, 18, layer="operating_system")
    many, page = _queue_statements(rt, sit, "/agent?queue=open")
    assert page.count('name="ticket"') == 20
    assert len(many) == len(few)
    ticket_reads = [s for s in many if "FROM tickets" in s]
    assert len(ticket_reads) == 1 and "JOIN" not in ticket_reads[0]
    rows, _ = _queue_statements(rt, sit, "/agent/rows?queue=open")
    assert len(rows) <= len(many)
