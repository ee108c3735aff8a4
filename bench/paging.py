"""Benchmark: with 10,000 open escalation timers, the time from a timer's deadline to the
receiver getting the page (median, p99).

    python -m bench.paging [--timers 10000] [--measured 300] [--sqlite] [--redis URL|auto]
                           [--processes N]

A database of its own (PostgreSQL: created on ITILFLOW_BENCH_POSTGRES_URL's server, default
postgresql://postgres@127.0.0.1:5432/postgres, and dropped after; or a temporary SQLite file
with --sqlite), a receiver on loopback, and the relay running as in production: the embedded
runner thread (no Redis), or with --redis the ``itilflow worker`` process (relay + RQ worker;
``--redis auto`` starts a private redis-server on a free loopback port). In RQ mode the timers
fall due only once the worker has registered with Redis (a running worker, not its start-up, is
measured), and the worker's peak memory (VmHWM of it and of every process it started) is
reported.
``--timers`` escalation timers are open; ``--measured`` of them fall due during the run (spread
over ``--spread`` seconds), the rest later. Figures are wall-clock deadline-to-arrival.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
from sqlalchemy import insert, select

from bench.procs import descendants, free_port, peak_rss_mb, pss_mb, stop

ROOT = Path(__file__).resolve().parent.parent


def _receiver():
    arrivals: dict[str, float] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                arrivals.setdefault(self.headers["webhook-id"], time.time())
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, arrivals


def _private_redis(tmp: str) -> tuple[str, subprocess.Popen]:
    """A redis-server of our own on a free loopback port (never the shared one)."""
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", tmp],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return f"redis://127.0.0.1:{port}/0", proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")


def _worker_memory(pid: int) -> dict:
    """Peak RSS (VmHWM) of the worker and of each process it started, and their PSS summed
    now (what they take together), in MB."""
    pids = descendants(pid)
    peaks = [round(peak_rss_mb(p), 1) for p in pids]
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = 0.0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rpartition(")")[2].split()
            cpu += (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
        except (OSError, IndexError, ValueError):
            pass
    return {"worker_peak_mb": max(peaks, default=0.0),
            "worker_processes": len(pids),
            "worker_peak_mb_each": sorted(peaks, reverse=True),
            "worker_pss_mb_total": round(sum(pss_mb(p) for p in pids), 1),
            "worker_cpu_seconds": round(cpu, 1)}


def _wait_for_rq_worker(redis_url: str, proc: subprocess.Popen, timeout: float = 120.0) -> float:
    """Wait until a worker listens on the itilflow queue; returns the seconds it took."""
    from redis import Redis
    from rq import Worker

    from itilflow.jobs.relay import QUEUE_NAME

    started = time.monotonic()
    connection = Redis.from_url(redis_url)
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"the worker exited with status {proc.returncode}")
        if any(QUEUE_NAME in w.queue_names() for w in Worker.all(connection=connection)):
            connection.close()
            return time.monotonic() - started
        time.sleep(0.1)
    raise RuntimeError("the worker did not register with Redis")


def _database(args) -> tuple[str, callable]:
    if args.sqlite:
        tmp = tempfile.mkdtemp(prefix="itilflow-bench-")
        return f"sqlite:///{tmp}/bench.db", lambda: None
    admin = os.environ.get("ITILFLOW_BENCH_POSTGRES_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"itilflow_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return admin.rpartition("/")[0] + "/" + name, drop


def _seed(rt, url: str, timers: int, measured: int, spread: float, start_in: float) -> dict:
    """Tickets, escalations and their level-2 timers; returns the measured timers'
    {message_id: escalation_id}."""
    from itilflow.models import OutboxMessage, Ticket
    from itilflow.models.paging import Escalation
    from itilflow.services import directory, paging, tickets

    now = datetime.now(UTC)
    work = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)  # working time: the template pages nobody
    s = rt.session_factory()
    for name, kind in [("SIT", "provider"), ("GST", "customer")]:
        directory.create_organisation(s, name=name, kind=kind, now=work)
    admin = directory.create_user(s, email="admin@sit.test", name="a", organisation="SIT",
                                  role="admin", password="benchmark-pw", now=work)
    rep = directory.create_user(s, email="rep@gst.test", name="r", organisation="GST",
                                role="reporter", password="benchmark-pw", now=work)
    directory.create_system(s, key="kort", name="Kort", customer="GST",
                            environments=["production"], vagtordning=True, now=work)
    actor = directory.load_actor(s, admin)
    hook, _ = paging.create_hook(s, actor, {"name": "gw", "url": url, "format": "generic"},
                                 now=work)
    template = tickets.submit_incident(s, rt.rules, rep, directory.load_actor(s, rep), {
        "system": "kort", "environment": "production", "title": "bench", "impact": 1,
        "urgency": 1}, now=work)
    s.commit()
    columns = {c.key: getattr(template, c.key) for c in Ticket.__table__.columns
               if c.key != "id"}
    s.execute(insert(Ticket), [dict(columns, title=f"bench {i}") for i in range(timers)])
    ids = list(s.scalars(select(Ticket.id).where(Ticket.id != template.id).order_by(Ticket.id)))
    levels = [{"position": 1, "hook_id": hook.id, "hook": "gw", "delay_seconds": 60},
              {"position": 2, "hook_id": hook.id, "hook": "gw", "delay_seconds": 60}]
    s.execute(insert(Escalation), [dict(ticket_id=i, party="provider", token=0, levels=levels,
                                        started_at=now) for i in ids])
    esc = list(s.scalars(select(Escalation.id).order_by(Escalation.id)))
    measured_rows = {}
    rows = []
    for n, eid in enumerate(esc):
        message_id = f"msg_{uuid.uuid4().hex}"
        if n < measured:
            measured_rows[message_id] = eid
        # every timer open for now; the measured ones get their deadlines once the relay runs
        rows.append(dict(message_id=message_id, topic="escalate",
                         ticket_id=ids[n], payload={"escalation_id": eid, "token": 0, "level": 2},
                         due_at=now + timedelta(hours=1, seconds=n), status="pending",
                         attempts=0, created_at=now))
    s.execute(insert(OutboxMessage), rows)
    s.commit()
    s.close()
    return measured_rows


def _set_deadlines(rt, measured_rows: dict, spread: float, start_in: float) -> tuple[dict, float]:
    """Give the measured timers deadlines from ``start_in`` s on, over ``spread`` s, in one
    executemany and one commit. Returns ({escalation_id: deadline}, seconds the commit landed
    before the first deadline: negative means the first timers were late before the run)."""
    from sqlalchemy import bindparam, update

    from itilflow.models import OutboxMessage

    now = datetime.now(UTC)
    deadlines, rows = {}, []
    for n, (message_id, eid) in enumerate(measured_rows.items()):
        due = now + timedelta(seconds=start_in + spread * n / max(1, len(measured_rows)))
        deadlines[eid] = due
        rows.append({"mid": message_id, "due": due})
    s = rt.session_factory()
    s.connection().execute(update(OutboxMessage.__table__)
                           .where(OutboxMessage.__table__.c.message_id == bindparam("mid"))
                           .values(due_at=bindparam("due")), rows)
    s.commit()
    s.close()
    margin = (min(deadlines.values()) - datetime.now(UTC)).total_seconds()
    return deadlines, margin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timers", type=int, default=10_000)
    parser.add_argument("--measured", type=int, default=300)
    parser.add_argument("--spread", type=float, default=15.0)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--redis", default="", help="Redis URL: run `itilflow worker` with RQ "
                        "(auto: a private redis-server on a free port)")
    parser.add_argument("--processes", type=int, default=0,
                        help="`itilflow worker --processes N` (default: the worker's own)")
    args = parser.parse_args()

    from itilflow.app import create_app
    from itilflow.jobs.runner import start_embedded_runner
    from itilflow.migrate import upgrade
    from itilflow.models import OutboxMessage
    from itilflow.models.paging import Page
    from itilflow.settings import Settings

    server, arrivals = _receiver()
    db_url, drop = _database(args)
    worker = redis_proc = None
    memory: dict = {}
    worker_start = None
    instance = tempfile.mkdtemp(prefix="itilflow-bench-instance-")
    keep_instance = False
    try:
        if args.redis == "auto":
            args.redis, redis_proc = _private_redis(instance)
        settings = Settings.load(database_url=db_url, secret_key="bench", instance_dir=instance,
                                 redis_url=args.redis)
        app = create_app(settings)
        rt = app.extensions["itilflow"]
        upgrade(rt.engine)
        t0 = time.perf_counter()
        measured_rows = _seed(rt, f"http://127.0.0.1:{server.server_address[1]}/page",
                              args.timers, args.measured, args.spread, start_in=3.0)
        seeded = time.perf_counter() - t0
        if args.redis:
            env = {**os.environ, "ITILFLOW_DATABASE_URL": db_url, "ITILFLOW_REDIS_URL": args.redis,
                   "ITILFLOW_SECRET_KEY": "bench", "ITILFLOW_INSTANCE_DIR": instance}
            command = [sys.executable, "-m", "itilflow.cli", "worker"]
            if args.processes:
                command += ["--processes", str(args.processes)]
            with open(Path(instance) / "worker.log", "wb") as log:
                worker = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log,
                                          stderr=subprocess.STDOUT)
            worker_start = round(_wait_for_rq_worker(args.redis, worker), 1)
        else:
            start_embedded_runner(settings, rules=rt.rules)
        deadlines, margin = _set_deadlines(rt, measured_rows, args.spread, start_in=3.0)
        last = max(deadlines.values())
        while datetime.now(UTC) < last + timedelta(seconds=10) and len(arrivals) < len(deadlines):
            time.sleep(0.2)
        time.sleep(1.0)
        if worker is not None:
            memory = _worker_memory(worker.pid)
        s = rt.session_factory()
        page_of = dict(s.execute(select(Page.message_id, Page.escalation_id)).all())
        open_timers = s.scalar(select(OutboxMessage.id).where(
            OutboxMessage.topic == "escalate", OutboxMessage.status == "pending").limit(1))
        s.close()
        latencies = sorted(arrivals[m] - deadlines[page_of[m]].timestamp()
                           for m in arrivals if page_of.get(m) in deadlines)
        missing = len(deadlines) - len(latencies)
        q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
        result = {
            "backend": "sqlite" if args.sqlite else "postgresql",
            "mode": "rq worker" if args.redis else "embedded runner",
            "open_timers": args.timers, "measured": len(deadlines), "delivered": len(latencies),
            "missing": missing, "extra_deliveries": len(arrivals) - len(latencies),
            "median_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
            "p99_ms": round(q[98] * 1000, 1) if latencies else None,
            "min_ms": round(min(latencies) * 1000, 1) if latencies else None,
            "max_ms": round(max(latencies) * 1000, 1) if latencies else None,
            "seed_seconds": round(seeded, 1), "timers_still_open": open_timers is not None,
            "deadlines_committed_s_before_first": round(margin, 2),
        }
        if worker is not None:
            result.update(processes=args.processes or None, worker_start_seconds=worker_start,
                          **memory)
            if missing:
                result["worker_log"] = str(Path(instance) / "worker.log")
                keep_instance = True
        print(json.dumps(result, indent=2))
        rt.engine.dispose()
    finally:
        stop(worker, 15)
        if redis_proc is not None:
            redis_proc.kill()
            redis_proc.wait(5)
        from itilflow.jobs.runner import stop_embedded_runner

        stop_embedded_runner()
        server.shutdown()
        drop()
        if not keep_instance:
            shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
