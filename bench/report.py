"""How long the monthly report takes for a customer with 100,000 incidents in the month.

Creates a fresh PostgreSQL database, bulk-inserts the tickets (and some hand-overs, changes and
problems), times the report (JSON and CSV) a few times, and drops the database again.

    .venv/bin/python bench/report.py [--tickets 100000] [--admin-url postgresql://postgres@127.0.0.1/postgres]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy import insert, select

from itilflow.db import make_engine, make_session_factory
from itilflow.migrate import upgrade
from itilflow.models import Organisation, Ticket, TicketEvent
from itilflow.services import directory, reports
from itilflow.services.rules import load_rules
from itilflow.settings import Settings

MONTH = (2026, 10)
START = datetime(2026, 9, 30, 22, tzinfo=UTC)  # 1 October 2026 00:00 in Copenhagen
SPAN = 31 * 86400 + 3600
NOW = datetime(2026, 11, 2, 8, tzinfo=UTC)
LAYERS = ["application", "middleware", "operating_system", "infrastructure", None]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--admin-url", default=os.environ.get(
        "ITILFLOW_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    name = f"itilflow_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = args.admin_url.rpartition("/")[0] + "/" + name
    settings = Settings.load(database_url=url, secret_key="bench")
    engine = make_engine(settings.sqlalchemy_url)
    try:
        upgrade(engine)
        session_factory = make_session_factory(engine)
        rules = load_rules(settings)
        began = time.perf_counter()
        org = populate(session_factory, args.tickets)
        print(f"inserted {args.tickets:,} incidents (+ events, changes, problems) in "
              f"{time.perf_counter() - began:.1f} s")
        timings = []
        for _ in range(args.runs):
            s = session_factory()
            began = time.perf_counter()
            report = reports.build_report(s, rules, s.get(Organisation, org), *MONTH, now=NOW)
            reports.report_csv(report)
            timings.append(time.perf_counter() - began)
            s.close()
        inc = report["incidents"]
        print(f"report of {inc['total']:,} incidents, {inc['handovers']:,} hand-overs, "
              f"{report['changes']['total']:,} changes: "
              f"median {statistics.median(timings):.2f} s, best {min(timings):.2f} s "
              f"over {args.runs} runs (JSON + CSV)")
    finally:
        engine.dispose()
        with psycopg.connect(args.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def populate(session_factory, count: int) -> int:
    rng = random.Random(42)
    s = session_factory()
    now = START
    for org_name, kind in [("SIT", "provider"), ("GST", "customer")]:
        directory.create_organisation(s, name=org_name, kind=kind, now=now)
    reporter = directory.create_user(s, email="rep@gst.test", name="rep", organisation="GST",
                                     role="reporter", password="bench password", now=now)
    systems = [directory.create_system(s, key=f"sys{i}", name=f"System {i}", customer="GST",
                                       environments=["production", "test"],
                                       vagtordning=i % 2 == 0, now=now) for i in range(6)]
    s.commit()
    org_id = s.scalar(select(Organisation.id).where(Organisation.name == "GST"))
    rows = []
    for i in range(count):
        created = START + timedelta(seconds=rng.randrange(SPAN))
        impact, urgency = rng.randint(1, 3), rng.randint(1, 3)
        layer = rng.choice(LAYERS)
        responded = created + timedelta(minutes=rng.randint(1, 600)) if rng.random() < 0.9 \
            else None
        resolved = created + timedelta(minutes=rng.randint(30, 5000)) if rng.random() < 0.8 \
            else None
        if resolved and responded and responded > resolved:
            responded = resolved
        paused = rng.random() < 0.05 and responded is not None
        rows.append({
            "kind": "incident", "state": "resolved" if resolved else "in_progress",
            "title": f"Incident {i}", "description": "", "system_id": rng.choice(systems).id,
            "customer_id": org_id, "environment": "production" if rng.random() < 0.8 else "test",
            "layer": layer, "activity": "incident_management", "impact": impact,
            "urgency": urgency, "priority": f"P{impact + urgency - 1}",
            "responsible_party": "customer" if layer in ("application", "middleware")
            else "provider", "accountable_party": "provider", "on_request": False,
            "reporter_id": reporter.id, "outage": rng.random() < 0.02,
            "after_hours": rng.random() < 0.3, "details": {},
            "sla_pauses": [[(created + timedelta(minutes=5)).isoformat(),
                            (created + timedelta(minutes=65)).isoformat()]] if paused else [],
            "responded_at": responded, "acknowledged_at": responded, "resolved_at": resolved,
            "workflow_version": "1", "created_at": created, "updated_at": created, "version": 1,
            "escalation_token": 0,
        })
    for i in range(2000):
        created = START + timedelta(seconds=rng.randrange(SPAN))
        rows.append({**rows[i], "kind": "change", "activity": "change_management",
                     "details": {"change_type": rng.choice(["standard", "normal", "emergency"]),
                                 "outcome": rng.choice(["successful", "failed", "backed_out",
                                                        None])},
                     "created_at": created, "outage": False})
    for start in range(0, len(rows), 10_000):
        s.execute(insert(Ticket), rows[start:start + 10_000])
    s.commit()
    ids = list(s.scalars(select(Ticket.id).where(Ticket.kind == "incident").limit(20_000)))
    events = []
    for ticket_id in ids:
        at = START + timedelta(seconds=rng.randrange(SPAN))
        for seq in (1, 2):
            events.append({"ticket_id": ticket_id, "seq": seq, "kind": "handover",
                           "actor_label": "bench", "data": {}, "workflow_version": "1",
                           "created_at": at, "prev_hash": "0" * 64, "hash": "0" * 64})
    s.execute(insert(TicketEvent), events)
    s.commit()
    s.close()
    return org_id


if __name__ == "__main__":
    main()
