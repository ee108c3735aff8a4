"""The outbox relay: claims due pending rows and runs them, or hands them to RQ.

Claiming sets a lease (``claimed_until``); a row whose lease ran out (its relay or worker died)
is claimed again. On PostgreSQL the claim is ``FOR UPDATE SKIP LOCKED`` so relays never wait
for each other; on SQLite the single conditional UPDATE is atomic. Either way a row runs once per
attempt: ``tasks.execute`` takes it with a compare-and-set on ``attempts``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError
from sqlalchemy import func, or_, select, update

from itilflow.jobs import tasks
from itilflow.jobs.context import JobContext
from itilflow.models import OutboxMessage

log = logging.getLogger("itilflow.jobs")
QUEUE_NAME = "itilflow"
#: what RQ accepts in a job id
_JOB_ID_SAFE = re.compile(r"[A-Za-z0-9_-]+")


def rq_job_id(message_id: str, attempts: int) -> str:
    """The RQ job id of an outbox row's attempt. RQ takes only letters, digits, ``_`` and
    ``-``; a message id with anything else (a monthly report's ``report:GST:2026-11``) is
    spelt in those, with a digest of the original so that two ids never meet."""
    if _JOB_ID_SAFE.fullmatch(message_id):
        return f"{message_id}-{attempts}"
    digest = hashlib.sha256(message_id.encode()).hexdigest()[:16]
    return f"{re.sub(r'[^A-Za-z0-9_-]', '_', message_id)[:100]}_{digest}-{attempts}"


class Relay:
    def __init__(self, ctx: JobContext, *, queue=None, batch: int = 200, threads: int = 1) -> None:
        self.ctx = ctx
        #: an ``rq.Queue``: rows are handed to RQ workers; None: run here
        self.queue = queue
        self.batch = batch
        #: rows run here run on this many threads (1: in order, in the caller's thread)
        self.threads = threads
        self._pool = None

    def claim(self, now: datetime) -> list[tuple[str, int, str]]:
        """Claim up to ``batch`` due rows for one lease: [(message_id, attempts, topic)]."""
        until = now + timedelta(seconds=self.ctx.settings.outbox_lease_seconds)
        due = (select(OutboxMessage.id)
               .where(OutboxMessage.status == "pending", OutboxMessage.due_at <= now,
                      or_(OutboxMessage.claimed_until.is_(None),
                          OutboxMessage.claimed_until < now))
               .order_by(OutboxMessage.due_at, OutboxMessage.id).limit(self.batch)
               .with_for_update(skip_locked=True))
        with self.ctx.session_factory() as session, session.begin():
            rows = session.execute(
                update(OutboxMessage).where(OutboxMessage.id.in_(due.scalar_subquery()))
                .values(claimed_until=until)
                .returning(OutboxMessage.id, OutboxMessage.message_id, OutboxMessage.attempts,
                           OutboxMessage.due_at, OutboxMessage.topic)
                .execution_options(synchronize_session=False)).all()
        rows.sort(key=lambda r: (r.due_at, r.id))
        return [(r.message_id, r.attempts, r.topic) for r in rows]

    def next_due(self, now: datetime) -> datetime | None:
        """When the next pending row falls due after ``now`` (None: none does), so that an idle
        relay wakes at that deadline rather than up to a tick after it."""
        with self.ctx.session_factory() as session:
            return session.scalar(select(func.min(OutboxMessage.due_at)).where(
                OutboxMessage.status == "pending", OutboxMessage.due_at > now))

    def release(self, claimed: list[tuple[str, int]]) -> None:
        """Give rows back (RQ was unreachable): the next tick claims them again."""
        with self.ctx.session_factory() as session, session.begin():
            session.execute(update(OutboxMessage)
                            .where(OutboxMessage.message_id.in_([m for m, _ in claimed]))
                            .values(claimed_until=None)
                            .execution_options(synchronize_session=False))

    def run_due(self, now: datetime | None = None) -> list[tuple[str, str]]:
        """One tick: claim what is due at ``now`` and run it here or enqueue it in RQ.
        Returns [(message_id, result)] ("queued" for rows handed to RQ)."""
        now = now or datetime.now(UTC)
        claimed: list[tuple[str, int]] = []
        in_app: list[tuple[str, int]] = []
        for message_id, attempts, topic in self.claim(now):
            (in_app if tasks.in_app_only(self.ctx, topic) else claimed).append(
                (message_id, attempts))
        results = self._hand_over(claimed, now) if claimed else []
        # notifications that only write a row in this database run here, after the pages and
        # in one transaction per tick: a trip through RQ per row cost more than the write
        return results + tasks.execute_in_app(self.ctx, in_app, now=now)

    def _hand_over_one_by_one(self, claimed: list[tuple[str, int]], jobs: list
                              ) -> list[tuple[str, str]]:
        handed, refused = [], []
        for (message_id, attempts), job in zip(claimed, jobs, strict=True):
            try:
                self.queue.enqueue_many([job])
            except (RedisError, OSError):
                refused.append((message_id, attempts))
            except Exception:
                log.exception("RQ refused outbox row %s; it stays pending", message_id)
                refused.append((message_id, attempts))
            else:
                handed.append((message_id, "queued"))
        if refused:
            self.release(refused)
        return handed

    def _hand_over(self, claimed: list[tuple[str, int]], now: datetime) -> list[tuple[str, str]]:
        """Enqueue the rows in RQ, or run them here."""
        if self.queue is not None:
            # one Redis round trip for the whole batch (a pipeline), not several per row
            jobs = [self.queue.prepare_data(tasks.rq_execute, (message_id, attempts),
                                            job_id=rq_job_id(message_id, attempts),
                                            result_ttl=600,
                                            failure_ttl=86_400,
                                            timeout=self.ctx.settings.outbox_lease_seconds)
                    for message_id, attempts in claimed]
            try:
                self.queue.enqueue_many(jobs)
            except (RedisError, OSError) as exc:  # Redis away: keep the rows for the next tick
                log.warning("RQ unreachable (%s); %d row(s) stay in the outbox", exc,
                            len(claimed))
                self.release(claimed)
                return []
            except Exception:
                # not Redis: a row RQ refuses must not hold back the others (a page behind it
                # would never leave): hand them over one by one, the refused stay pending
                log.exception("RQ refused a batch of %d row(s); handing them over one by one",
                              len(claimed))
                return self._hand_over_one_by_one(claimed, jobs)
            return [(message_id, "queued") for message_id, _ in claimed]
        if self.threads > 1 and len(claimed) > 1:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="itilflow-out")
            futures = [(m, self._pool.submit(tasks.execute, self.ctx, m, a, now=now))
                       for m, a in claimed]
            return [(m, f.result()) for m, f in futures]
        return [(m, tasks.execute(self.ctx, m, a, now=now)) for m, a in claimed]
