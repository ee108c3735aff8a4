"""QA6: a change that waits on a party's consultation answer or approval shows in that party's
own queue "Waiting for us" (/agent?queue=waiting_for_us), not only under "All open", and leaves
it once the party has answered or approved."""

from __future__ import annotations

from sqlalchemy import event

from itilflow.services import tickets
from tests.changes.common import LATER, fire, submit_change


def _rows(client, queue="waiting_for_us"):
    response = client.get(f"/agent?queue={queue}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _change(rt, world, **extra):
    with rt.session_factory() as s:
        change = submit_change(s, rt.rules, world, **extra)
        fire(s, rt.rules, world, "agent@sit.test", change, "assess")
        fire(s, rt.rules, world, "agent@sit.test", change, "request_approval", risk="high",
             impact_assessment="The application restarts.")
        s.commit()
        return change.id, tickets.number_of(rt.rules, change)


def _fire(rt, world, email, change_id, trigger, **fields):
    with rt.session_factory() as s:
        user, ctx = world.actor(s, email)
        tickets.fire_transition(s, rt.rules, user, ctx, change_id, trigger, fields,
                                now=LATER)
        s.commit()


def test_missing_approval_shows_in_the_approvers_queue_until_given(app, world, rt, login):
    change_id, number = _change(rt, world, affected_layers=["application"])
    gst_agent, gst_boss = login("agent@gst.test"), login("boss@gst.test")
    sit_boss, erst = login("boss@sit.test"), login("boss@erst.test")
    # both accountable parties still have to approve: in each one's queue, nobody else's
    assert number in _rows(gst_agent) and number in _rows(gst_boss)
    assert number in _rows(sit_boss)
    assert number not in _rows(erst)
    # the customer's own queues keep their meaning; "All open" still has it
    assert number not in _rows(gst_agent, "mine") and number not in _rows(gst_agent, "waiting")
    assert number in _rows(gst_agent, "open")
    _fire(rt, world, "boss@sit.test", change_id, "approve", comment="OS side fine.")
    assert number not in _rows(sit_boss)                       # SIT has given its approval
    assert number in _rows(gst_boss)                           # the customer's is missing
    _fire(rt, world, "boss@gst.test", change_id, "approve", comment="App side fine.")
    assert number not in _rows(gst_boss) and number not in _rows(sit_boss)


def test_open_consultation_shows_in_the_consulted_partys_queue(app, world, rt, login):
    change_id, number = _change(rt, world)                     # OS layer: SIT approves alone
    _fire(rt, world, "boss@sit.test", change_id, "approve", comment="Go.")
    gst, sit = login("agent@gst.test"), login("agent@sit.test")
    assert number not in _rows(gst)
    _fire(rt, world, "agent@sit.test", change_id, "consult", stage="installation_test",
          question="May we run the installation test on Tuesday?")
    assert number in _rows(gst)                                # the customer must answer
    assert number not in _rows(sit)                            # SIT asked; nothing waits on it
    assert number not in _rows(login("agent@erst.test"))
    _fire(rt, world, "agent@gst.test", change_id, "answer_consultation",
          stage="installation_test", answer="Yes, after 18:00.")
    assert number not in _rows(gst)


def test_queue_label_in_danish_and_statements_flat(app, world, rt, login):
    gst = login("boss@gst.test")

    def statements():
        seen: list[str] = []

        def record(_conn, _cursor, statement, *_args):
            seen.append(statement)

        event.listen(rt.engine, "before_cursor_execute", record)
        try:
            page = _rows(gst)
        finally:
            event.remove(rt.engine, "before_cursor_execute", record)
        return seen, page

    _change(rt, world, affected_layers=["application"])
    few, page = statements()
    assert page.count('name="ticket"') == 1 and "Waiting for us" in page
    for _ in range(3):
        _change(rt, world, affected_layers=["application"])
    many, page = statements()
    assert page.count('name="ticket"') == 4
    assert len(many) == len(few)
    assert len([s for s in many if "FROM tickets" in s]) == 1
    danish = gst.get("/agent?queue=waiting_for_us", headers={"Accept-Language": "da,en;q=0.5"})
    assert "Venter på os" in danish.get_data(as_text=True)
