"""Capture of the access log at the application level, decoupled from the views.

Flask-Login's signals give logins and logouts. Everything else is read off the finished
response: ticket reads are every answer that shows one ticket's content (a successful GET of
the API's ticket reads, and the ticket page whenever it is drawn, a failed form's 409/422
included), ticket addresses answered 404 are ``not_found`` (an unknown ticket, or another
organisation's: enumeration shows), reads of the access log itself are ``audit_read``, exports
are CSV or attachment responses, admin actions are successful writes by admins, and refusals are
403s. Writes answered with the ticket are not reads: the ticket's own history records them.
Successful requests log in the request's own session (committed once with the request's work);
failed ones (401 logins, 403s, 404s, a page drawn by a failed form) log in a session of their
own, after the request boundary has rolled the request back, so they are kept although the
request wrote nothing.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, g, request, template_rendered
from flask_login import current_user, user_logged_in, user_logged_out
from sqlalchemy import select

from itilflow.models import ApiToken, Ticket, User
from itilflow.runtime import db, runtime, utcnow
from itilflow.services import access_log, tickets
from itilflow.services.tickets import MAX_ID

#: the API's GETs that answer with one ticket's content -> what of it they show
_API_TICKET_READS = {
    "tickets.TicketOne": "ticket", "tickets.Events": "events", "tickets.Comments": "comments",
    "itsm.Consultations": "consultations", "itsm.WaitingOn": "waiting_on",
    "itsm.TicketProblems": "problems", "itsm.TicketKnownErrors": "known_errors",
    "itsm.Warnings": "warnings", "itsm.ProblemIncidents": "incidents",
}
#: the path arguments that name a ticket (a 404 there is a ticket not found)
_TICKET_ARGS = ("ticket_id", "ref", "number")
_REPORT_ENDPOINTS = frozenset({"reports.MonthlyReport", "report_pages.monthly"})
_AUDIT_ENDPOINTS = frozenset({"reports.AccessLog", "report_pages.access_log_page"})
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SKIP_ENDPOINTS = frozenset({"static", "healthz"})
#: (actor, method, path) -> when this process last logged it not found: a client retrying
#: the same address costs one entry a minute, each other address its own entry
_NOT_FOUND_WITHIN = timedelta(minutes=1)
_not_found_seen: dict[tuple[Any, str, str], datetime] = {}


def init_access_capture(app: Flask) -> None:
    """Register the recorder; call after the request boundary is registered."""
    user_logged_in.connect(_on_login, app)
    user_logged_out.connect(_on_logout, app)
    template_rendered.connect(_on_render, app)
    # after_request functions run last-registered first: this one runs before the boundary
    # commits, so its rows join the request's transaction ...
    app.after_request(_record_in_request)
    # ... and this one runs after the boundary, once a failed request has been rolled back.
    app.after_request_funcs.setdefault(None, []).insert(0, _record_refusals)


def _text(value: str) -> str:
    """Text from the request as the log keeps it: PostgreSQL text cannot hold NUL (a path with
    one is answered 404, and a 404 of a ticket address is logged)."""
    return value.replace("\x00", "\\u0000")


def _common() -> dict[str, Any]:
    return {"remote_addr": request.remote_addr, "method": request.method,
            "path": _text(request.full_path.rstrip("?"))[:500]}


def _on_login(_app, user=None, **_extra) -> None:
    account = getattr(user, "user", None)
    if isinstance(account, User):
        access_log.record(db(), "login", now=utcnow(), actor=account, **_common())
        g.access_logged = True


def _on_logout(_app, user=None, **_extra) -> None:
    account = getattr(user, "user", None)
    if isinstance(account, User):
        access_log.record(db(), "logout", now=utcnow(), actor=account, **_common())
        g.access_logged = True


def _on_render(_app, template=None, context=None, **_extra) -> None:
    """The ticket page drawn, whatever the status (a failed form draws it with 409/422)."""
    ticket = (context or {}).get("ticket")
    if getattr(template, "name", None) == "ticket.html" and isinstance(ticket, Ticket):
        g.ticket_shown = (ticket.id, (context or {}).get("number"))


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _fingerprint(token: str) -> str:
    """A refused Bearer value as the log names it: the start of its SHA-256, so that repeats of
    one value can be told apart from many, with none of its characters in the log (a token
    mistyped by one character, or a revoked one, is still nearly the secret)."""
    return "sha256:" + hashlib.sha256(token.encode(errors="replace")).hexdigest()[:16]


def _token_row(session, token: str) -> ApiToken | None:
    if len(token) > 200:
        return None
    row = session.scalar(select(ApiToken).where(
        ApiToken.token_hash == hashlib.sha256(token.encode()).hexdigest()))
    if row is None or row.revoked_at is not None or not row.user.active:
        return None
    return row


def _session_user() -> User | None:
    try:
        if current_user.is_authenticated:
            return getattr(current_user, "user", None)
    except Exception:  # a broken session cookie is not ours to report
        return None
    return None


def _ticket_id(ref: str) -> int | None:
    """The id a ticket reference (``42`` or ``INC-000042``) names, as the services read it."""
    ticket_id = tickets.ticket_id_of(runtime().rules, ref)
    return ticket_id if ticket_id is not None and 0 < ticket_id <= MAX_ID else None


def _ticket_number(session, ref: str) -> tuple[str, int] | None:
    """The ticket's number and id; the view read the row already, so this is usually the
    session's identity map, not a query."""
    ticket_id = _ticket_id(ref)
    ticket = session.get(Ticket, ticket_id) if ticket_id is not None else None
    if ticket is None:
        return None
    return f"{runtime().rules.workflow(ticket.kind).prefix}-{ticket_id:06d}", ticket_id


def _asked_ticket() -> str | None:
    """The ticket reference in the matched route's path, if it names one."""
    args = request.view_args or {}
    return next((_text(str(args[name])) for name in _TICKET_ARGS if name in args), None)


def _record_in_request(response):
    if request.endpoint in _SKIP_ENDPOINTS:
        return response
    status = response.status_code
    session = db()
    now = utcnow()
    user = _session_user()
    token = _bearer()
    token_row = None
    if token and status != 401:
        token_row = g.get("api_token") or _token_row(session, token)
    if token_row is not None:
        user = token_row.user
    g.access_actor = (user.id, user.email) if user is not None else None
    if status >= 400:
        _pending_after_rollback(status, now)
        return response
    common = _common()
    if token_row is not None:
        # the token by its id (and name): not by any of its secret characters
        target = f"token:{token_row.id}"
        if not access_log.token_used_recently(session, target, now=now,
                                              key=f"{target}:{token_row.token_hash[:16]}"):
            access_log.record(session, "token_use", now=now, actor=user, target=target,
                              status=status, data={"token": token_row.name}, **common)
    shown = g.get("ticket_shown")
    if shown is not None:  # the ticket page, drawn by whatever request
        access_log.record(session, "ticket_read", now=now, actor=user, status=status,
                          target=shown[1], data={"ticket_id": shown[0], "what": "ticket",
                                                 "via": "ui"}, **common)
    elif request.method == "GET":
        disposition = response.headers.get("Content-Disposition", "")
        if response.mimetype == "text/csv" or "attachment" in disposition:
            access_log.record(session, "export", now=now, actor=user, status=status,
                              target=request.path[:200], **common)
        elif status == 200:
            _record_reads(session, user, status, now, common)
    elif request.method in _WRITES and user is not None and user.role == "admin" \
            and not g.get("access_logged"):
        access_log.record(session, "admin_action", now=now, actor=user, status=status,
                          target=request.path[:200], **common)
    return response


def _record_reads(session, user, status, now, common) -> None:
    endpoint = request.endpoint
    if endpoint in _API_TICKET_READS:
        found = _ticket_number(session, _asked_ticket() or "")
        if found is not None:
            number, ticket_id = found
            access_log.record(session, "ticket_read", now=now, actor=user, status=status,
                              target=number, data={"ticket_id": ticket_id,
                                                   "what": _API_TICKET_READS[endpoint],
                                                   "via": "api"}, **common)
    elif endpoint in _REPORT_ENDPOINTS:
        # whose report and which month, as the service resolved them (``g.report_read``, set
        # by the views), also when the request named no customer
        read = g.get("report_read") or {}
        access_log.record(session, "report_read", now=now, actor=user, status=status,
                          target=read.get("customer"),
                          data={"month": read.get("month", request.args.get("month"))},
                          **common)
    elif endpoint in _AUDIT_ENDPOINTS:
        filters = {k[:40]: v[:200] for k, v in list(request.args.items())[:20] if k != "format"}
        access_log.record(session, "audit_read", now=now, actor=user, status=status,
                          target=request.path[:200], data={"query": filters}, **common)


def _pending_after_rollback(status: int, now: datetime) -> None:
    """What a failed request showed or probed, for ``_record_refusals`` to write once the
    request is rolled back: the ticket page drawn by a failed form, a ticket not found."""
    pending = []
    shown = g.get("ticket_shown")
    via = "api" if request.path.startswith("/api/") else "ui"
    if shown is not None:
        pending.append(("ticket_read", {"status": status, "target": shown[1],
                                        "data": {"ticket_id": shown[0], "what": "ticket",
                                                 "via": via}}))
    elif status == 404 and request.url_rule is not None:
        asked = _asked_ticket()
        actor = g.get("access_actor")
        if asked is not None and not _not_found_recently((actor, request.method,
                                                          request.path), now):
            pending.append(("not_found", {"status": 404, "target": asked[:200],
                                          "data": {"what": "ticket", "via": via}}))
    if pending:
        g.access_pending = pending


def _not_found_recently(key: tuple[Any, str, str], now: datetime) -> bool:
    seen = _not_found_seen.get(key)
    if seen is not None and now - _NOT_FOUND_WITHIN < seen <= now:
        return True
    if len(_not_found_seen) > 10_000:
        _not_found_seen.clear()
    _not_found_seen[key] = now
    return False


def _record_refusals(response):
    status = response.status_code
    # a failed login: /login answered 401, or a wrong current password on /account (the view
    # marks it; a stolen session guessing the password is a failed login for all it is)
    wrong_current = bool(g.get("wrong_current_password"))
    failed_login = wrong_current or (status == 401 and request.method == "POST"
                                     and request.endpoint == "auth.login")
    token_refused = status == 401 and _bearer() is not None and not failed_login
    pending = g.get("access_pending") or []
    if not (failed_login or token_refused or status == 403 or pending):
        return response
    rt = runtime()
    now = utcnow()
    session = rt.session_factory()
    try:
        if pending:
            actor = g.get("access_actor")
            user = session.get(User, actor[0]) if actor else None
            for action, entry in pending:
                if action == "not_found":
                    _name_the_ticket(session, entry)
                access_log.record(session, action, now=now, actor=user, **entry, **_common())
        if failed_login:
            actor = g.get("access_actor")
            email = actor[1] if wrong_current and actor else request.form.get("email")
            access_log.record_failed_login(
                session, email=email, remote_addr=request.remote_addr,
                now=now, threshold=rt.settings.login_alert_failures,
                window_minutes=rt.settings.login_alert_minutes, path=request.path)
        elif token_refused:
            access_log.record(session, "token_refused", now=now, status=status,
                              target=_fingerprint(_bearer() or ""), **_common())
        elif status == 403:
            actor = g.get("access_actor")
            user = session.get(User, actor[0]) if actor else None
            access_log.record(session, "permission_refused", now=now, actor=user, status=status,
                              target=request.path[:200], **_common())
        session.commit()
    finally:
        session.close()
    return response


def _name_the_ticket(session, entry: dict[str, Any]) -> None:
    """A ticket asked for that exists (another organisation's) is named by its number, so
    the log's ``target`` filter finds every probe of it, by id or by number."""
    ticket_id = _ticket_id(entry["target"])
    kind = session.scalar(select(Ticket.kind).where(Ticket.id == ticket_id)) \
        if ticket_id is not None else None
    entry["data"]["asked"] = entry["target"]
    if kind is not None:
        entry["target"] = f"{runtime().rules.workflow(kind).prefix}-{ticket_id:06d}"
        entry["data"]["ticket_id"] = ticket_id
