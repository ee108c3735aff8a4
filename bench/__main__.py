"""Run the benchmarks: ``python -m bench --tickets 10000,100000,1000000``.

For each backend (PostgreSQL, then the embedded SQLite default) and each ticket count N, the
database is grown to N tickets in bulk, itilflow is started under gunicorn with production
settings, and a bounded load generator drives it over loopback: incident submission, a
transition, the agent queue page, and the ticket list (first page, filtered, text search). The
raw floor (plain psycopg INSERT per ticket-sized row; UPDATE + history INSERT) is measured on
the same database in the same run, and itilflow is reported as a ratio of it. Results go to
``bench/results/results.json`` and ``bench/results/results.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import requests

from bench.loadgen import json_body, run_load
from bench.procs import children, free_port, peak_rss_mb, stop
from bench.seed import PASSWORD, bulk_tickets, open_ticket_ids, seed_directory
from itilflow.app import create_app
from itilflow.migrate import upgrade
from itilflow.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PG_ADMIN = os.environ.get("ITILFLOW_BENCH_POSTGRES_URL",
                          "postgresql://postgres@127.0.0.1:5432/postgres")


class Server:
    """itilflow under gunicorn, as `itilflow serve` starts it."""

    def __init__(self, database_url: str, workers: int, *, redis_url: str = "",
                 worker_processes: int = 0) -> None:
        self.port = free_port()
        self.env = {**os.environ, "ITILFLOW_DATABASE_URL": database_url,
                    "ITILFLOW_SECRET_KEY": "bench-secret", "ITILFLOW_REDIS_URL": redis_url,
                    "ITILFLOW_LOGIN_RATE_LIMIT": "100000 per minute",
                    "ITILFLOW_FORM_RATE_LIMIT": "100000 per minute",
                    "ITILFLOW_API_RATE_LIMIT": "1000000 per minute"}
        self.workers = workers
        self.proc: subprocess.Popen | None = None
        #: with Redis, the background work runs in `itilflow worker --processes N` beside the
        #: web workers, as a production install runs it (without, each web worker relays)
        self.worker_processes = worker_processes if redis_url else 0
        self.worker: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "itilflow.cli", "serve", "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", str(self.workers), "--quiet"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
        if self.worker_processes:
            self.worker = subprocess.Popen(
                [sys.executable, "-m", "itilflow.cli", "worker", "--processes",
                 str(self.worker_processes)],
                env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).ok:
                    return self
            except requests.RequestException:
                time.sleep(0.3)
        raise RuntimeError("itilflow did not start: " + self.proc.stderr.read().decode()[-2000:])

    def worker_peak_mb(self) -> float:
        return max((peak_rss_mb(p) for p in children(self.proc.pid)), default=0.0)

    def background_peak_mb(self) -> float:
        """The largest peak RSS among the background worker's processes (0: none runs)."""
        if self.worker is None:
            return 0.0
        return max((peak_rss_mb(p) for p in [self.worker.pid, *children(self.worker.pid)]),
                   default=0.0)

    def __exit__(self, *exc) -> None:
        for proc in (self.worker, self.proc):
            stop(proc)


def drain_seconds(rt, limit: float = 300.0) -> float | None:
    """After a write test: how long until no outbox row is due and pending any more (the
    notifications the writes caused, run by the relays or the worker); None: not in ``limit``."""
    from sqlalchemy import func, select

    from itilflow.models import OutboxMessage

    started = time.monotonic()
    while time.monotonic() - started < limit:
        with rt.session_factory() as s:
            left = s.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.status == "pending", OutboxMessage.due_at <= datetime.now(UTC)))
        if not left:
            return round(time.monotonic() - started, 1)
        time.sleep(0.5)
    return None


def login_cookie(port: int, email: str) -> str:
    s = requests.Session()
    page = s.get(f"http://127.0.0.1:{port}/login", timeout=10).text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    s.post(f"http://127.0.0.1:{port}/login", timeout=10, allow_redirects=False,
           data={"email": email, "password": PASSWORD, "csrf_token": match.group(1) if match else ""})
    return "; ".join(f"{c.name}={c.value}" for c in s.cookies)


def measure_http(port: int, info: dict, n_requests: int, concurrency: int, rt,
                 read_concurrency: int) -> list[dict]:
    rep = {"Authorization": f"Bearer {info['tokens']['rep@gst.bench']}",
           "Content-Type": "application/json"}
    sit = {"Authorization": f"Bearer {info['tokens']['agent@sit.bench']}",
           "Content-Type": "application/json"}
    gst_systems = [key for _, key, cust in info["systems"]][:1]
    body = json_body({"system": gst_systems[0], "environment": "production",
                      "layer": "operating_system", "title": "Bench: disk full",
                      "description": "Submitted by the benchmark.", "impact": 3, "urgency": 3})
    results = []
    results.append(run_load("submit incident (POST /api/v1/incidents)", "127.0.0.1", port,
                            lambda i: ("POST", "/api/v1/incidents", body), total=n_requests,
                            concurrency=concurrency, headers=rep).summary())
    results[-1]["outbox_drain_s"] = drain_seconds(rt)
    ids = open_ticket_ids(rt, n_requests)
    if len(ids) < n_requests:
        ids = (ids * (n_requests // max(1, len(ids)) + 1))[:n_requests]
    trans = json_body({"trigger": "acknowledge"})
    results.append(run_load("transition (POST /api/v1/tickets/{id}/transitions)", "127.0.0.1",
                            port, lambda i: ("POST", f"/api/v1/tickets/{ids[i]}/transitions",
                                             trans),
                            total=n_requests, concurrency=concurrency, headers=sit).summary())
    results[-1]["outbox_drain_s"] = drain_seconds(rt)
    reads = max(200, n_requests // 2)
    cookie = login_cookie(port, "agent@sit.bench")
    # warm every web worker's statement caches on each page first (not measured): the
    # figures are the steady state of a running server, not its first requests
    for path, headers in [("/agent", {"Cookie": cookie}), ("/api/v1/tickets", sit),
                          ("/api/v1/tickets?state=new&layer=operating_system&priority=P3", sit),
                          ("/api/v1/tickets?q=certificate", sit)]:
        run_load("warm-up", "127.0.0.1", port, lambda i, p=path: ("GET", p, None), total=30,
                 concurrency=3, headers=headers)
    results.append(run_load("agent queue page (GET /agent)", "127.0.0.1", port,
                            lambda i: ("GET", "/agent", None), total=reads,
                            concurrency=read_concurrency, headers={"Cookie": cookie}).summary())
    for name, path in [("ticket list first page (GET /api/v1/tickets)", "/api/v1/tickets"),
                       ("ticket list filtered", "/api/v1/tickets?state=new&layer=operating_system"
                                                "&priority=P3"),
                       ("ticket list text search", "/api/v1/tickets?q=certificate")]:
        results.append(run_load(name, "127.0.0.1", port, lambda i, p=path: ("GET", p, None),
                                total=reads, concurrency=read_concurrency,
                                headers=sit).summary())
    return results


def measure_floor(database_url: str, n_requests: int, concurrency: int) -> list[dict]:
    """The raw floor: what psycopg alone does on the same database and the same concurrency."""
    if not database_url.startswith("postgresql"):
        return []
    from bench.loadgen import LoadResult

    def run(name: str, work) -> dict:
        res = LoadResult(name=name, requests=n_requests, concurrency=concurrency, elapsed=0.0)
        lock = threading.Lock()
        counter = iter(range(n_requests))

        def worker() -> None:
            with psycopg.connect(database_url) as conn:
                lat = []
                while True:
                    with lock:
                        i = next(counter, None)
                    if i is None:
                        break
                    t0 = time.perf_counter()
                    work(conn, i)
                    lat.append((time.perf_counter() - t0) * 1000)
                with lock:
                    res.latencies_ms.extend(lat)
                    res.statuses[200] = res.statuses.get(200, 0) + len(lat)

        threads = [threading.Thread(target=worker) for _ in range(concurrency)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        res.elapsed = time.perf_counter() - t0
        return res.summary()

    with psycopg.connect(database_url) as conn:
        sys_id, cust, rep = conn.execute(
            "SELECT s.id, s.customer_id, u.id FROM systems s, users u LIMIT 1").fetchone()
        base_id = conn.execute("SELECT max(id) FROM tickets").fetchone()[0] + 10_000_000
    now = datetime.now(UTC)

    def insert(conn, i):
        with conn.transaction():
            conn.execute(
                "INSERT INTO tickets (id, kind, state, title, description, system_id, customer_id,"
                " environment, layer, activity, impact, urgency, priority, responsible_party,"
                " accountable_party, on_request, reporter_id, outage, after_hours, details,"
                " sla_pauses, escalation_token, workflow_version, created_at, updated_at, version)"
                " VALUES (%s, 'incident', 'new', 'Raw floor row', 'Inserted by psycopg.', %s, %s,"
                " 'production', 'operating_system', 'incident_management', 3, 3, 'P5',"
                " 'provider', 'provider', false, %s, false, false, '{}', '[]', 0, 'floor', %s,"
                " %s, 1)", (base_id + i, sys_id, cust, rep, now, now))

    def update(conn, i):
        with conn.transaction():
            conn.execute("UPDATE tickets SET acknowledged_at = %s, version = version + 1 "
                         "WHERE id = %s", (now, base_id + i))
            conn.execute(
                "INSERT INTO ticket_events (ticket_id, seq, kind, trigger, actor_label, data,"
                " workflow_version, created_at, prev_hash, hash) VALUES (%s, %s, 'transition',"
                " 'acknowledge', 'floor', '{}', 'floor', %s, %s, %s)",
                (base_id + i, 2, now, "0" * 64, "f" * 64))

    out = [run("floor: psycopg INSERT per ticket row", insert),
           run("floor: psycopg UPDATE + history INSERT", update)]
    with psycopg.connect(database_url) as conn:
        conn.execute("DELETE FROM ticket_events WHERE workflow_version = 'floor'")
        conn.execute("DELETE FROM tickets WHERE workflow_version = 'floor'")
    return out


def create_pg_database() -> tuple[str, str]:
    name = f"itilflow_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_backend(backend: str, sizes: list[int], args) -> dict:
    pg_name = None
    if backend == "postgresql":
        pg_name, url = create_pg_database()
    else:
        path = RESULTS / f"bench-{uuid.uuid4().hex[:6]}.db"
        url = f"sqlite:///{path}"
    out = {"backend": backend, "sizes": {}}
    try:
        app = create_app(Settings.load(database_url=url, secret_key="bench"))
        rt = app.extensions["itilflow"]
        upgrade(rt.engine)
        info = seed_directory(rt, datetime.now(UTC))
        for n in sizes:
            t0 = time.perf_counter()
            added = bulk_tickets(rt, info, n)
            seeded = time.perf_counter() - t0
            if backend == "postgresql":
                # a bulk load leaves the tables unvacuumed: settle them now, as a live database
                # would be, rather than let autovacuum run in the middle of the measurement
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute("VACUUM (ANALYZE) tickets, ticket_events")
                    # and write the bulk load out now, not in a checkpoint during the measurement
                    # (at 1M one landed in the raw floor's INSERT run: p99 1 s)
                    conn.execute("CHECKPOINT")
            print(f"[{backend}] {n:,} tickets (+{added:,} in {seeded:.1f}s)", flush=True)
            redis_url = args.redis if backend == "postgresql" else ""
            with Server(url, args.workers, redis_url=redis_url,
                        worker_processes=args.worker_processes) as server:
                http = measure_http(server.port, info, args.requests, args.concurrency, rt,
                                    args.read_concurrency or args.concurrency)
                web_peak = server.worker_peak_mb()
                bg_peak = server.background_peak_mb()
            floor = measure_floor(url, args.requests, args.concurrency) \
                if backend == "postgresql" else []
            out["sizes"][n] = {"seed_seconds": round(seeded, 1), "http": http, "floor": floor,
                               "web_worker_peak_mb": round(web_peak, 1),
                               "background_worker_peak_mb": round(bg_peak, 1),
                               "mode": f"redis + itilflow worker --processes "
                                       f"{args.worker_processes}" if redis_url
                               else "embedded relay in each web worker (no Redis)"}
            for row in http + floor:
                print(f"  {row['name']:<55} {row['rps']:>8} req/s  p50 {row['p50_ms']:>7} ms"
                      f"  p95 {row['p95_ms']:>7} ms  p99 {row['p99_ms']:>7} ms  "
                      f"{row['statuses']}", flush=True)
            print(f"  web worker peak RSS {web_peak:.1f} MB; background worker {bg_peak:.1f} MB;"
                  f" writes' outbox drained in {http[0].get('outbox_drain_s')} / "
                  f"{http[1].get('outbox_drain_s')} s", flush=True)
        rt.engine.dispose()
    finally:
        if pg_name and not args.keep:
            drop_pg_database(pg_name)
        if backend == "sqlite" and not args.keep:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
    return out


def growth(result: dict) -> dict:
    sizes = sorted(result["sizes"])
    if len(sizes) < 2:
        return {}
    first, last = result["sizes"][sizes[0]]["http"], result["sizes"][sizes[-1]]["http"]
    return {a["name"]: {"p95_ratio": round(b["p95_ms"] / a["p95_ms"], 2) if a["p95_ms"] else None,
                        "rps_ratio": round(b["rps"] / a["rps"], 2) if a["rps"] else None}
            for a, b in zip(first, last, strict=True)}


def markdown(results: list[dict], extras: dict) -> str:
    lines = [f"# itilflow benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
             "", f"Machine: {os.cpu_count()} cores, {platform.python_version()}; load generator on"
             " the same machine (loopback).", ""]
    for res in results:
        lines += [f"## {res['backend']}", "",
                  "| tickets | operation | req/s | p50 ms | p95 ms | p99 ms | non-2xx |",
                  "| ---: | --- | ---: | ---: | ---: | ---: | ---: |"]
        for n, data in sorted(res["sizes"].items()):
            for row in data["http"] + data["floor"]:
                bad = sum(v for k, v in row["statuses"].items() if int(k) >= 300) + row["errors"]
                lines.append(f"| {n:,} | {row['name']} | {row['rps']} | {row['p50_ms']} | "
                             f"{row['p95_ms']} | {row['p99_ms']} | {bad} |")
            floor = {r["name"]: r for r in data["floor"]}
            if floor:
                sub = data["http"][0]["rps"] / floor["floor: psycopg INSERT per ticket row"]["rps"]
                tr = data["http"][1]["rps"] / floor["floor: psycopg UPDATE + history INSERT"]["rps"]
                lines.append(f"| {n:,} | *itilflow / floor* | submit {sub:.2f}x, transition "
                             f"{tr:.2f}x | | | | |")
            lines.append(f"| {n:,} | web worker peak RSS | {data['web_worker_peak_mb']} MB | | | | |")
            if data.get("background_worker_peak_mb"):
                lines.append(f"| {n:,} | background worker peak RSS (per process) | "
                             f"{data['background_worker_peak_mb']} MB | | | | |")
            drains = [r.get("outbox_drain_s") for r in data["http"][:2]]
            lines.append(f"| {n:,} | outbox drained after submit / transition | "
                         f"{drains[0]} s / {drains[1]} s ({data.get('mode')}) | | | | |")
        g = growth(res)
        if g:
            lines += ["", "Growth from the smallest to the largest size (p95 ratio, req/s ratio):", ""]
            lines += [f"- {name}: p95 x{v['p95_ratio']}, req/s x{v['rps_ratio']}"
                      for name, v in g.items()]
        lines.append("")
    for name, value in extras.items():
        lines += [f"## {name}", "", "```", json.dumps(value, indent=2), "```", ""]
    return "\n".join(lines)


def _run_script(command: list[str]) -> dict:
    """Run one of the standalone benchmarks and keep what it printed."""
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1200,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    except subprocess.TimeoutExpired:
        return {"command": " ".join(command[1:]), "error": "timed out after 1200 s"}
    return {"command": " ".join(command[1:]), "exit": done.returncode,
            "output": done.stdout.strip().splitlines()[-40:]}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", default="10000,100000",
                        help="comma list of ticket counts (default 10000,100000)")
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--requests", type=int, default=2000, help="requests per write test")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--read-concurrency", type=int, default=0,
                        help="concurrency of the page and list reads (default: --concurrency)")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument("--skip-paging", action="store_true")
    parser.add_argument("--skip-report", action="store_true")
    parser.add_argument("--keep", action="store_true",
                        help="keep the PostgreSQL database (and the SQLite file)")
    parser.add_argument("--redis", default="",
                        help="PostgreSQL runs: a Redis URL; the background work then runs in "
                             "`itilflow worker` beside gunicorn (default: the embedded relay)")
    parser.add_argument("--worker-processes", type=int, default=2,
                        help="`itilflow worker --processes N` with --redis (default 2)")
    parser.add_argument("--paging-processes", type=int, default=3,
                        help="`itilflow worker --processes N` in the RQ page-out run (default 3)")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.tickets.split(",") if s.strip())
    RESULTS.mkdir(parents=True, exist_ok=True)
    results = [run_backend(b.strip(), sizes, args) for b in args.backends.split(",") if b.strip()]
    extras: dict = {}
    if not args.skip_paging:
        extras["page-out latency (python -m bench.paging: 10,000 open escalation timers)"] = \
            _run_script([sys.executable, "-m", "bench.paging"])
        if shutil.which("redis-server"):  # the RQ worker, with its peak memory
            extras["page-out latency, RQ worker (python -m bench.paging --redis auto "
                   f"--processes {args.paging_processes})"] = \
                _run_script([sys.executable, "-m", "bench.paging", "--redis", "auto",
                             "--processes", str(args.paging_processes)])
    if not args.skip_report:
        extras["monthly report (python bench/report.py: 100,000 tickets in the month)"] = \
            _run_script([sys.executable, "bench/report.py"])
    for res in results:
        res["growth"] = growth(res)
    (RESULTS / "results.json").write_text(json.dumps({"results": results, "extras": extras},
                                                     indent=2, default=str))
    md = markdown(results, extras)
    (RESULTS / "results.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
