"""Running the relay: an embedded thread in the web process (no Redis), and the
``itilflow worker`` loop (relay + RQ worker when Redis is set, relay alone otherwise)."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from itilflow.jobs import tasks
from itilflow.jobs.context import JobContext, context_from_settings
from itilflow.jobs.relay import QUEUE_NAME, Relay
from itilflow.settings import Settings

log = logging.getLogger("itilflow.jobs")
TICK_SECONDS = 0.5
#: rows run in parallel when the relay runs them itself (no Redis)
RUN_THREADS = 8


def relay_loop(relay: Relay, stop: threading.Event, tick: float = TICK_SECONDS) -> None:
    """Tick until ``stop``; survives database and Redis outages (logs, waits, tries again)."""
    while not stop.is_set():
        try:
            busy = bool(relay.run_due(datetime.now(UTC)))
        except Exception as exc:
            log.warning("relay tick failed: %s", exc)
            busy = False
        if not busy:
            stop.wait(tick)


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


def run_worker(settings: Settings, *, stop: threading.Event | None = None) -> None:
    """The worker, in the foreground until ``stop`` (or SIGINT/SIGTERM)."""
    stop = stop or threading.Event()
    ctx = context_from_settings(settings)
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
    relay_thread = threading.Thread(target=relay_loop, args=(Relay(ctx, queue=queue), stop),
                                    daemon=True, name="itilflow-relay")
    relay_thread.start()
    _rq_loop(ctx, connection, queue, stop)
    relay_thread.join(timeout=5)


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
