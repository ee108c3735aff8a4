"""The worker as a real process against real PostgreSQL and a real Redis (a second
redis-server of the test's own on a free loopback port, stopped and started at will; the shared
one on 6379 is never touched): Redis away and back, a worker killed with SIGKILL mid-delivery.
Each asserts exactly the deliveries it expects."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from itilflow.models import OutboxMessage
from tests.paging.conftest import make_hooks, raise_incident

pytestmark = pytest.mark.redis
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _postgresql_only(backend):
    if backend != "postgresql":
        pytest.skip("process-level worker tests run on PostgreSQL")
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    def __init__(self, tmp: Path) -> None:
        self.port = _free_port()
        self.tmp = tmp
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.tmp)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(lambda: _connects(self.port), 10, "redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            self.proc = None


def _connects(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def _wait(condition, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(message)


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def workers(database_url, tmp_path):
    started: list[subprocess.Popen] = []

    def start(redis_url: str = "", *args: str) -> subprocess.Popen:
        env = {**os.environ, "ITILFLOW_DATABASE_URL": database_url,
               "ITILFLOW_REDIS_URL": redis_url, "ITILFLOW_SECRET_KEY": "test",
               "ITILFLOW_INSTANCE_DIR": str(tmp_path), "ITILFLOW_OUTBOX_LEASE_SECONDS": "3"}
        log = open(tmp_path / f"worker{len(started)}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen([sys.executable, "-m", "itilflow.cli", "worker", *args], cwd=ROOT,
                                env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
    for log in sorted(tmp_path.glob("worker*.log")):
        sys.stderr.write(log.read_text(errors="replace")[-3000:])


def _numbers(receiver) -> list[str]:
    return sorted(r["body"]["ticket"]["number"] for r in receiver.requests)


def test_redis_away_while_incidents_arrive_then_back(rt, world, receiver, redis_server, workers):
    make_hooks(rt, receiver, delays=(0,))  # one level: the page, nothing else
    workers(redis_server.url)
    first = [raise_incident(rt, title=f"a{i}") for i in range(3)]
    _wait(lambda: len(receiver.requests) >= 3, 30, "pages before the outage not delivered")
    redis_server.stop()
    second = [raise_incident(rt, title=f"b{i}") for i in range(3)]
    time.sleep(2)
    assert _numbers(receiver) == sorted(first)   # nothing goes out while Redis is away
    redis_server.start()
    _wait(lambda: len(receiver.requests) >= 6, 40, "pages after the outage not delivered")
    time.sleep(4)  # longer than a lease: nothing more comes
    assert _numbers(receiver) == sorted(first + second)
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 6


def test_worker_killed_mid_delivery_page_is_delivered(rt, world, receiver, redis_server, workers):
    make_hooks(rt, receiver, delays=(0,))
    receiver.script = [(200, {}, 8.0)]  # the first attempt hangs until the worker is dead
    number = raise_incident(rt)
    victim = workers(redis_server.url)
    assert receiver.arrived.wait(30), "the page never went out"
    victim.send_signal(signal.SIGKILL)
    victim.wait(10)
    workers(redis_server.url)
    _wait(lambda: len(receiver.requests) >= 2, 40, "the page was not delivered after the kill")
    time.sleep(4)
    assert [r["body"]["ticket"]["number"] for r in receiver.requests] == [number, number]
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1
    s = rt.session_factory()
    statuses = {m.topic: m.status for m in s.scalars(select(OutboxMessage))}
    s.close()
    assert statuses["page"] == "done"


def test_worker_without_redis_runs_the_outbox_itself(rt, world, receiver, workers):
    make_hooks(rt, receiver, delays=(0,))
    numbers = [raise_incident(rt, title=f"c{i}") for i in range(2)]
    workers("")
    _wait(lambda: len(receiver.requests) >= 2, 30, "pages not delivered")
    time.sleep(1)
    assert _numbers(receiver) == sorted(numbers)


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


def _pages_done(rt) -> int:
    s = rt.session_factory()
    done = len(list(s.scalars(select(OutboxMessage.id).where(OutboxMessage.topic == "page",
                                                             OutboxMessage.status == "done"))))
    s.close()
    return done


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_worker_processes_share_the_queue_and_replace_a_dead_one(rt, world, receiver,
                                                                 redis_server, workers):
    make_hooks(rt, receiver, delays=(0,))
    parent = workers(redis_server.url, "--processes", "3")
    _wait(lambda: len(_children(parent.pid)) == 3, 60, "three worker processes not started")
    first = [raise_incident(rt, title=f"p{i}") for i in range(6)]
    _wait(lambda: len(receiver.requests) >= 6, 40, "pages not delivered by the pool")
    _wait(lambda: _pages_done(rt) == 6, 20, "deliveries not recorded")  # killing is not the test
    victim = sorted(_children(parent.pid))[-1]
    os.kill(victim, signal.SIGKILL)
    _wait(lambda: victim not in _children(parent.pid) and len(_children(parent.pid)) == 3, 30,
          "the dead worker process was not replaced")
    second = [raise_incident(rt, title=f"q{i}") for i in range(3)]
    _wait(lambda: len(receiver.requests) >= 9, 40, "pages not delivered after the replacement")
    time.sleep(4)  # longer than a lease: nothing more comes
    assert _numbers(receiver) == sorted(first + second)
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 9
    kids = _children(parent.pid)
    parent.terminate()
    parent.wait(30)
    _wait(lambda: not any(_alive(k) for k in kids), 30, "worker processes outlived SIGTERM")


def test_worker_processes_end_when_their_parent_is_killed(rt, world, redis_server, workers):
    parent = workers(redis_server.url, "--processes", "2")
    _wait(lambda: len(_children(parent.pid)) == 2, 60, "two worker processes not started")
    kids = _children(parent.pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait(10)
    _wait(lambda: not any(_alive(k) for k in kids), 30, "worker processes outlived their parent")


def test_a_monthly_report_in_the_outbox_does_not_hold_back_the_pages(rt, world, receiver,
                                                                      redis_server, workers):
    """A report row's message id (``report:<customer>:<month>``) has characters RQ refuses in
    a job id: the relay spells it in RQ's alphabet, and a row RQ refused would not hold back
    the batch it came in (a page claimed beside it was never sent)."""
    from itilflow.runtime import utcnow
    from itilflow.services import reports

    make_hooks(rt, receiver, delays=(0,))
    with rt.session_factory() as s, s.begin():
        written = reports.send_monthly_reports(s, rt.rules, now=utcnow())
    assert any(":" in message_id for message_id in written)
    number = raise_incident(rt)
    workers(redis_server.url)
    _wait(lambda: len(receiver.requests) >= 1, 30, "the page was held back")
    assert [r["body"]["ticket"]["number"] for r in receiver.requests] == [number]

    def reports_done() -> bool:
        with rt.session_factory() as s:
            return {m.status for m in s.scalars(select(OutboxMessage).where(
                OutboxMessage.topic == "report"))} == {"done"}
    _wait(reports_done, 30, "the monthly reports were not sent")
