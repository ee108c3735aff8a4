"""Pager hooks, escalation policies, on-call schedules, dead letters and the inbound pager
call, under /api/v1 and in the OpenAPI document; and ``GET /readyz`` (database reachable and the
outbox not behind), outside /api/v1 and undocumented like /healthz.
Thin: the rules live in ``itilflow.services.paging`` and ``itilflow.services.oncall``."""

from __future__ import annotations

from datetime import timedelta

import marshmallow as ma
from flask import Blueprint as FlaskBlueprint
from flask import jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from itilflow.api import current_actor
from itilflow.api import pager_schemas as x
from itilflow.api import schemas as s
from itilflow.api.errors import API_PREFIX, error_docs
from itilflow.api.schemas import ErrorSchema
from itilflow.migrate import head_revision, schema_revision
from itilflow.runtime import db, runtime, utcnow
from itilflow.services import directory, oncall, paging

blp = Blueprint("pager", __name__, url_prefix=API_PREFIX,
                description="Pager hooks, escalation policies, on-call schedules and dead letters "
                            "(admin)")
inbound = Blueprint("pager_inbound", __name__, url_prefix=API_PREFIX,
                    description="The inbound pager call: Standard Webhooks signed, no bearer token")
health = FlaskBlueprint("pager_health", __name__)

errors = error_docs(blp)


@blp.before_request
def _admin_before_body():
    """Every call here is an admin's: credentials and role are checked before the body or query
    is validated, so a caller without them gets 401/403 whatever it sends (the services check
    the role again)."""
    _user, actor = current_actor()
    directory.require_admin(actor)


# --- pager hooks ----------------------------------------------------------------------------

@blp.route("/pager-hooks")
class PagerHooks(MethodView):
    @blp.arguments(s.NoQuery, location="query", as_kwargs=True, unknown=ma.RAISE)
    @blp.response(200, x.PagerHookOut(many=True))
    @errors(401, 403)
    def get(self):
        """The pager hooks, by name (admin); never their secrets"""
        _user, actor = current_actor()
        return [paging.hook_json(h) for h in paging.list_hooks(db(), actor)]

    @blp.arguments(x.PagerHookIn)
    @blp.response(201, x.PagerHookOut)
    @errors(400, 401, 403, 409, 413)
    def post(self, data):
        """Create a pager hook (admin)

        Without a secret one is generated and returned in this answer only. The `pagerduty`
        format needs a routing_key. 409 when the name is taken."""
        _user, actor = current_actor()
        hook, secret = paging.create_hook(db(), actor, data, now=utcnow())
        return paging.hook_json(hook, secret=secret)


@blp.route("/pager-hooks/<name>")
class PagerHookOne(MethodView):
    @blp.arguments(x.PagerHookPatch)
    @blp.response(200, x.PagerHookOut)
    @errors(400, 401, 403, 404, 413)
    def patch(self, data, name):
        """Change a pager hook's url, format, routing key or secret (admin)

        `secret: null` rotates the secret: the new one is in this answer only. The replaced
        secret still signs pages (a second `v1,` signature) and verifies pager calls until
        `previous_secret_expires_at` (`ITILFLOW_PAGER_SECRET_OVERLAP_SECONDS`, default 24 h)."""
        _user, actor = current_actor()
        hook, secret = paging.update_hook(db(), actor, name, data, now=utcnow(),
                                          overlap=_secret_overlap())
        return paging.hook_json(hook, secret=secret)

    @blp.response(200, x.PagerHookRemovedOut)
    @errors(401, 403, 404)
    @blp.alt_response(409, schema=ErrorSchema, description=(
        "Escalation levels name the hook (the message names their systems), or an escalation "
        "in progress may still page it"))
    def delete(self, name):
        """Remove a pager hook (admin)

        A hook that never paged is deleted; one that did is retired: kept, listed with
        `active: false` for its pages' history, no longer selectable for escalation levels, and
        its secret no longer accepted on `POST /pager/events`."""
        _user, actor = current_actor()
        return {"name": name, "outcome": paging.remove_hook(db(), actor, name)}


def _secret_overlap() -> timedelta:
    return timedelta(seconds=runtime().settings.pager_secret_overlap_seconds)


# --- escalation policies ----------------------------------------------------------------------

@blp.route("/systems/<key>/escalation")
class Escalation(MethodView):
    @blp.arguments(s.NoQuery, location="query", as_kwargs=True, unknown=ma.RAISE)
    @blp.response(200, x.EscalationOut(many=True))
    @errors(401, 403, 404)
    def get(self, key):
        """A system's escalation levels, the provider's then the customer's (admin)"""
        _user, actor = current_actor()
        directory.require_admin(actor)
        system = directory.system_for(db(), actor, key)
        return [paging.escalation_json(system, party, paging.levels_of(db(), system.id, party))
                for party in ("provider", "customer")]

    @blp.arguments(x.EscalationIn)
    @blp.response(200, x.EscalationOut)
    @errors(400, 401, 403, 404, 413)
    def put(self, data, key):
        """Replace one party's escalation levels of a system (admin)

        Level 1 is paged at once; each next level after the previous level's `delay_seconds`
        without an acknowledgement. Hooks and schedules are named; an unknown one is a 422."""
        _user, actor = current_actor()
        system, party, levels = paging.set_escalation(db(), actor, key, data)
        return paging.escalation_json(system, party, levels)


# --- on-call schedules ------------------------------------------------------------------------

@blp.route("/oncall-schedules")
class Schedules(MethodView):
    @blp.arguments(s.NoQuery, location="query", as_kwargs=True, unknown=ma.RAISE)
    @blp.response(200, x.ScheduleOut(many=True))
    @errors(401, 403)
    def get(self):
        """The on-call schedules, by name (admin)"""
        _user, actor = current_actor()
        return [oncall.schedule_json(s) for s in oncall.list_schedules(db(), actor)]

    @blp.arguments(x.ScheduleIn)
    @blp.response(201, x.ScheduleOut)
    @errors(400, 401, 403, 409, 413)
    def post(self, data):
        """Create an on-call schedule (admin)

        A weekly rotation, an iCalendar, overrides, or any mix (overrides win, then the
        calendar, then the rotation). 409 when the name is taken."""
        _user, actor = current_actor()
        return oncall.schedule_json(oncall.create_schedule(db(), actor, data, now=utcnow()))


@blp.route("/oncall-schedules/<name>")
class ScheduleOne(MethodView):
    @blp.arguments(s.NoQuery, location="query", as_kwargs=True, unknown=ma.RAISE)
    @blp.response(200, x.ScheduleOut)
    @errors(401, 403, 404)
    def get(self, name):
        """One on-call schedule (admin)"""
        _user, actor = current_actor()
        return oncall.schedule_json(oncall.get_schedule(db(), actor, name))

    @blp.arguments(x.SchedulePatch)
    @blp.response(200, x.ScheduleOut)
    @errors(400, 401, 403, 404, 409, 413)
    def patch(self, data, name):
        """Change an on-call schedule (admin)

        The fields given replace the schedule's (`overrides` as a whole list); escalation
        levels keep naming it, and the next page asks the changed schedule who is on call."""
        _user, actor = current_actor()
        return oncall.schedule_json(oncall.update_schedule(db(), actor, name, data, now=utcnow()))


@blp.route("/oncall-schedules/<name>/overrides")
class ScheduleOverrides(MethodView):
    @blp.arguments(x.OverrideIn)
    @blp.response(201, x.ScheduleOut)
    @errors(400, 401, 403, 404, 413)
    def post(self, data, name):
        """Add one override to an on-call schedule (admin)

        Someone covers a shift ("Bo takes tonight for Anne"); overrides already over are
        dropped, and one that has already ended is refused (422 on `end`). The answer is the
        whole schedule."""
        _user, actor = current_actor()
        return oncall.schedule_json(oncall.add_override(db(), actor, name, data, now=utcnow()))


@blp.route("/oncall-schedules/<name>/now")
class OnCallNow(MethodView):
    @blp.arguments(x.OnCallQuery, location="query", unknown=ma.RAISE)
    @blp.response(200, x.OnCallNowOut)
    @errors(401, 403, 404)
    def get(self, query, name):
        """Who is on call now, or at `at` (admin)

        With where it comes from (override, ical or rotation) and since and until when. A bad
        `at` is a 422; unknown query parameters are refused (422)."""
        _user, actor = current_actor()
        return oncall.now_json(db(), actor, name, at=query.get("at"), now=utcnow())


# --- dead letters -----------------------------------------------------------------------------

@blp.route("/pager/dead-letters")
class DeadLetters(MethodView):
    @blp.arguments(s.NoQuery, location="query", as_kwargs=True, unknown=ma.RAISE)
    @blp.response(200, x.PageOut(many=True))
    @errors(401, 403)
    def get(self):
        """The pages that could not be delivered, newest first, at most 100 (admin)"""
        _user, actor = current_actor()
        rules = runtime().rules
        return [paging.page_json(rules, db(), p) for p in paging.dead_letters(db(), actor)]


@blp.route("/pager/dead-letters/<int:page_id>/resend")
class Resend(MethodView):
    @blp.response(202, x.PageOut)
    @errors(401, 403, 404)
    @blp.alt_response(409, schema=ErrorSchema, description="The page is not dead-lettered")
    def post(self, page_id):
        """Send a dead-lettered page again, with the same webhook-id (admin)"""
        _user, actor = current_actor()
        page = paging.resend(db(), actor, page_id, now=utcnow())
        return paging.page_json(runtime().rules, db(), page)


# --- inbound ----------------------------------------------------------------------------------

def _signature_header(name: str, description: str) -> dict:
    return {"in": "header", "name": name, "required": True, "schema": {"type": "string"},
            "description": description}


@inbound.route("/pager/events")
class PagerEvents(MethodView):
    @inbound.doc(
        security=[],
        parameters=[
            _signature_header("webhook-id", "The message id; a second call with it is a replay"),
            _signature_header("webhook-timestamp", "Unix seconds; at most 5 minutes off"),
            _signature_header("webhook-signature",
                              "`v1,` + base64 HMAC-SHA256 of `id.timestamp.body` with the "
                              "secret of a hook that paged for the dedup_key"),
        ],
        requestBody={"required": True, "content": {"application/json": {"schema": x.PagerEventIn}}})
    @inbound.response(200, x.PagerEventOut)
    @inbound.alt_response(400, schema=ErrorSchema,
                          description="Bad JSON, or a body that is not a JSON object")
    @inbound.alt_response(401, schema=ErrorSchema, description=(
        "Unsigned, badly signed, stale (more than 5 minutes) or replayed, or not signed by a hook "
        "that paged for the dedup_key"))
    @inbound.alt_response(413, schema=ErrorSchema, description="Request body too large")
    @inbound.alt_response(422, schema=ErrorSchema,
                          description="Signed, but the action is not acknowledge or resolve")
    def post(self):
        """Acknowledge or resolve from a pager (Standard Webhooks signed)

        No bearer token: the signature over the raw body is the credential. Acknowledge stops
        the escalation; resolve resolves the ticket. `applied` is false when the workflow does
        not allow it in the ticket's state."""
        raw = request.get_data(cache=True)
        headers = {name: request.headers.get(name, "")
                   for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
        return paging.inbound_event(db(), runtime().rules, headers, raw,
                                    request.get_json(silent=True), now=utcnow())


# --- readiness --------------------------------------------------------------------------------

@health.get("/readyz")
def readyz():
    """200 when the database answers, its schema is the one this code expects (``itilflow db
    upgrade`` has run) and no due outbox row waits longer than ``outbox_max_lag_seconds``;
    503 otherwise, saying which."""
    try:
        db().execute(text("SELECT 1"))
        schema = schema_revision(db().connection())
        if schema != head_revision():  # a new release before its migration: every write 500s
            return jsonify(status="migrations pending", database=True, schema=schema,
                           expected_schema=head_revision()), 503
        lag = paging.outbox_lag_seconds(db(), utcnow())
    except OperationalError:
        return jsonify(status="unavailable", database=False), 503
    limit = runtime().settings.outbox_max_lag_seconds
    ok = lag <= limit
    return jsonify(status="ok" if ok else "behind", database=True,
                   outbox_lag_seconds=round(lag, 1), outbox_max_lag_seconds=limit), \
        200 if ok else 503


def register_pager(app) -> None:
    """Register the pager API (CSRF-exempt; POST /pager/events is signed instead), in the
    OpenAPI document, and /readyz outside /api/v1."""
    from itilflow.api import register_api_blueprint

    register_api_blueprint(app, blp)
    register_api_blueprint(app, inbound)
    app.register_blueprint(health)
