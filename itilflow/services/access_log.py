"""The access log: who logged in, failed to, read which ticket, exported, changed configuration,
or was refused. Append-only and hash-chained across the whole log, like ticket history."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import delete, func, or_, select, text
from sqlalchemy.orm import Session

from itilflow.domain.access import Actor
from itilflow.domain.errors import NotPermitted, ValidationError
from itilflow.domain.parties import Role
from itilflow.models import AccessLogEntry, User
from itilflow.services.fields import MAX_ID, YEARS, parse_id, parse_instant
from itilflow.services.outbox import enqueue

GENESIS = "0" * 64
ACTIONS = ("login", "logout", "login_failed", "token_use", "token_refused", "ticket_read",
           "export", "admin_action", "permission_refused", "report_read", "not_found",
           "audit_read")
#: PostgreSQL advisory lock key that serialises appends to the chain (one writer at a time)
_CHAIN_LOCK = 0x17F10A11
CSV_COLUMNS = ("seq", "at", "action", "actor_email", "remote_addr", "method", "path", "status",
               "target", "data")
PAGE_MAX = 1000


def _digest(prev_hash: str, entry: AccessLogEntry) -> str:
    body = json.dumps(
        {"seq": entry.seq, "at": entry.at.astimezone(UTC).isoformat(timespec="microseconds"),
         "action": entry.action, "actor_id": entry.actor_id, "actor_email": entry.actor_email,
         "remote_addr": entry.remote_addr, "method": entry.method, "path": entry.path,
         "status": entry.status, "target": entry.target, "data": entry.data},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str,
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


def record(session: Session, action: str, *, now: datetime, actor: User | None = None,
           actor_email: str | None = None, remote_addr: str | None = None,
           method: str | None = None, path: str | None = None, status: int | None = None,
           target: str | None = None, data: dict[str, Any] | None = None) -> AccessLogEntry:
    """Append one entry chained to the last; written in the caller's transaction."""
    if action not in ACTIONS:
        raise ValueError(f"unknown access log action {action!r}")
    if session.bind.dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    last = session.execute(
        select(AccessLogEntry.seq, AccessLogEntry.hash).order_by(AccessLogEntry.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (last.seq + 1, last.hash) if last else (1, GENESIS)
    entry = AccessLogEntry(
        seq=seq, at=now, action=action, actor_id=actor.id if actor else None,
        actor_email=(actor.email if actor else actor_email or None),
        remote_addr=(remote_addr or None) and remote_addr[:64], method=method,
        path=(path or None) and path[:500], status=status, target=(target or None) and target[:200],
        data=data or {}, prev_hash=prev_hash,
    )
    entry.hash = _digest(prev_hash, entry)
    session.add(entry)
    session.flush()
    return entry


#: target -> when this process last saw the token's use logged: a busy token costs one query a
#: minute per process, not one per call (a process that has not seen it asks the log)
_token_use_seen: dict[str, datetime] = {}


def token_used_recently(session: Session, target: str, *, now: datetime,
                        within: timedelta = timedelta(minutes=1), key: str | None = None) -> bool:
    """Whether this token's use was logged within the last minute (token use is logged coarsely).
    ``key`` names the token in this process's memory where ``target`` alone (its id) is not
    unique enough (another database served by the same process)."""
    key = key or target
    seen = _token_use_seen.get(key)
    if seen is not None and now - within < seen <= now:
        return True
    last = session.scalar(
        select(AccessLogEntry.at).where(AccessLogEntry.action == "token_use",
                                        AccessLogEntry.at > now - within,
                                        AccessLogEntry.at <= now,
                                        AccessLogEntry.target == target)
        .order_by(AccessLogEntry.at.desc()).limit(1))
    if last is None:
        return False
    _remember_token_use(key, last)
    return True


def _remember_token_use(target: str, at: datetime) -> None:
    if len(_token_use_seen) > 10_000:
        _token_use_seen.clear()
    _token_use_seen[target] = at


# --- failed logins ------------------------------------------------------------------------

def record_failed_login(session: Session, *, email: str | None, remote_addr: str | None,
                        now: datetime, threshold: int, window_minutes: int, path: str = "/login"
                        ) -> AccessLogEntry:
    """Log a failed login; when this failure is the ``threshold``-th of that account or address
    within ``window_minutes``, tell the admins (outbox ``notify``), once per burst."""
    email = (email or "").strip().lower()[:254] or None
    entry = record(session, "login_failed", now=now, actor_email=email, remote_addr=remote_addr,
                   method="POST", path=path, status=401)
    if threshold <= 0:
        return entry
    since = now - timedelta(minutes=window_minutes)
    for field, value in (("account", email), ("address", remote_addr)):
        if not value:
            continue
        column = AccessLogEntry.actor_email if field == "account" else AccessLogEntry.remote_addr
        failures = session.scalar(select(func.count()).where(
            AccessLogEntry.action == "login_failed", column == value,
            AccessLogEntry.at > since, AccessLogEntry.at <= now)) or 0
        if failures == threshold:
            admins = list(session.scalars(select(User.email).where(
                User.role == Role.ADMIN.value, User.active.is_(True)).order_by(User.email)))
            enqueue(session, "notify", {
                "event": "failed_logins", "audience": "admins", "recipients": admins,
                "party": "provider", "subject": f"{failures} failed logins for {field} {value}",
                field: value, "failures": failures, "window_minutes": window_minutes,
                "since": since.isoformat(), "last_at": now.isoformat(),
            }, now=now)
    return entry


# --- reading ------------------------------------------------------------------------------

@dataclass(frozen=True)
class AccessFilters:
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    target: str | None = None


def _parse_when(value: Any, name: str, *, days_in: tzinfo | None = None) -> datetime | None:
    """An instant, from an ISO date or date-time (without an offset: UTC). ``days_in``: a
    date alone is a whole day in that zone (the page's date fields): ``since`` its start,
    ``until`` the start of the next day (so ``until`` that date includes it)."""
    if value in (None, ""):
        return None
    if days_in is not None and isinstance(value, str) and len(value.strip()) == 10:
        try:
            day = date.fromisoformat(value.strip())
        except ValueError:
            day = None
        if day is not None and date(YEARS[0], 1, 2) <= day <= date(YEARS[1], 12, 30):
            if name == "until":
                day += timedelta(days=1)
            return datetime(day.year, day.month, day.day, tzinfo=days_in).astimezone(UTC)
    return parse_instant(value, name, naive=UTC,
                         hint="An ISO 8601 date or date-time.").astimezone(UTC)


def parse_filters(args: dict[str, Any], *, days_in: tzinfo | None = None) -> AccessFilters:
    """The filters of the API's query (``since``/``until``: instants; a date alone is its
    midnight UTC, ``until`` before it, as documented) or, with ``days_in``, of the access-log
    page, whose date fields mean whole days in that zone: ``until`` 2 Dec includes 2 Dec."""
    action = args.get("action") or None
    if action is not None and action not in ACTIONS:
        raise ValidationError("Unknown action.", {"action": ["One of: " + ", ".join(ACTIONS) + "."]})
    actor = (args.get("actor") or "").strip().lower()[:254] or None
    target = (args.get("target") or "").strip()[:200] or None
    return AccessFilters(actor=actor, action=action,
                         since=_parse_when(args.get("since"), "since", days_in=days_in),
                         until=_parse_when(args.get("until"), "until", days_in=days_in),
                         target=target)


def export_query(filters: AccessFilters) -> dict[str, str]:
    """The API's query (``/api/v1/audit/access?format=csv``) for the same entries as
    ``filters``: the page's days as the instants they stand for."""
    query = {"actor": filters.actor, "action": filters.action, "target": filters.target,
             "since": filters.since.isoformat() if filters.since else None,
             "until": filters.until.isoformat() if filters.until else None}
    return {k: v for k, v in query.items() if v}


def require_auditor(actor: Actor | None) -> None:
    if actor is None or actor.role is not Role.ADMIN:
        raise NotPermitted("The access log is for admins.")


def _query(filters: AccessFilters):
    query = select(AccessLogEntry)
    if filters.actor:
        query = query.where(or_(AccessLogEntry.actor_email == filters.actor))
    if filters.action:
        query = query.where(AccessLogEntry.action == filters.action)
    if filters.since:
        query = query.where(AccessLogEntry.at >= filters.since)
    if filters.until:
        query = query.where(AccessLogEntry.at < filters.until)
    if filters.target:
        query = query.where(AccessLogEntry.target == filters.target)
    return query


def list_entries(session: Session, actor: Actor, filters: AccessFilters, *,
                 before_seq: int | None = None, limit: int = 100
                 ) -> tuple[list[AccessLogEntry], int | None]:
    """Newest first, keyset-paginated on seq; returns the page and the next ``before`` value."""
    require_auditor(actor)
    limit = max(1, min(limit, PAGE_MAX))
    query = _query(filters)
    if before_seq is not None:
        before = parse_id(before_seq)
        if before is None:  # past int32 the query itself would fail on PostgreSQL
            raise ValidationError("before is not a valid position.", {"before": [
                f"A whole number from 1 to {MAX_ID}: the next_before of the previous page."]})
        query = query.where(AccessLogEntry.seq < before)
    rows = list(session.scalars(query.order_by(AccessLogEntry.seq.desc()).limit(limit + 1)))
    next_before = rows[limit - 1].seq if len(rows) > limit else None
    return rows[:limit], next_before


def iter_entries(session: Session, actor: Actor, filters: AccessFilters) -> Iterator[AccessLogEntry]:
    """Oldest first, streamed: for exports."""
    require_auditor(actor)
    yield from session.scalars(_query(filters).order_by(AccessLogEntry.seq)
                               .execution_options(yield_per=1000))


def entry_as_dict(entry: AccessLogEntry) -> dict[str, Any]:
    return {"seq": entry.seq, "at": entry.at.astimezone(UTC).isoformat(), "action": entry.action,
            "actor": entry.actor_email, "remote_addr": entry.remote_addr, "method": entry.method,
            "path": entry.path, "status": entry.status, "target": entry.target,
            "data": entry.data or {}}


#: what a spreadsheet reads as the start of a formula (OWASP, CSV injection): = + - @, and a
#: tab or carriage return in front of one
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
#: a plain number as text (``-5``, ``+1.5``, ``2e-3``) is a number to a spreadsheet, not a formula
_PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def csv_cell(value: Any) -> Any:
    """One cell of an exported CSV (the access log's, the monthly report's): text a spreadsheet
    would run as a formula is defused with a leading ``'``; numbers stay numbers."""
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict | list):
        value = json.dumps(value, sort_keys=True) if value else ""
    text_value = str(value)
    if text_value.startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.fullmatch(text_value):
        return "'" + text_value
    return text_value


def entries_csv(entries: Iterator[AccessLogEntry]) -> Iterator[str]:
    """CSV text in chunks (header first); cells that a spreadsheet would run are defused."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for n, entry in enumerate(entries, 1):
        d = entry_as_dict(entry)
        d["actor_email"] = d.pop("actor")
        writer.writerow([csv_cell(d[c]) for c in CSV_COLUMNS])
        if n % 500 == 0:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


# --- integrity and retention --------------------------------------------------------------

@dataclass(frozen=True)
class LogFault:
    seq: int
    reason: str


def verify_log(session: Session) -> tuple[int, list[LogFault]]:
    """Recompute the chain; the first kept entry anchors it (older ones may have been purged)."""
    faults: list[LogFault] = []
    checked = 0
    prev_hash: str | None = None
    expected: int | None = None
    for entry in session.scalars(select(AccessLogEntry).order_by(AccessLogEntry.seq)
                                 .execution_options(yield_per=1000)):
        checked += 1
        if expected is not None and entry.seq != expected:
            faults.append(LogFault(entry.seq, f"sequence gap: expected {expected}"))
        if prev_hash is not None and entry.prev_hash != prev_hash:
            faults.append(LogFault(entry.seq, "link to previous entry broken"))
        if _digest(entry.prev_hash, entry) != entry.hash:
            faults.append(LogFault(entry.seq, "content changed after writing"))
        prev_hash, expected = entry.hash, entry.seq + 1
    return checked, faults


def purge(session: Session, *, retention_days: int, now: datetime) -> int:
    """Delete entries older than the retention period (oldest first, so the chain stays whole
    from the first kept entry on). Returns how many went; 0 or less days keeps everything."""
    if retention_days <= 0:
        return 0
    cutoff = now - timedelta(days=retention_days)
    last_old = session.scalar(select(func.max(AccessLogEntry.seq)).where(AccessLogEntry.at < cutoff))
    if last_old is None:
        return 0
    result = session.execute(delete(AccessLogEntry).where(AccessLogEntry.seq <= last_old))
    session.flush()
    return result.rowcount or 0
