"""Running one outbox row: a page, an escalation timer, a notification, an SLA check or a
paging decision at the end of a working window.

``execute`` first takes the row for this attempt with a compare-and-set on ``attempts`` (so two
relays, or a relay and a re-queued RQ job, cannot both send it), then does the work outside any
transaction, then records the outcome. A process killed in between leaves the row pending with
an expired lease: the relay claims it again (at least once; receivers de-duplicate on the
``webhook-id``, which is the same on every attempt).

A row that a job writes already due (the page an escalation timer fires, say) is claimed in the
job's own transaction and run by the same job right after it (``execute``), instead of waiting
for the relay's next tick and another trip through the queue. It is claimed with a lease, so if
the process dies first the relay claims it again once the lease runs out, as for any row.
"""

from __future__ import annotations

import logging
import random
import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import event, tuple_, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from itilflow.domain import paging as paging_rules
from itilflow.jobs.context import JobContext, context_from_settings
from itilflow.jobs.language import translator
from itilflow.models import OutboxMessage
from itilflow.models.paging import Page
from itilflow.services import notifications, paging, reports

log = logging.getLogger("itilflow.jobs")
RETRY = paging_rules.RetryPolicy()
#: notifications and timers that fail for an unexpected reason are retried like pages
_context: JobContext | None = None
#: at most this many rows a job wrote already due are run by the job itself (the rest: relay)
CHAIN_LIMIT = 10
#: per thread: the rows the running job claimed to run next (None: a follow-up is running)
_chain = threading.local()


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
    try:
        return _take(ctx, message_id, attempts, now)
    except DBAPIError as exc:
        # a pooled connection the database dropped (a restart; the worker does not ping
        # before each use): the pool is invalidated, so once more on a fresh connection
        if not exc.connection_invalidated:
            raise
        return _take(ctx, message_id, attempts, now)


def _take(ctx: JobContext, message_id: str, attempts: int, now: datetime) -> OutboxMessage | None:
    lease = timedelta(seconds=ctx.settings.outbox_lease_seconds)
    with ctx.session_factory() as session, session.begin():
        # the compare-and-set and the read in one statement (UPDATE ... RETURNING)
        message = session.scalars(
            update(OutboxMessage)
            .where(OutboxMessage.message_id == message_id, OutboxMessage.status == "pending",
                   OutboxMessage.attempts == attempts)
            .values(attempts=attempts + 1, claimed_until=now + lease)
            .returning(OutboxMessage)
            .execution_options(synchronize_session=False)).one_or_none()
        if message is None:
            return None
        session.expunge(message)
        return message


class _Lost(Exception):
    """This attempt no longer owns its row (its lease ran out and another took it)."""


def _finish(ctx: JobContext, message: OutboxMessage, *, status: str, now: datetime,
            due_at: datetime | None = None, error: str | None = None, work=None) -> bool:
    """Record the outcome (and ``work(session)``, the outcome's own writes) in one transaction,
    only if this attempt still owns the row; False if it did not (nothing was written)."""
    follow = getattr(_chain, "rows", None)
    for attempt in range(3):
        claimed: list[tuple[str, int]] = []
        try:
            with ctx.session_factory() as session, session.begin():
                if work is not None:
                    if follow is not None:
                        _claim_follow_ups(ctx, session, now, CHAIN_LIMIT - len(follow), claimed)
                    work(session)
                outcome = {"status": status, "last_error": error, "claimed_until": None}
                outcome.update({"due_at": due_at or now} if status == "pending" else
                               {"done_at": now})
                # the outcome lands only if this attempt still owns the row (a compare-and-set
                # on attempts, as when it was taken); else the work is rolled back with it
                owned = session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == message.id,
                           OutboxMessage.attempts == message.attempts,
                           OutboxMessage.status == "pending")
                    .values(**outcome).execution_options(synchronize_session=False)).rowcount
                if owned != 1:
                    raise _Lost
            if follow is not None:
                follow.extend(claimed)
            return True
        except _Lost:
            return False
        except (IntegrityError, OperationalError):
            # a history append raced another writer of the same ticket: try again
            if attempt == 2:
                raise
    return False


def _claim_follow_ups(ctx: JobContext, session, now: datetime, limit: int,
                      claimed: list[tuple[str, int]]) -> None:
    """As ``session`` writes outbox rows that are already due, claim up to ``limit`` of them
    (a lease, set before the INSERT) for this job to run next: [(message_id, attempts)]."""
    lease = now + timedelta(seconds=ctx.settings.outbox_lease_seconds)

    def claim(sess, *_args) -> None:
        for obj in sess.new:
            if len(claimed) < limit and isinstance(obj, OutboxMessage) and \
                    obj.status == "pending" and not obj.attempts and obj.claimed_until is None \
                    and obj.due_at is not None and obj.due_at <= now:
                obj.claimed_until = lease
                claimed.append((obj.message_id, 0))

    event.listen(session, "before_flush", claim)  # also runs for the commit's own flush


def execute(ctx: JobContext, message_id: str, attempts: int, *, now: datetime) -> str:
    """Run one attempt of an outbox row, then the rows it wrote already due; returns what
    happened to the row (for logs and tests)."""
    outer = getattr(_chain, "rows", None)
    _chain.rows = []
    try:
        result = _execute_one(ctx, message_id, attempts, now)
        follow, _chain.rows = _chain.rows, None
        for next_id, next_attempts in follow:
            _execute_one(ctx, next_id, next_attempts, now)
    finally:
        _chain.rows = outer
    return result


def _execute_one(ctx: JobContext, message_id: str, attempts: int, now: datetime) -> str:
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

    if not _finish(ctx, message, status="done", now=now, work=work):
        return "taken"
    return result.get("r", "taken")


def _run_sla_check(ctx: JobContext, message: OutboxMessage, now: datetime) -> str:
    result = {}

    def work(session):
        result["r"] = paging.check_sla(session, ctx.rules, message.payload.get("ticket_id"), now)

    if not _finish(ctx, message, status="done", now=now, work=work):
        return "taken"
    return "breached" if result.get("r") else "ok"


def _run_page_decision(ctx: JobContext, message: OutboxMessage, now: datetime) -> str:
    """Paging decided again at the end of a working window (``paging.end_of_window``)."""
    result = {}

    def work(session):
        result["r"] = paging.end_of_window(session, ctx.rules, message.payload.get("ticket_id"),
                                           now)

    if not _finish(ctx, message, status="done", now=now, work=work):
        return "taken"
    return result.get("r", "taken")


def _run_notify(ctx: JobContext, message: OutboxMessage, now: datetime) -> str:
    if ctx.send_mail is None:
        # in the app only: nothing leaves the database, so the notification and the row's
        # outcome are one transaction (a lost attempt writes neither)
        def deliver(session):
            notifications.deliver_in_app(session, message.message_id, message.payload, now,
                                         ctx.rules)

        return "notified" if _finish(ctx, message, status="done", now=now, work=deliver) \
            else "taken"
    with ctx.session_factory() as session, session.begin():
        note, recipients = notifications.deliver_in_app(session, message.message_id,
                                                        message.payload, now, ctx.rules)
    if note is not None and recipients and ctx.send_mail is not None:
        try:  # one mail per language; a retry sends them all again (at least once)
            for mail in notifications.mails(message.payload, recipients, ctx.rules, translator):
                ctx.send_mail(list(mail.to), mail.subject, mail.text)
        except OSError as exc:
            return _mail_failed(ctx, message, now, exc)
    _finish(ctx, message, status="done", now=now)
    return "notified"


def _mail_failed(ctx: JobContext, message: OutboxMessage, now: datetime, exc: OSError) -> str:
    """The SMTP server refused or was away: try again later with back-off; recipients it
    refuses for good make the row dead."""
    import smtplib

    retry = paging_rules.retry_at(RETRY, attempts=message.attempts, now=now,
                                  retry_after=None, unit_random=random.random())
    permanent = isinstance(exc, smtplib.SMTPRecipientsRefused)
    _finish(ctx, message, status="pending" if retry and not permanent else "dead",
            now=now, due_at=retry, error=f"SMTP: {exc}"[:300])
    return "retry"


def in_app_only(ctx: JobContext, topic: str) -> bool:
    """A row whose whole effect is a write to this database (a notification with no SMTP):
    the relay runs such rows itself, many in one transaction (``execute_in_app``)."""
    return topic == "notify" and ctx.send_mail is None


def execute_in_app(ctx: JobContext, claimed: list[tuple[str, int]], *, now: datetime
                   ) -> list[tuple[str, str]]:
    """Run many in-app notification rows in one transaction: take those this attempt still
    owns (compare-and-set on ``attempts``, as ``execute`` does one by one), write their
    notifications and mark them done, together; a row another relay took is left alone. If the
    batch fails, each row runs on its own (``execute``), with its own retry and error."""
    if not claimed:
        return []
    try:
        with ctx.session_factory() as session, session.begin():
            owned = session.execute(
                update(OutboxMessage)
                .where(tuple_(OutboxMessage.message_id, OutboxMessage.attempts).in_(claimed),
                       OutboxMessage.status == "pending", OutboxMessage.topic == "notify")
                .values(attempts=OutboxMessage.attempts + 1, status="done", done_at=now,
                        claimed_until=None, last_error=None)
                .returning(OutboxMessage.message_id, OutboxMessage.payload)
                .execution_options(synchronize_session=False)).all()
            notifications.deliver_in_app_many(session, [tuple(row) for row in owned], now,
                                              ctx.rules)
    except Exception:  # e.g. a dropped connection or a bad payload: one by one, with retries
        log.exception("in-app notifications: a batch of %d failed; running them one by one",
                      len(claimed))
        return [(m, execute(ctx, m, a, now=now)) for m, a in claimed]
    done = {row.message_id for row in owned}
    return [(m, "notified" if m in done else "taken") for m, _ in claimed]


def _run_report(ctx: JobContext, message: OutboxMessage, now: datetime) -> str:
    """A monthly report (``itilflow report send-monthly``): mailed to its recipients with the
    CSV attached. Without SMTP there is nobody to send it to: it is done (the report is on
    /reports/monthly for whoever may see it)."""
    mail = reports.report_mail(message.payload)
    if ctx.send_mail is not None and mail is not None:
        recipients, subject, text, attachment = mail
        try:
            ctx.send_mail(recipients, subject, text, attachments=(attachment,))
        except OSError as exc:
            return _mail_failed(ctx, message, now, exc)
    return "sent" if _finish(ctx, message, status="done", now=now) else "taken"


_HANDLERS = {"page": _run_page, "escalate": _run_escalate, "notify": _run_notify,
             "sla_check": _run_sla_check, "report": _run_report,
             paging.PAGE_DECISION: _run_page_decision}
