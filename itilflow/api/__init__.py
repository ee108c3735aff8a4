"""The REST API v1 under ``/api/v1``: flask-smorest blueprints, one error shape, two ways in.

For the other API blueprints (pager, reports, audit)::

    from itilflow.api import current_actor, register_api_blueprint

    blp = flask_smorest.Blueprint("reports", __name__, url_prefix="/api/v1/reports")

    @blp.route("/monthly")
    def monthly():
        user, actor = current_actor()   # 401 without valid credentials, CSRF for cookie callers
        ...

    register_api_blueprint(app, blp)   # after init_api(app): CSRF-exempt, in the OpenAPI document

Every ``DomainError`` and HTTP error raised under ``/api/v1`` is answered as
``{"status": N, "message": "...", "errors": {field: [reasons]}}``; anything unexpected is
logged and answered with a JSON 500 as the last resort.
"""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from itilflow.api.auth import NotAuthenticated, current_actor
from itilflow.api.errors import API_PREFIX, register_error_handlers
from itilflow.api.schemas import ErrorSchema

__all__ = ["API_PREFIX", "NotAuthenticated", "current_actor", "init_api", "register_api_blueprint"]


class ItilflowApi(Api):
    """flask-smorest's Api with our error shape; the handlers are registered by us, and only
    answer JSON under /api/v1 (the web UI keeps its HTML error pages)."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        register_error_handlers(self._app)


def api_of(app: Flask) -> ItilflowApi:
    return app.extensions["itilflow_api"]


def register_api_blueprint(app: Flask, blp) -> None:
    """Register an API blueprint: exempt from the form CSRF check (``current_actor`` checks the
    X-CSRFToken header of cookie-authenticated unsafe calls itself) and, for a flask-smorest
    blueprint, documented in the OpenAPI document."""
    from itilflow.app import csrf

    csrf.exempt(blp)
    from flask_smorest import Blueprint as SmorestBlueprint

    if isinstance(blp, SmorestBlueprint):
        api_of(app).register_blueprint(blp)
    else:
        app.register_blueprint(blp)


def init_api(app: Flask) -> ItilflowApi:
    """Create the API on ``app``: error handlers, the OpenAPI document at
    /api/v1/openapi.json, the reference page at /api/v1/docs and the v1 blueprints."""
    app.config.setdefault("API_TITLE", "itilflow")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", API_PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    app.config.setdefault("API_SPEC_OPTIONS", {
        "info": {"description": _DESCRIPTION},
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "components": {"securitySchemes": {"bearerAuth": {
            "type": "http", "scheme": "bearer",
            "description": "An API token from `itilflow token create EMAIL` or POST /api/v1/tokens",
        }}},
    })
    api = ItilflowApi(app)
    app.extensions["itilflow_api"] = api

    from itilflow.api import directory, docs, itsm, tickets

    for blp in (directory.blp, tickets.blp, itsm.blp, docs.blp):
        register_api_blueprint(app, blp)
    return api


_DESCRIPTION = """The HTTP API of itilflow. Authenticate with `Authorization: Bearer <token>`
(or, from the web UI, the session cookie plus an `X-CSRFToken` header on unsafe calls).

Errors are JSON `{"status": N, "message": "...", "errors": {"field": ["reason"]}}`:
400 bad JSON (or a body not sent as `application/json`), 401 no or bad credentials, 403 known
caller not allowed, 404 unknown or not visible to the caller (another organisation's ticket is a
404), 405 method not allowed, 409 transition not valid in the state or stale `version`, 413 body
too large, 422 field validation (unknown fields and query parameters are refused, as are a
trigger the workflow does not have and a filter value no ticket can have). A failed request
changes nothing."""
