"""Capture of the access log at the application level, decoupled from the views.

Flask-Login's signals give logins and logouts. Everything else is read off the finished
response: ticket reads are successful GETs of the ticket addresses of the UI and the API,
exports are CSV or attachment responses, admin actions are successful writes by admins, and
refusals are 403s. Successful requests log in the request's own session (committed once with
the request's work); failures (401 logins, 403s) log in a session of their own, after the
request boundary has rolled the request back, so they are kept although the request wrote nothing.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from flask import Flask, g, request
from flask_login import current_user, user_logged_in, user_logged_out
from sqlalchemy import select

from itilflow.models import ApiToken, Ticket, User
from itilflow.runtime import db, runtime, utcnow
from itilflow.services import access_log
from itilflow.services.tickets import NUMBER_RE

_TICKET_PATHS = (
    re.compile(r"^/tickets/(?P<ref>[^/]+)/?$"),
    re.compile(r"^/api/v1/tickets/(?P<ref>[^/]+)(?P<events>/events)?/?$"),
)
_REPORT_PATHS = re.compile(r"^(/api/v1)?/reports/monthly/?$")
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SKIP_ENDPOINTS = frozenset({"static", "healthz"})


def init_access_capture(app: Flask) -> None:
    """Register the recorder; call after the request boundary is registered."""
    user_logged_in.connect(_on_login, app)
    user_logged_out.connect(_on_logout, app)
    # after_request functions run last-registered first: this one runs before the boundary
    # commits, so its rows join the request's transaction ...
    app.after_request(_record_in_request)
    # ... and this one runs after the boundary, once a failed request has been rolled back.
    app.after_request_funcs.setdefault(None, []).insert(0, _record_refusals)


def _common() -> dict[str, Any]:
    return {"remote_addr": request.remote_addr, "method": request.method,
            "path": request.full_path.rstrip("?")[:500]}


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


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


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


def _ticket_number(session, ref: str) -> tuple[str, int] | None:
    rules = runtime().rules
    ticket_id = None
    if ref.isdecimal() and len(ref) < 13:
        ticket_id = int(ref)
    else:
        match = NUMBER_RE.match(ref.upper())
        if match and rules.kind_of_prefix(match.group(1)):
            ticket_id = int(match.group(2))
    if ticket_id is None or not 0 < ticket_id < 2**62:
        return None
    kind = session.scalar(select(Ticket.kind).where(Ticket.id == ticket_id))
    if kind is None:
        return None
    return f"{rules.workflow(kind).prefix}-{ticket_id:06d}", ticket_id


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
        return response
    common = _common()
    if token_row is not None:
        target = f"token:{token_row.id}:{token_row.prefix}"
        if not access_log.token_used_recently(session, target, now=now):
            access_log.record(session, "token_use", now=now, actor=user, target=target,
                              status=status, data={"token": token_row.name}, **common)
    if request.method == "GET":
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
    for pattern in _TICKET_PATHS:
        match = pattern.match(request.path)
        if match:
            found = _ticket_number(session, match["ref"])
            if found is not None:
                number, ticket_id = found
                access_log.record(session, "ticket_read", now=now, actor=user, status=status,
                                  target=number,
                                  data={"ticket_id": ticket_id,
                                        "what": "events" if match.groupdict().get("events")
                                        else "ticket",
                                        "via": "api" if request.path.startswith("/api/")
                                        else "ui"},
                                  **common)
            return
    if _REPORT_PATHS.match(request.path):
        access_log.record(session, "report_read", now=now, actor=user, status=status,
                          target=request.args.get("customer") or None,
                          data={"month": request.args.get("month")}, **common)


def _record_refusals(response):
    status = response.status_code
    failed_login = status == 401 and request.method == "POST" and request.endpoint == "auth.login"
    token_refused = status == 401 and _bearer() is not None and not failed_login
    if not (failed_login or token_refused or status == 403):
        return response
    rt = runtime()
    now = utcnow()
    session = rt.session_factory()
    try:
        if failed_login:
            access_log.record_failed_login(
                session, email=request.form.get("email"), remote_addr=request.remote_addr,
                now=now, threshold=rt.settings.login_alert_failures,
                window_minutes=rt.settings.login_alert_minutes, path=request.path)
        elif token_refused:
            access_log.record(session, "token_refused", now=now, status=status,
                              target=(_bearer() or "")[:12], **_common())
        else:
            actor = g.get("access_actor")
            user = session.get(User, actor[0]) if actor else None
            access_log.record(session, "permission_refused", now=now, actor=user, status=status,
                              target=request.path[:200], **_common())
        session.commit()
    finally:
        session.close()
    return response
