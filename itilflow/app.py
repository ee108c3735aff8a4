"""The application factory: ``create_app(settings=None)``; extensions are unbound until then."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, redirect, url_for
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.middleware.proxy_fix import ProxyFix

from itilflow.db import make_engine, make_session_factory
from itilflow.runtime import Runtime, db
from itilflow.services.rules import load_rules
from itilflow.settings import Settings

login_manager = LoginManager()
csrf = CSRFProtect()


class App(Flask):
    """Flask, with the request boundary's rule for a request that raised."""

    def handle_user_exception(self, e):
        """A view (or before-request hook) that raised wrote nothing: its transaction is rolled
        back here, before the error handler draws the answer and the after-request hooks (the
        access log) read through the session. After a failed flush (say a service that turned
        a StaleDataError into a 409) the session refuses every statement until it is rolled
        back: those readers failed with PendingRollbackError, a 500 instead of the 409."""
        _rollback_request()
        return super().handle_user_exception(e)


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    settings = settings or Settings.load(**overrides)
    app = App(__name__, template_folder="web/templates", static_folder="web/static",
              instance_path=str(settings.instance_dir))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_content_length,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings.session_cookie_secure,
        WTF_CSRF_TIME_LIMIT=None,
        TESTING=settings.testing,
        JSON_SORT_KEYS=False,
    )
    if settings.trusted_proxies:
        # behind a load balancer: the client's address (login throttle, access log), scheme
        # and host are what the trusted hops forwarded
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    if settings.sqlalchemy_url.startswith("sqlite"):
        settings.instance_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.sqlalchemy_url)
    app.extensions["itilflow"] = Runtime(
        settings=settings, engine=engine, session_factory=make_session_factory(engine),
        rules=load_rules(settings),
    )

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    csrf.init_app(app)
    _register_request_boundary(app)

    from itilflow.web.auth import bp as auth_bp
    from itilflow.web.auth import load_user

    login_manager.user_loader(load_user)
    app.register_blueprint(auth_bp)
    from itilflow.web import init_web  # portal, agent workspace, admin, i18n, limits

    init_web(app)

    from itilflow.api import init_api

    init_api(app)
    from itilflow.api.pager import register_pager  # pager hooks, escalation, /readyz

    register_pager(app)
    from itilflow.api import register_api_blueprint  # monthly report, access log
    from itilflow.api.reports import blp as reports_api
    from itilflow.web.access_capture import init_access_capture
    from itilflow.web.reports import bp as reports_web

    register_api_blueprint(app, reports_api)
    from itilflow.api.notifications import blp as notifications_api

    register_api_blueprint(app, notifications_api)
    app.register_blueprint(reports_web)
    init_access_capture(app)

    @app.get("/healthz")
    def healthz():
        try:
            db().execute(text("SELECT 1"))
        except OperationalError:
            return jsonify(status="unavailable", database=False), 503
        return jsonify(status="ok", database=True)

    @app.get("/")
    def home():
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login"))
        from itilflow.web import home_redirect

        return home_redirect()

    return app


def _rollback_request() -> None:
    from flask import g

    session = g.get("db_session")
    if session is not None:
        session.rollback()


def _register_request_boundary(app: Flask) -> None:
    """One commit per request, at the boundary: only a successful response commits."""

    @app.after_request
    def commit_on_success(response):
        from flask import g

        session = g.get("db_session")
        if session is not None and session.is_active:
            if response.status_code < 400:
                try:
                    session.commit()
                except IntegrityError as exc:
                    from itilflow.api.errors import handle_integrity_error

                    session.rollback()
                    response = app.make_response(handle_integrity_error(exc))
            else:
                session.rollback()
        return response

    @app.teardown_request
    def close_session(_exc):
        from flask import g

        session = g.pop("db_session", None)
        if session is not None:
            session.rollback()
            session.close()
