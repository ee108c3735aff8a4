"""Running the relay: an embedded thread in the web process (no Redis), and the
``itilflow worker`` loop (relay + RQ worker when Redis is set, relay alone otherwise).

``itilflow worker --processes N`` (Redis set, N > 1) starts the app once, then forks N worker
processes that share it: the first runs the relay and an RQ worker, the others an RQ worker
each; the parent only watches them and starts a new one when one dies. Every RQ worker is a
``SimpleWorker`` (the job runs in the worker process, no fork per job) with its own database
engine and Redis connection, created after the fork.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from datetime import UTC, datetime, timedelta

from itilflow.jobs import tasks
from itilflow.jobs.context import JobContext, context_from_settings
from itilflow.jobs.relay import QUEUE_NAME, Relay
from itilflow.settings import Settings

log = logging.getLogger("itilflow.jobs")
#: the longest an idle relay sleeps (it wakes earlier when the next pending row falls due)
TICK_SECONDS = 0.25
#: rows run in parallel when the relay runs them itself (no Redis)
RUN_THREADS = 8


def relay_loop(relay: Relay, stop: threading.Event, tick: float = TICK_SECONDS) -> None:
    """Tick until ``stop``; survives database and Redis outages (logs, waits, tries again).
    Idle, it sleeps until the next pending row falls due, at most ``tick``."""
    while not stop.is_set():
        wait = tick
        try:
            now = datetime.now(UTC)
            busy = bool(relay.run_due(now))
            if not busy:
                nxt = relay.next_due(now)
                if nxt is not None and nxt < now + timedelta(seconds=tick):
                    wait = max(0.0, (nxt - datetime.now(UTC)).total_seconds())
        except Exception as exc:
            log.warning("relay tick failed: %s", exc)
            busy = False
        if not busy:
            stop.wait(wait)


_embedded: dict[int, threading.Thread] = {}
_stops: dict[int, threading.Event] = {}


def stop_embedded_runner(timeout: float = 5.0) -> None:
    """Stop this process's embedded runner (tests, the benchmark)."""
    import os

    stop = _stops.pop(os.getpid(), None)
    thread = _embedded.pop(os.getpid(), None)
    if stop is not None:
        stop.set()
    if thread is not None:
        thread.join(timeout)


def start_embedded_runner(settings: Settings, *, session_factory=None, rules=None
                          ) -> threading.Thread | None:
    """Start the relay in a daemon thread of this process (once), running rows itself.
    Does nothing when Redis is configured (``itilflow worker`` runs them then)."""
    import os

    if settings.redis_url:
        return None
    if os.getpid() in _embedded:
        return _embedded[os.getpid()]
    ctx = context_from_settings(settings, session_factory=session_factory, rules=rules)
    stop = threading.Event()
    thread = threading.Thread(target=relay_loop, args=(Relay(ctx, threads=RUN_THREADS), stop),
                              daemon=True,
                              name="itilflow-outbox")
    thread.start()
    _embedded[os.getpid()] = thread
    _stops[os.getpid()] = stop
    return thread


def run_worker(settings: Settings, *, stop: threading.Event | None = None, processes: int = 1,
               rules=None) -> None:
    """The worker, in the foreground until ``stop`` (or SIGINT/SIGTERM); with Redis and
    ``processes`` > 1, a parent watching that many forked worker processes."""
    if settings.redis_url and processes > 1:
        _run_pool(settings, processes, rules)
        return
    _run_one(settings, stop=stop or threading.Event(), rules=rules)


def _run_one(settings: Settings, *, stop: threading.Event, rules=None, relay: bool = True
             ) -> None:
    ctx = context_from_settings(settings, rules=rules, pre_ping=False)
    tasks.configure(ctx)
    if not settings.redis_url:
        log.info("no Redis: the relay runs the outbox itself")
        _own_signals(stop)
        relay_loop(Relay(ctx, threads=RUN_THREADS), stop)
        return
    from redis import Redis
    from rq import Queue

    connection = Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=3,
                                health_check_interval=10)
    queue = Queue(QUEUE_NAME, connection=connection)
    relay_thread = None
    if relay:
        relay_thread = threading.Thread(target=relay_loop, args=(Relay(ctx, queue=queue), stop),
                                        daemon=True, name="itilflow-relay")
        relay_thread.start()
    _rq_loop(ctx, connection, queue, stop)
    if relay_thread is not None:
        relay_thread.join(timeout=5)


def _run_pool(settings: Settings, processes: int, rules=None) -> None:
    """Fork ``processes`` workers (the first also runs the relay) and keep that many alive
    until SIGINT/SIGTERM, which is passed on to them (each finishes its job first). The parent
    holds no threads, connections or sockets when it forks."""
    import signal
    import time

    from itilflow.services.rules import load_rules

    rules = rules or load_rules(settings)  # built once, shared by the children (copy on write)
    children: dict[int, int] = {}  # pid -> slot
    stopping = []

    parent = os.getpid()

    def spawn(slot: int) -> None:
        pid = os.fork()
        if pid == 0:  # the child
            code = 0
            try:
                for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
                    signal.signal(signum, signal.SIG_DFL)
                # a group of its own: Ctrl+C reaches the parent only, which passes on one
                # SIGTERM (RQ takes a second signal as "stop now", abandoning the job)
                os.setpgid(0, 0)
                _die_with_parent()
                if os.getppid() != parent:  # it died before the line above
                    return
                _run_one(settings, stop=threading.Event(), rules=rules, relay=slot == 0)
            except BaseException:  # a child never returns into the parent's code
                log.exception("worker process %d failed", slot)
                code = 1
            finally:
                logging.shutdown()
                os._exit(code)
        children[pid] = slot

    def on_signal(signum, _frame) -> None:
        stopping.append(signum)
        for pid in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    for slot in range(processes):
        spawn(slot)
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        slot = children.pop(pid, None)
        if slot is None or stopping:
            continue
        log.warning("worker process %d (pid %d) ended with status %d; starting another", slot,
                    pid, os.waitstatus_to_exitcode(status))
        time.sleep(1.0)
        if not stopping:
            spawn(slot)


def _die_with_parent() -> None:
    """Linux: this process gets SIGTERM when the pool's parent dies (even by SIGKILL)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _rq_loop(ctx: JobContext, connection, queue, stop: threading.Event) -> None:
    """Run RQ jobs in this process (SimpleWorker: no fork) until SIGINT/SIGTERM. RQ waits for
    Redis when it goes away and carries on when it is back; anything that still escapes
    restarts the worker after a pause."""
    from rq import SimpleWorker

    while not stop.is_set():
        try:
            worker = SimpleWorker([queue], connection=connection)
            worker.work(logging_level="WARNING")
            stop.set()  # work() returns on SIGINT/SIGTERM
        except Exception as exc:  # redis.ConnectionError and friends
            log.warning("RQ worker: %r; restarting", exc)
            stop.wait(1.0)


def _own_signals(stop: threading.Event) -> None:
    """Between RQ bursts, SIGINT/SIGTERM stop the loop (RQ installs its own during a burst)."""
    import signal

    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
