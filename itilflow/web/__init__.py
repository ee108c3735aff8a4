"""Browser adapters: login, the customer portal, the agent workspace, admin."""

from __future__ import annotations

from flask import Flask, redirect, url_for
from flask_login import current_user


def init_web(app: Flask) -> None:
    """Register the browser blueprints, the template helpers and the rate limiter."""
    from itilflow.web import (
        admin,
        agent,
        change_pages,
        inbox,
        portal,
        portal_requests,
        raise_tickets,
        ticket_itsm,
        tickets,
    )
    from itilflow.web.common import (
        IMPACT_WORDS,
        LAYER_WORDS,
        URGENCY_WORDS,
        init_limiter,
        is_staff,
        layer_label,
        local_time,
        state_category,
        state_label,
    )
    from itilflow.web.i18n import LOCALES, current_locale, gettext

    for bp in (portal.bp, agent.bp, raise_tickets.bp, tickets.bp, admin.bp, inbox.bp,
               portal_requests.bp, ticket_itsm.bp, change_pages.bp):
        app.register_blueprint(bp)
    app.jinja_env.globals.update(
        _=gettext, current_locale=current_locale, LOCALES=LOCALES, LAYER_WORDS=LAYER_WORDS,
        IMPACT_WORDS=IMPACT_WORDS, URGENCY_WORDS=URGENCY_WORDS, layer_label=layer_label,
        state_label=state_label, state_category=state_category, is_staff=is_staff,
        inbox_unread=inbox.unread_badge, INBOX_ROLES={r.value for r in inbox.notifications.INBOX_ROLES},
    )
    app.jinja_env.filters["local_time"] = local_time
    init_limiter(app)

    @app.before_request
    def refuse_nul_bytes():
        """A NUL byte is never valid text (PostgreSQL refuses it): a 400 before any view runs."""
        from flask import abort, request

        if request.path.startswith("/api/"):
            return None
        if any("\x00" in key or any("\x00" in v for v in values)
               for key, values in request.values.lists()):
            abort(400)
        return None

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                "frame-ancestors 'none'")
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def home_redirect():
    """``/``: each role to its home."""
    from itilflow.web.common import home_endpoint

    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return redirect(url_for(home_endpoint(current_user.user)))
