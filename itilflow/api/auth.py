"""Who is calling: a Bearer token, or the web UI's session cookie (with CSRF on unsafe calls)."""

from __future__ import annotations

from flask import g, request
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from wtforms import ValidationError as CsrfError

from itilflow.domain.access import Actor
from itilflow.domain.errors import DomainError, NotPermitted
from itilflow.models import User
from itilflow.runtime import db, utcnow
from itilflow.services import directory

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class NotAuthenticated(DomainError):
    """No credentials, or credentials that are unknown, revoked or of an inactive user."""

    status = 401


def current_actor() -> tuple[User, Actor]:
    """The caller as ``(User, Actor)``: from ``Authorization: Bearer <token>`` or, without that
    header, from the Flask-Login session cookie (then unsafe methods need a valid
    ``X-CSRFToken`` header). Raises NotAuthenticated (401) or NotPermitted (403, bad CSRF).
    Cached per request."""
    cached = g.get("api_caller")
    if cached is not None:
        return cached
    session = db()
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise NotAuthenticated("Use Authorization: Bearer <token>.")
        row = directory.token_in_use(session, token, now=utcnow())
        if row is None:
            raise NotAuthenticated("Unknown or revoked token.")
        user = row.user
        g.api_auth = "token"
        g.api_token = row  # the access log records the token's use without reading it again
    else:
        if not current_user.is_authenticated:
            raise NotAuthenticated("Authentication required: send Authorization: Bearer <token>.")
        user = current_user.user
        if request.method not in SAFE_METHODS:
            try:
                validate_csrf(request.headers.get("X-CSRFToken", ""))
            except CsrfError:
                raise NotPermitted("The X-CSRFToken header is missing or invalid.") from None
        g.api_auth = "session"
    caller = (user, directory.load_actor(session, user))
    g.api_caller = caller
    return caller


def authenticate_first(blp) -> None:
    """Check the caller's credentials before a blueprint's views validate their body or query:
    a caller without valid credentials gets 401 whatever it sends, never a 422 that tells it
    which query parameters exist (the views ask ``current_actor()`` again, from the cache)."""
    blp.before_request(_authenticate)


def _authenticate() -> None:
    current_actor()
