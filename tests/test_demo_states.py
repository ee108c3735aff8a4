"""`itilflow demo` holds tickets in every state (the contract): every state of every workflow
file has a ticket, each got there through real transitions (its history walks from the initial
state to where it is), and the history chains stay intact. Run as a user runs it: a real
process on a fresh SQLite database."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

from sqlalchemy import create_engine, select

from itilflow.models import Ticket, TicketEvent
from itilflow.services.rules import load_rules
from itilflow.settings import Settings


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "itilflow.cli", *args], env=env,
                          capture_output=True, text=True, timeout=180)


def test_the_demo_has_a_ticket_in_every_state_of_every_workflow(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    env = {**os.environ, "ITILFLOW_DATABASE_URL": url, "ITILFLOW_SECRET_KEY": "x"}
    loaded = _run(env, "demo", "--no-serve")
    assert loaded.returncode == 0, loaded.stderr
    verified = _run(env, "audit", "verify")
    assert verified.returncode == 0 and "chains intact" in verified.stdout, verified.stdout

    # the workflows as the process loaded them (the same settings: ITILFLOW_WORKFLOWS_DIR ...)
    workflows = load_rules(Settings.load(database_url=url, secret_key="x")).workflows
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(Ticket.id, Ticket.kind, Ticket.state, Ticket.details)
                                ).all()
            events = conn.execute(
                select(TicketEvent.ticket_id, TicketEvent.kind, TicketEvent.from_state,
                       TicketEvent.to_state, TicketEvent.created_at)
                .where(TicketEvent.kind.in_(("created", "transition")))
                .order_by(TicketEvent.ticket_id, TicketEvent.seq)).all()
    finally:
        engine.dispose()

    held = {(row.kind, row.state) for row in rows}
    missing = [f"{kind}:{state}" for kind, workflow in sorted(workflows.items())
               for state in workflow.states if (kind, state) not in held]
    assert missing == [], "no demo ticket in " + ", ".join(missing)
    change_types = {(row.details or {}).get("change_type") for row in rows
                    if row.kind == "change"}
    assert change_types == {"standard", "normal", "emergency"}
    assert all(row.details.get("template") for row in rows
               if row.kind == "change" and row.details.get("change_type") == "standard")

    # each ticket's history walks from its workflow's initial state, step by step, to its state
    walked: dict[int, str | None] = {}
    for event in events:
        if event.kind == "created":
            walked[event.ticket_id] = event.to_state
        else:
            assert event.from_state == walked.get(event.ticket_id), event
            walked[event.ticket_id] = event.to_state
    for row in rows:
        assert walked[row.id] == row.state, row
    assert max(event.created_at for event in events) <= datetime.now(UTC)  # nothing to come
    kind_of = {row.id: row.kind for row in rows}
    assert all(event.to_state == workflows[kind_of[event.ticket_id]].initial
               for event in events if event.kind == "created")
    # a change that went through production has its outcome recorded
    done = {"review", "closed"}
    assert all(row.details.get("outcome") for row in rows
               if row.kind == "change" and row.state in done)
