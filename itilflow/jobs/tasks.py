"""Running one outbox row: a page, an escalation timer, a notification or an SLA check.

``execute`` first takes the row for this attempt with a compare-and-set on ``attempts`` (so two
relays, or a relay and a re-queued RQ job, cannot both send it), then does the work outside any
transaction, then records the outcome. A process killed in between leaves the row pending with
an expired lease: the relay claims it again (at least once; receivers de-duplicate on the
``webhook-id``, which is the same on every attempt).
"""

from __future__ import annotations

import logging
import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from itilflow.domain import paging as paging_rules
from itilflow.jobs.context import JobContext, context_from_settings
from itilflow.models import OutboxMessage
from itilflow.models.paging import Page
from itilflow.services import notifications, paging

log = logging.getLogger("itilflow.jobs")
RETRY = paging_rules.RetryPolicy()
#: notifications and timers that fail for an unexpected reason are retried like pages
_context: JobContext | None = None


def configure(context: JobContext | None) -> None:
    """Set the context the RQ entry point uses in this process."""
    global _context
    _context = context


def rq_execute(message_id: str, attempts: int) -> str:
    """The RQ job: runs with the wall clock (jobs are adapters)."""
    global _context
    if _context is None:
        from itilflow.settings import Settings

        _context = context_from_settings(Settings.load())
    return execute(_context, message_id, attempts, now=datetime.now(UTC))


def _start(ctx: JobContext, message_id: str, attempts: int, now: datetime) -> OutboxMessage | None:
    lease = timedelta(seconds=ctx.settings.outbox_lease_seconds)
    with ctx.session_factory() as session, session.begin():
        taken = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.message_id == message_id, OutboxMessage.status == "pending",
                   OutboxMessage.attempts == attempts)
            .values(attempts=attempts + 1, claimed_until=now + lease)
            .execution_options(synchronize_session=False)).rowcount
        if taken != 1:
            return None
        message = session.scalar(select(OutboxMessage).where(OutboxMessage.message_id ==
                                                              message_id))
        session.expunge(message)
        return message


def _finish(ctx: JobContext, message: OutboxMessage, *, status: str, now: datetime,
            due_at: datetime | None = None, error: str | None = None, work=None) -> None:
    """Record the outcome (and ``work(session)``, the outcome's own writes) in one transaction,
    only if this attempt still owns the row."""
    for attempt in range(3):
        try:
            with ctx.session_factory() as session, session.begin():
                row = session.scalar(select(OutboxMessage).where(
                    OutboxMessage.id == message.id, OutboxMessage.attempts == message.attempts,
                    OutboxMessage.status == "pending").with_for_update())
                if row is None:
                    return
                if work is not None:
                    work(session)
                row.status = status
                row.last_error = error
                row.claimed_until = None
                if status == "pending":
                    row.due_at = due_at or now
                else:
                    row.done_at = now
            return
        except (IntegrityError, OperationalError):
            # a history append raced another writer of the same ticket: try again
            if attempt == 2:
                raise


def execute(ctx: JobContext, message_id: str, attempts: int, *, now: datetime) -> str:
    """Run one attempt of an outbox row; returns what happened (for logs and tests)."""
    message = _start(ctx, message_id, attempts, now)
    if message is None:
        return "taken"
    try:
        handler = _HANDLERS.get(message.topic)
        if handler is None:
            _finish(ctx, message, status="dead", now=now, error=f"unknown topic {message.topic}")
            return "dead"
        return handler(ctx, message, now)
    except Exception as exc:  # a bug or an outage must not lose the row: retry later
        log.exception("outbox %s (%s) failed", message.message_id, message.topic)
        retry = paging_rules.retry_at(RETRY, attempts=max(1, message.attempts), now=now,
                                      retry_after=None, unit_random=random.random())
        _finish(ctx, message, status="pending" if retry else "dead", now=now, due_at=retry,
                error=f"{type(exc).__name__}: {str(exc)[:300]}")
        return "error"


def _run_page(ctx: JobContext, message: OutboxMessage, now: datetime) -> str:
    with ctx.session_factory() as session:
        page = session.get(Page, message.payload.get("page_id"))
        request = paging.page_message(session, ctx.rules, page, now) if page else None
    if request is None:
        def cancel(session):
            row = session.get(Page, message.payload.get("page_id"))
            if row is not None:
                paging.cancel_page(session, row)
        _finish(ctx, message, status="done", now=now, error="not needed any more", work=cancel)
        return "cancelled"
    url, body, headers = request
    answer = ctx.post(url, body, headers)
    outcome = paging_rules.classify(answer.status)
    retry = None
    if outcome == paging_rules.RETRY:
        retry = paging_rules.retry_at(
            RETRY, attempts=message.attempts, now=now,
            retry_after=paging_rules.parse_retry_after(answer.retry_after, now),
            unit_random=random.random())
        if retry is None:
            outcome = paging_rules.DEAD

    def record(session):
        row = session.get(Page, page.id)
        paging.record_page_outcome(session, ctx.rules, row,
                                   outcome=outcome if outcome != paging_rules.RETRY else "retry",
                                   status_code=answer.status, error=answer.error, now=now)

    status = {"delivered": "done", "dead": "dead"}.get(outcome, "pending")
    _finish(ctx, message, status=status, now=now, due_at=retry, error=answer.error, work=record)
    return outcome


def _run_escalate(ctx: JobContext, message: OutboxMessage, now: datetime) -> str:
    result = {}

    def work(session):
        result["r"] = paging.run_escalation_timer(session, ctx.rules, message.payload, now)

    _finish(ctx, message, status="done", now=now, work=work)
    return result.get("r", "taken")


def _run_sla_check(ctx: JobContext, message: OutboxMessage, now: datetime) -> str:
    result = {}

    def work(session):
        result["r"] = paging.check_sla(session, ctx.rules, message.payload.get("ticket_id"), now)

    _finish(ctx, message, status="done", now=now, work=work)
    return "breached" if result.get("r") else "ok"


def _run_notify(ctx: JobContext, message: OutboxMessage, now: datetime) -> str:
    with ctx.session_factory() as session, session.begin():
        note, emails = notifications.deliver_in_app(session, message.message_id, message.payload,
                                                    now)
        text = note.message if note else ""
    if note is not None and emails and ctx.send_mail is not None:
        try:
            ctx.send_mail(emails, f"[itilflow] {message.payload.get('number')}", text)
        except OSError as exc:
            import smtplib

            retry = paging_rules.retry_at(RETRY, attempts=message.attempts, now=now,
                                          retry_after=None, unit_random=random.random())
            permanent = isinstance(exc, smtplib.SMTPRecipientsRefused)
            _finish(ctx, message, status="pending" if retry and not permanent else "dead",
                    now=now, due_at=retry, error=f"SMTP: {exc}"[:300])
            return "retry"
    _finish(ctx, message, status="done", now=now)
    return "notified"


_HANDLERS = {"page": _run_page, "escalate": _run_escalate, "notify": _run_notify,
             "sla_check": _run_sla_check}
