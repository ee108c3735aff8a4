"""Bulk seeding for the benchmarks: the directory through the services (so it is real), then
tickets and their first history event straight into the tables (COPY on PostgreSQL), because
seeding a million tickets through HTTP would measure the seeding, not the product."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from itilflow.models import System, Ticket, User
from itilflow.services import directory

PASSWORD = "bench-password-1"
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
TITLES = ["Disk full on {s}", "Timeout calling {s}", "Certificate expiring on {s}",
          "High CPU on {s} node", "Backup failed for {s}", "Login errors in {s}",
          "Slow queries on {s}", "Network flapping near {s}"]
LAYERS = [None, "application", "middleware", "operating_system", "infrastructure"]
STATES = ["new", "assigned", "in_progress", "waiting_customer", "resolved", "closed", "closed",
          "closed"]
RESPONSIBLE = {None: "provider", "application": "customer", "middleware": "customer",
               "operating_system": "provider", "infrastructure": "provider"}
PRIORITY = {(1, 1): "P1", (1, 2): "P2", (2, 1): "P2", (1, 3): "P3", (2, 2): "P3", (3, 1): "P3",
            (2, 3): "P4", (3, 2): "P4", (3, 3): "P5"}


def seed_directory(rt, now: datetime) -> dict:
    """Organisations, users, systems and tokens; returns what the load needs."""
    s = rt.session_factory()
    if s.scalar(select(func.count()).select_from(User)):
        info = _directory_info(s, rt)
        s.close()
        return info
    for name, kind in [("SIT", "provider"), ("Geodatastyrelsen", "customer"),
                       ("Erhvervsstyrelsen", "customer"), ("Supplier A/S", "supplier")]:
        directory.create_organisation(s, name=name, kind=kind, now=now)
    for email, org, role in [("agent@sit.bench", "SIT", "sit_agent"),
                             ("rep@gst.bench", "Geodatastyrelsen", "reporter"),
                             ("agent@gst.bench", "Geodatastyrelsen", "customer_agent")]:
        directory.create_user(s, email=email, name=email, organisation=org, role=role,
                              password=PASSWORD, now=now)
    for i in range(20):
        customer = "Geodatastyrelsen" if i % 2 == 0 else "Erhvervsstyrelsen"
        directory.create_system(s, key=f"sys{i:02d}", name=f"System {i}", customer=customer,
                                environments=["production", "test"], vagtordning=i % 3 == 0,
                                now=now)
    s.commit()
    info = _directory_info(s, rt)
    s.close()
    return info


def _directory_info(s, rt) -> dict:
    users = {u.email: u for u in s.scalars(select(User))}
    tokens = {email: directory.create_token(s, users[email], now=datetime.now(UTC), name="bench")
              for email in users}
    s.commit()
    systems = [(sy.id, sy.key, sy.customer_id) for sy in s.scalars(select(System))]
    return {"users": {e: u.id for e, u in users.items()}, "tokens": tokens, "systems": systems}


def _ticket_rows(start_id: int, count: int, info: dict, version: str, rng: random.Random):
    reporter = info["users"]["rep@gst.bench"]
    systems = info["systems"]
    for i in range(start_id, start_id + count):
        sys_id, key, customer = systems[i % len(systems)]
        layer = LAYERS[i % len(LAYERS)]
        impact, urgency = rng.randint(1, 3), rng.randint(1, 3)
        state = STATES[i % len(STATES)]
        created = BASE_TIME + timedelta(seconds=i * 7)
        yield {
            "id": i, "kind": "incident", "state": state,
            "title": TITLES[i % len(TITLES)].format(s=key), "description": "Seeded by bench.",
            "system_id": sys_id, "customer_id": customer, "environment": "production",
            "layer": layer, "activity": "incident_management", "impact": impact,
            "urgency": urgency, "priority": PRIORITY[(impact, urgency)],
            "responsible_party": RESPONSIBLE[layer], "accountable_party": RESPONSIBLE[layer],
            "on_request": False, "reporter_id": reporter, "assignee_id": None,
            "outage": False, "after_hours": False, "resolution": None, "details": "{}",
            "sla_pauses": "[]", "responded_at": None, "resolved_at": None, "closed_at": None,
            "sla_due_at": (created + timedelta(hours=8)) if state not in ("resolved", "closed")
            else None,
            "acknowledged_at": None, "escalation_token": 0, "workflow_version": version,
            "created_at": created, "updated_at": created, "version": 1,
        }


def bulk_tickets(rt, info: dict, target: int, seed: int = 7) -> int:
    """Grow the tickets table to ``target`` rows; returns how many were added."""
    engine = rt.engine
    with engine.connect() as conn:
        have = conn.execute(select(func.count()).select_from(Ticket)).scalar() or 0
        max_id = conn.execute(select(func.max(Ticket.id))).scalar() or 0
    need = target - have
    if need <= 0:
        return 0
    version = rt.rules.workflow("incident").version
    rng = random.Random(seed + target)
    rows = _ticket_rows(max_id + 1, need, info, version, rng)
    if engine.dialect.name == "postgresql":
        _copy_postgres(engine, rows)
    else:
        _insert_sqlite(engine, rows)
    return need


TICKET_COLS = ["id", "kind", "state", "title", "description", "system_id", "customer_id",
               "environment", "layer", "activity", "impact", "urgency", "priority",
               "responsible_party", "accountable_party", "on_request", "reporter_id",
               "assignee_id", "outage", "after_hours", "resolution", "details", "sla_pauses",
               "responded_at", "resolved_at", "closed_at", "sla_due_at", "acknowledged_at",
               "escalation_token", "workflow_version", "created_at", "updated_at", "version"]
EVENT_COLS = ["ticket_id", "seq", "kind", "trigger", "from_state", "to_state", "actor_id",
              "actor_label", "data", "workflow_version", "created_at", "prev_hash", "hash"]


def _event(row: dict) -> dict:
    return {"ticket_id": row["id"], "seq": 1, "kind": "created", "trigger": None,
            "from_state": None, "to_state": row["state"], "actor_id": row["reporter_id"],
            "actor_label": "bench", "data": json.dumps({"seeded": True}),
            "workflow_version": row["workflow_version"], "created_at": row["created_at"],
            "prev_hash": "0" * 64, "hash": "b" * 64}


def _copy_postgres(engine, rows, batch: int = 50_000) -> None:
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        buf_t, buf_e = [], []
        for n, row in enumerate(rows, start=1):
            buf_t.append(tuple(row[c] for c in TICKET_COLS))
            ev = _event(row)
            buf_e.append(tuple(ev[c] for c in EVENT_COLS))
            if n % batch == 0:
                _flush_copy(cur, buf_t, buf_e)
                buf_t, buf_e = [], []
        _flush_copy(cur, buf_t, buf_e)
        cur.execute("SELECT setval(pg_get_serial_sequence('tickets', 'id'), "
                    "(SELECT max(id) FROM tickets))")
        raw.commit()
        cur.execute("ANALYZE tickets")
        cur.execute("ANALYZE ticket_events")
        raw.commit()
    finally:
        raw.close()


def _flush_copy(cur, tickets_rows, event_rows) -> None:
    if not tickets_rows:
        return
    with cur.copy(f"COPY tickets ({', '.join(TICKET_COLS)}) FROM STDIN") as copy:
        for r in tickets_rows:
            copy.write_row(r)
    with cur.copy(f"COPY ticket_events ({', '.join(EVENT_COLS)}) FROM STDIN") as copy:
        for r in event_rows:
            copy.write_row(r)


def _sqlite_value(v):
    if isinstance(v, datetime):
        return v.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    return v


def _insert_sqlite(engine, rows, batch: int = 20_000) -> None:
    t_sql = text(f"INSERT INTO tickets ({', '.join(TICKET_COLS)}) VALUES "
                 f"({', '.join(':' + c for c in TICKET_COLS)})")
    e_sql = text(f"INSERT INTO ticket_events ({', '.join(EVENT_COLS)}) VALUES "
                 f"({', '.join(':' + c for c in EVENT_COLS)})")
    buf_t, buf_e = [], []
    with engine.begin() as conn:
        for row in rows:
            buf_t.append({k: _sqlite_value(v) for k, v in row.items()})
            buf_e.append({k: _sqlite_value(v) for k, v in _event(row).items()})
            if len(buf_t) >= batch:
                conn.execute(t_sql, buf_t)
                conn.execute(e_sql, buf_e)
                buf_t, buf_e = [], []
        if buf_t:
            conn.execute(t_sql, buf_t)
            conn.execute(e_sql, buf_e)
        conn.execute(text("ANALYZE"))


def open_ticket_ids(rt, limit: int) -> list[int]:
    """Recent open operating-system incidents the SIT agent may acknowledge."""
    with rt.engine.connect() as conn:
        return list(conn.execute(
            select(Ticket.id).where(Ticket.layer == "operating_system", Ticket.state == "new")
            .order_by(Ticket.id.desc()).limit(limit)).scalars())


