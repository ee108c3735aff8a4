"""Pager hooks, escalation policies, on-call schedules, dead letters and the inbound pager
call, under /api/v1; and ``GET /readyz`` (database reachable and the outbox not behind).
Thin: the rules live in ``itilflow.services.paging`` and ``itilflow.services.oncall``."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from itilflow.api import current_actor
from itilflow.domain.errors import ValidationError
from itilflow.runtime import db, runtime, utcnow
from itilflow.services import oncall, paging

blp = Blueprint("pager", __name__, url_prefix="/api/v1")
health = Blueprint("pager_health", __name__)


def _body() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ValidationError("The body must be a JSON object.", {"_schema": ["A JSON object."]})
    return data


@blp.post("/pager-hooks")
def create_hook():
    _user, actor = current_actor()
    hook, secret = paging.create_hook(db(), actor, _body(), now=utcnow())
    return jsonify(paging.hook_json(hook, secret=secret)), 201


@blp.get("/pager-hooks")
def list_hooks():
    _user, actor = current_actor()
    return jsonify([paging.hook_json(h) for h in paging.list_hooks(db(), actor)])


@blp.put("/systems/<key>/escalation")
def put_escalation(key: str):
    _user, actor = current_actor()
    system, party, levels = paging.set_escalation(db(), actor, key, _body())
    return jsonify(paging.escalation_json(system, party, levels))


@blp.get("/systems/<key>/escalation")
def get_escalation(key: str):
    from itilflow.services import directory

    _user, actor = current_actor()
    directory.require_admin(actor)
    system = directory.system_for(db(), actor, key)
    return jsonify([paging.escalation_json(system, party, paging.levels_of(db(), system.id, party))
                    for party in ("provider", "customer")])


@blp.post("/oncall-schedules")
def create_schedule():
    _user, actor = current_actor()
    schedule = oncall.create_schedule(db(), actor, _body(), now=utcnow())
    return jsonify(oncall.schedule_json(schedule)), 201


@blp.get("/oncall-schedules")
def list_schedules():
    _user, actor = current_actor()
    return jsonify([oncall.schedule_json(s) for s in oncall.list_schedules(db(), actor)])


@blp.get("/oncall-schedules/<name>")
def get_schedule(name: str):
    _user, actor = current_actor()
    return jsonify(oncall.schedule_json(oncall.get_schedule(db(), actor, name)))


@blp.get("/oncall-schedules/<name>/now")
def on_call_now(name: str):
    """Who is on call now (or at ``?at=<ISO 8601 with offset>``)."""
    _user, actor = current_actor()
    return jsonify(oncall.now_json(db(), actor, name, at=request.args.get("at"), now=utcnow()))


@blp.get("/pager/dead-letters")
def dead_letters():
    _user, actor = current_actor()
    rules = runtime().rules
    return jsonify([paging.page_json(rules, db(), p) for p in paging.dead_letters(db(), actor)])


@blp.post("/pager/dead-letters/<int:page_id>/resend")
def resend(page_id: int):
    _user, actor = current_actor()
    page = paging.resend(db(), actor, page_id, now=utcnow())
    return jsonify(paging.page_json(runtime().rules, db(), page)), 202


@blp.post("/pager/events")
def pager_event():
    """Inbound from a pager, Standard Webhooks signed: no bearer token, the signature is the
    credential."""
    raw = request.get_data(cache=True)
    headers = {name: request.headers.get(name, "")
               for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    result = paging.inbound_event(db(), runtime().rules, headers, raw,
                                  request.get_json(silent=True), now=utcnow())
    return jsonify(result)


@health.get("/readyz")
def readyz():
    """200 when the database answers and no due outbox row waits longer than
    ``outbox_max_lag_seconds``; 503 otherwise (with the lag)."""
    try:
        db().execute(text("SELECT 1"))
        lag = paging.outbox_lag_seconds(db(), utcnow())
    except OperationalError:
        return jsonify(status="unavailable", database=False), 503
    limit = runtime().settings.outbox_max_lag_seconds
    ok = lag <= limit
    return jsonify(status="ok" if ok else "behind", database=True,
                   outbox_lag_seconds=round(lag, 1), outbox_max_lag_seconds=limit), \
        200 if ok else 503


def register_pager(app) -> None:
    """Register the pager API (CSRF-exempt; POST /pager/events is signed instead) and /readyz."""
    from itilflow.api import register_api_blueprint

    register_api_blueprint(app, blp)
    app.register_blueprint(health)
