"""What the web blueprints share: the acting user, plain-language labels, HTML error pages and
the rate limiter. Adapter code only: no business rule lives here."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import wraps
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Flask, abort, g, jsonify, render_template, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import select

from itilflow.domain.access import Actor
from itilflow.domain.errors import DomainError
from itilflow.domain.parties import MANAGER_ROLES, WORKER_ROLES, Role
from itilflow.models import User
from itilflow.runtime import db, runtime
from itilflow.services import directory
from itilflow.web.i18n import _, strftime

#: the layer explained in plain words, for people who do not know the service model
LAYER_WORDS = {
    "application": "the application itself",
    "middleware": "its database or server software",
    "operating_system": "the server's operating system",
    "infrastructure": "hardware, storage or network",
}
#: a layer's short name, as the queue's filter and its layer column show it
LAYER_NAMES = {
    "application": "Application",
    "middleware": "Middleware",
    "operating_system": "Operating system",
    "infrastructure": "Infrastructure",
}
#: a ticket whose layer is not known yet, in the same words wherever it is shown
LAYER_UNKNOWN = "Unknown"
IMPACT_WORDS = {1: "Many people or a whole service", 2: "A group of people or part of a service",
                3: "One person or a small part"}
URGENCY_WORDS = {1: "Work has stopped: it must be fixed now", 2: "Work is hampered: fix it today",
                 3: "It can wait a few days"}
STAFF_ROLES = WORKER_ROLES | MANAGER_ROLES


def me() -> User:
    return current_user.user


def actor() -> Actor:
    return directory.load_actor(db(), me())


def role() -> Role:
    return Role(me().role)


def is_staff() -> bool:
    return current_user.is_authenticated and role() in STAFF_ROLES


def home_endpoint(user: User) -> str:
    """Each role's start page."""
    user_role = Role(user.role)
    if user_role is Role.ADMIN:
        return "admin.index"
    if user_role in STAFF_ROLES:
        return "agent.queue"
    return "portal.index"


def require_roles(*roles: Role):
    """Only these roles see the page; everyone else gets a 404 (nothing to see here)."""

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                from flask import current_app

                return current_app.login_manager.unauthorized()
            if role() not in roles:
                abort(404)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def local_time(value: datetime | None, fmt: str = "%d %b %Y %H:%M") -> str:
    if value is None:
        return ""
    zone = ZoneInfo(runtime().settings.timezone)
    return strftime(value.astimezone(zone), fmt)


def state_label(kind: str, state: str) -> str:
    workflow = runtime().rules.workflows.get(kind)
    if workflow and state in workflow.states:
        return _(workflow.states[state].label)
    return state


def state_category(kind: str, state: str) -> str:
    workflow = runtime().rules.workflows.get(kind)
    if workflow and state in workflow.states:
        return workflow.states[state].category
    return "open"


def layer_label(layer: str | None) -> str:
    return _(LAYER_WORDS[layer]) if layer in LAYER_WORDS else _(LAYER_UNKNOWN)


def assignee_names(session, events) -> dict[str, str]:
    """The names of the people a ticket's history assigned (it keeps their emails), in one
    statement: for the ticket page's timeline (``assignee_names=`` in its context; without it
    the page names those it already knows: the actors, the assignee, the reporter)."""
    emails = {e.data.get("assignee") for e in events if isinstance(e.data, dict)} - {None}
    if not emails:
        return {}
    return dict(session.execute(select(User.email, User.name).where(User.email.in_(emails))).all())


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None: the one check for every redirect to
    an address taken from the request (``/login?next=``, the queue's ``back``). Browsers drop
    tabs and newlines and read a backslash as ``/``: ``/%09/evil.example`` leaves the site."""
    if not isinstance(target, str) or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def wants_json() -> bool:
    return request.path.startswith("/api/")


def error_page(status: int, title: str, message: str):
    if wants_json():
        return jsonify(status=status, message=message, errors={}), status
    return render_template("error.html", status=status, title=title, message=message), status


def domain_error_page(exc: DomainError):
    titles = {404: _("Not found"), 403: _("Not allowed"), 409: _("Conflict"),
              422: _("Bad request")}
    message = exc.message if wants_json() else _(exc.message)  # in the reader's language
    if exc.status == 404:
        message = _("There is nothing here, or you may not see it.")
    return error_page(exc.status, titles.get(exc.status, _("Bad request")), message)


def register_error_pages(bp) -> None:
    bp.register_error_handler(DomainError, domain_error_page)
    bp.register_error_handler(404, lambda _e: error_page(
        404, _("Not found"), _("There is nothing here, or you may not see it.")))


def parse_form_value(raw: str | None) -> Any:
    return raw.strip() if isinstance(raw, str) and raw.strip() else None


def local_to_utc_iso(raw: str, zone: str | None = None) -> str:
    """A ``datetime-local`` value, read in ``zone`` (default the business time zone), as ISO
    8601 with offset; what cannot be read is passed on as typed and the service names the
    fault (0001-01-01T00:30 in Copenhagen is before year 1 in UTC: not an instant)."""
    try:
        naive = datetime.fromisoformat(raw)
        if naive.tzinfo is not None:
            return naive.isoformat()
        local = naive.replace(tzinfo=ZoneInfo(zone or runtime().settings.timezone))
        return local.astimezone(UTC).isoformat()
    except (ValueError, OverflowError):
        return raw


# --- rate limits --------------------------------------------------------------------------

def _login_key() -> str:
    """Address and account; on /account the account is the signed-in user's, so guessing the
    current password there fills the same bucket as guessing it on /login."""
    if request.endpoint == "auth.account" and current_user.is_authenticated:
        email = current_user.user.email
    else:
        email = (request.form.get("email") or "").strip().lower()[:254]
    return f"{get_remote_address()}|{email}"


def _not_password_form() -> bool:
    return request.form.get("form") != "password"


def _wrong_current_password(_response) -> bool:
    return bool(g.get("wrong_current_password"))


#: the forms that raise tickets: a flood from one account is throttled, not a whole office
#: behind one address reporting the same outage
TICKET_FORMS = ("portal.new_incident", "raise.new_incident", "raise.new_problem",
                "raise.new_change", "raise.new_request", "portal_requests.new_request")


def _form_key() -> str:
    # the user's id alone: get_id() carries the credential stamp, which a sign-out renews
    return f"user:{current_user.user.id}" if current_user.is_authenticated \
        else get_remote_address()


def _failed(response) -> bool:
    return response.status_code in (401, 422)


def init_limiter(app: Flask) -> Limiter:
    """A limiter per app: Redis when configured (errors swallowed, memory as fallback), else
    memory. Failed logins count, per address and account and (looser) per address; the
    forms that raise tickets count every POST, per user."""
    settings = app.extensions["itilflow"].settings
    storage = settings.redis_url or "memory://"
    options: dict[str, Any] = {}
    if settings.redis_url:
        options = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
    limiter = Limiter(
        key_func=get_remote_address, storage_uri=storage, storage_options=options,
        swallow_errors=True, in_memory_fallback_enabled=True, key_prefix="itilflow-web",
        headers_enabled=False,
    )
    limiter.init_app(app)
    app.extensions["itilflow_limiter"] = limiter

    # a wrong current password on /account counts as a failed login: the same buckets (shared
    # scopes, named as the login's own were before they were shared)
    per_address = _multiply(settings.login_rate_limit, 5)
    for endpoint, failed, exempt in (("auth.login", _failed, None),
                                     ("auth.account", _wrong_current_password, _not_password_form)):
        view = limiter.shared_limit(lambda: settings.login_rate_limit, scope="auth.login",
                                    key_func=_login_key, methods=["POST"], deduct_when=failed,
                                    exempt_when=exempt)(app.view_functions[endpoint])
        view = limiter.shared_limit(lambda: per_address, scope="auth.login:login-address",
                                    methods=["POST"], deduct_when=failed,
                                    exempt_when=exempt)(view)
        app.view_functions[endpoint] = view
    for endpoint in TICKET_FORMS:
        app.view_functions[endpoint] = limiter.limit(
            lambda: settings.form_rate_limit, key_func=_form_key, methods=["POST"],
        )(app.view_functions[endpoint])

    from itilflow.api.errors import handle_http_exception, is_api_request

    @app.errorhandler(429)
    def too_many(exc):
        if is_api_request():  # the API's one error shape (and its Retry-After header)
            return handle_http_exception(exc)
        return error_page(429, _("Too many attempts"),
                          _("Too many attempts in a short time. Wait a minute and try again."))

    @app.errorhandler(CSRFError)
    def csrf_refused(exc):
        if is_api_request():
            return handle_http_exception(exc)
        return error_page(400, _("Bad request"), _(
            "The form has expired or was not sent from this site. Reload the page and try again."))

    from itilflow.web.errors import register_http_error_pages

    register_http_error_pages(app)  # 400, 404, 405, 413 as the app's own pages
    return limiter


def _multiply(limit: str, factor: int) -> str:
    """``10 per minute`` -> ``50 per minute``; anything else is kept."""
    head, sep, tail = limit.strip().partition(" ")
    return f"{int(head) * factor}{sep}{tail}" if head.isdecimal() else limit
