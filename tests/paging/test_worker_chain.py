"""The worker's fast paths, in process: a row a job writes already due (the page an escalation
timer fires) runs in the same job, claimed with a lease; an idle relay knows when to wake."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from itilflow.jobs import tasks
from itilflow.models import OutboxMessage
from tests.paging.conftest import EVENING, drain, make_hooks, raise_incident


def _rows(rt, topic):
    s = rt.session_factory()
    rows = list(s.scalars(select(OutboxMessage).where(OutboxMessage.topic == topic)
                          .order_by(OutboxMessage.id)))
    s.close()
    return rows


def test_the_page_a_timer_fires_goes_out_in_the_same_tick(rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(60, 60))
    raise_incident(rt)
    drain(relay, EVENING)
    assert [r["path"] for r in receiver.requests] == ["/l1"]
    ran = relay.run_due(EVENING + timedelta(seconds=61))  # one tick: the level-2 timer only
    assert [result for _, result in ran] == ["paged"]
    assert [r["path"] for r in receiver.requests] == ["/l1", "/l2"]
    assert [(m.status, m.attempts) for m in _rows(rt, "page")] == [("done", 1), ("done", 1)]
    assert relay.run_due(EVENING + timedelta(seconds=62)) == []
    assert len(receiver.requests) == 2


def test_a_follow_up_left_unrun_is_claimed_again_after_its_lease(rt, world, receiver, relay,
                                                                 monkeypatch):
    make_hooks(rt, receiver, delays=(60, 60))
    raise_incident(rt)
    drain(relay, EVENING)
    at = EVENING + timedelta(seconds=61)
    # the process "dies" after the timer's transaction, before running the page it claimed
    monkeypatch.setattr(tasks, "_execute_one", _only_first(tasks._execute_one))
    relay.run_due(at)
    monkeypatch.undo()
    page = _rows(rt, "page")[-1]
    assert page.status == "pending" and page.attempts == 0 and page.claimed_until is not None
    assert drain(relay, at + timedelta(seconds=1)) == []  # leased: the relay leaves it alone
    lease = rt.settings.outbox_lease_seconds
    drain(relay, at + timedelta(seconds=lease + 1))
    assert [r["path"] for r in receiver.requests] == ["/l1", "/l2"]


def _only_first(run):
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        return run(*args, **kwargs) if len(calls) == 1 else "killed"

    return wrapper


def test_next_due_is_the_earliest_future_deadline(rt, world, receiver, relay):
    make_hooks(rt, receiver, delays=(60, 600))
    raise_incident(rt)
    assert relay.next_due(EVENING - timedelta(seconds=1)) == EVENING
    drain(relay, EVENING)
    assert relay.next_due(EVENING) == EVENING + timedelta(seconds=60)


def _wait_until_gone(rt, pids: list[int], seconds: float = 10.0) -> None:
    """pg_terminate_backend only signals: wait until those backends have exited (and closed
    their sockets), so the pools see the closed connections rather than race the shutdown."""
    import time

    import psycopg

    deadline = time.monotonic() + seconds
    with psycopg.connect(rt.settings.database_url, autocommit=True) as conn:
        while conn.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)",
                           (pids,)).fetchone()[0]:
            assert time.monotonic() < deadline, "terminated backends did not exit"
            time.sleep(0.05)


def test_the_worker_retries_a_job_once_on_a_connection_the_database_dropped(
        rt, world, receiver, backend):
    import pytest
    from sqlalchemy import event, text

    from itilflow import db
    from itilflow.jobs.context import context_from_settings
    from itilflow.jobs.relay import Relay

    if backend != "postgresql":
        pytest.skip("needs a database server that can drop connections")
    make_hooks(rt, receiver, delays=(60, 60))
    raise_incident(rt)
    ctx = context_from_settings(rt.settings, rules=rt.rules, pre_ping=False)  # as the worker
    # the pool would see a closed socket at checkout and replace the connection: take that
    # check away, as for a connection whose end went away without a word (a half-open TCP
    # connection after a network partition), so the job itself meets the dead connection
    event.remove(ctx.session_factory.kw["bind"], "checkout", db._closed_by_server)
    drain(Relay(ctx), EVENING)  # the worker's pool now holds an idle connection
    with rt.engine.connect() as conn:
        dropped = conn.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()")).scalars().all()
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM unnest(CAST(:pids AS int[])) "
                          "AS pid"), {"pids": dropped})
    assert dropped
    _wait_until_gone(rt, dropped)
    timer = next(m for m in _rows(rt, "escalate") if m.status == "pending")
    assert tasks.execute(ctx, timer.message_id, 0, now=EVENING + timedelta(seconds=61)) == "paged"
    assert [r["path"] for r in receiver.requests] == ["/l1", "/l2"]


def test_an_attempt_that_lost_its_row_writes_nothing(rt, world, receiver, relay):
    from sqlalchemy import update

    from itilflow.services import paging

    make_hooks(rt, receiver, delays=(60, 60))
    raise_incident(rt)
    drain(relay, EVENING)
    at = EVENING + timedelta(seconds=61)
    timer = next(m for m in _rows(rt, "escalate") if m.status == "pending")
    mine = tasks._start(relay.ctx, timer.message_id, 0, at)
    s = rt.session_factory()  # its lease ran out and another attempt took the row
    s.execute(update(OutboxMessage).where(OutboxMessage.id == timer.id).values(attempts=2))
    s.commit()
    s.close()
    pages_before = len(_rows(rt, "page"))
    assert not tasks._finish(relay.ctx, mine, status="done", now=at, work=lambda session:
                             paging.run_escalation_timer(session, rt.rules, mine.payload, at))
    assert len(_rows(rt, "page")) == pages_before  # the timer's work was rolled back
    row = next(m for m in _rows(rt, "escalate") if m.id == timer.id)
    assert (row.status, row.attempts) == ("pending", 2)
