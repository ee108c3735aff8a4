"""Changes (calendar, CAB, warnings, templates, freeze periods), consultations, problem links
and known errors, and service requests. Thin: ``itilflow.services.changes``, ``problems`` and
``requests`` decide, and filter what the caller may see; these views only translate."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import validate

from itilflow.api import itsm_schemas as x
from itilflow.api import schemas as s
from itilflow.api.auth import authenticate_first, current_actor
from itilflow.api.errors import API_PREFIX, error_docs
from itilflow.api.tickets import ticket_view
from itilflow.runtime import db, runtime, utcnow
from itilflow.services import changes, problems, requests

blp = Blueprint("itsm", __name__, url_prefix=API_PREFIX,
                description="Changes, problems and service requests: calendar, CAB, consultations, "
                            "known errors, templates and freeze periods")
authenticate_first(blp)
errors = error_docs(blp)


# the query schemas, with the rules of every query (itilflow.api.schemas.Query): a
# single-valued parameter given twice is refused, a number is ASCII digits

class StrictCalendarQuery(s.Query, x.CalendarQuery):
    pass


class StrictTemplateQuery(s.Query, x.TemplateQuery):
    pass


class StrictFreezeQuery(s.Query, x.FreezeQuery):
    pass


class StrictKnownErrorQuery(s.Query, x.KnownErrorQuery):
    limit = s.QueryInt(load_default=20, validate=validate.Range(1, 50))


def _items(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"items": items}


# --- service requests ---------------------------------------------------------------------

@blp.route("/requests")
class Requests(MethodView):
    @blp.arguments(x.RequestIn)
    @blp.response(201, s.TicketOut)
    @errors(400, 401, 403, 413)
    def post(self, data):
        """Raise a service request (restore, backup, administrative or user access)

        The matrix row of ``activity`` on ``layer`` decides who works it; ``on_request: true``
        asks the conditional R (footnote 7). The ticket's number is ``REQ-...``."""
        user, actor = current_actor()
        session, rules, now = db(), runtime().rules, utcnow()
        ticket = requests.submit_request(session, rules, user, actor, data, now=now)
        return ticket_view(session, rules, actor, ticket, now)


# --- changes ------------------------------------------------------------------------------

@blp.route("/changes/calendar")
class Calendar(MethodView):
    @blp.arguments(StrictCalendarQuery, location="query", unknown=ma.RAISE)
    @blp.response(200, x.CalendarPage)
    @errors(401, 404)
    def get(self, query):
        """Changes planned in a period, by window start, with live warnings

        ``from`` and ``to`` (or ``start`` and ``end``) are ISO date-times with an offset, at most
        400 days apart. Only the changes the caller may see."""
        _, actor = current_actor()
        return _items(changes.change_calendar(
            db(), runtime().rules, actor, start=query.get("start_from") or query.get("start"),
            end=query.get("end_to") or query.get("end"), system=query.get("system"),
            include_inactive=query["include_inactive"]))


@blp.route("/changes/cab")
class Cab(MethodView):
    @blp.arguments(s.NoQuery, location="query", as_kwargs=True, unknown=ma.RAISE)
    @blp.response(200, x.CabPage)
    @errors(401)
    def get(self):
        """The CAB view: changes awaiting approval or emergency authorisation

        Per change: which accountable parties must still approve, the approvals given, and
        whether the caller may approve now. Only the changes the caller may see."""
        _, actor = current_actor()
        return _items(changes.cab_view(db(), runtime().rules, actor))


@blp.route("/changes/<ticket_id>/warnings")
class Warnings(MethodView):
    @blp.arguments(s.NoQuery, location="query", as_kwargs=True, unknown=ma.RAISE)
    @blp.response(200, x.WarningsPage)
    @errors(401, 404)
    def get(self, ticket_id):
        """A change's warnings as of now: overlapping changes and freeze periods"""
        _, actor = current_actor()
        return _items(changes.change_warnings(db(), runtime().rules, actor, ticket_id))


@blp.route("/changes/<ticket_id>/reschedule")
class Reschedule(MethodView):
    @blp.arguments(x.RescheduleIn)
    @blp.response(200, s.TicketOut)
    @errors(400, 401, 403, 404, 409, 413)
    def post(self, data, ticket_id):
        """Move a change's planned window

        By the change's R, before its implementation starts (409 after). The window is checked
        as at submission (422) and its warnings worked out again; approvals are kept; the
        history's ``rescheduled`` event names the old and the new window."""
        user, actor = current_actor()
        session, rules, now = db(), runtime().rules, utcnow()
        ticket = changes.reschedule_change(session, rules, user, actor, ticket_id, data, now=now)
        return ticket_view(session, rules, actor, ticket, now)


@blp.route("/tickets/<ticket_id>/consultations")
class Consultations(MethodView):
    @blp.arguments(s.NoQuery, location="query", as_kwargs=True, unknown=ma.RAISE)
    @blp.response(200, x.ConsultationPage)
    @errors(401, 404)
    def get(self, ticket_id):
        """A ticket's consultations: stage, party asked, question, answer, who and when"""
        _, actor = current_actor()
        return _items(changes.consultations_of(db(), runtime().rules, actor, ticket_id))


@blp.route("/tickets/<ticket_id>/waiting-on")
class WaitingOn(MethodView):
    @blp.arguments(s.NoQuery, location="query", as_kwargs=True, unknown=ma.RAISE)
    @blp.response(200, x.WaitingOnOut)
    @errors(401, 404)
    def get(self, ticket_id):
        """What the ticket waits for, and on whom

        Open consultations, gated next steps with the consulted parties they still need, and
        (changes) the approvals still missing per accountable party."""
        _, actor = current_actor()
        return changes.waiting_on(db(), runtime().rules, actor, ticket_id)


# --- templates ------------------------------------------------------------------------------

@blp.route("/change-templates")
class Templates(MethodView):
    @blp.arguments(StrictTemplateQuery, location="query", unknown=ma.RAISE)
    @blp.response(200, x.TemplatePage)
    @errors(401)
    def get(self, query):
        """The standard-change templates (pre-approved), with their matrix cell"""
        current_actor()
        rules = runtime().rules
        rows = changes.list_templates(db(), include_inactive=query["include_inactive"])
        return _items([changes.template_as_dict(rules, t) for t in rows])

    @blp.arguments(x.TemplateIn)
    @blp.response(201, x.TemplateOut)
    @errors(400, 401, 403, 409, 413)
    def post(self, data):
        """Create a template (admins and SIT managers); 409 when the key is taken"""
        _, actor = current_actor()
        rules = runtime().rules
        template = changes.create_template(db(), rules, actor, data, now=utcnow())
        return changes.template_as_dict(rules, template)


@blp.route("/change-templates/<key>")
class TemplateOne(MethodView):
    @blp.arguments(x.TemplatePatch)
    @blp.response(200, x.TemplateOut)
    @errors(400, 401, 403, 404, 413)
    def patch(self, data, key):
        """Retire or re-activate a template (admins and SIT managers)"""
        _, actor = current_actor()
        template = changes.set_template_active(db(), actor, key, data["active"])
        return changes.template_as_dict(runtime().rules, template)


# --- freeze periods -------------------------------------------------------------------------

@blp.route("/freeze-periods")
class Freezes(MethodView):
    @blp.arguments(StrictFreezeQuery, location="query", unknown=ma.RAISE)
    @blp.response(200, x.FreezePage)
    @errors(401)
    def get(self, query):
        """The freeze periods the caller's organisation is subject to (all, for SIT)"""
        _, actor = current_actor()
        rows = changes.list_freeze_periods(db(), actor, start=query.get("start"),
                                           end=query.get("end"))
        return _items([changes.freeze_as_dict(p) for p in rows])

    @blp.arguments(x.FreezeIn)
    @blp.response(201, x.FreezeOut)
    @errors(400, 401, 403, 413)
    def post(self, data):
        """Declare a freeze period (admins and SIT managers)

        Global without ``customer`` and ``system``; a change planned in it gets a warning,
        never a refusal."""
        _, actor = current_actor()
        return changes.freeze_as_dict(changes.create_freeze_period(db(), actor, data, now=utcnow()))


@blp.route("/freeze-periods/<int:period_id>")
class FreezeOne(MethodView):
    @blp.response(204)
    @errors(401, 403, 404)
    def delete(self, period_id):
        """Remove a freeze period (admins and SIT managers)"""
        _, actor = current_actor()
        changes.delete_freeze_period(db(), actor, period_id)


# --- problems -----------------------------------------------------------------------------

@blp.route("/problems/known-errors")
class KnownErrors(MethodView):
    @blp.arguments(StrictKnownErrorQuery, location="query", unknown=ma.RAISE)
    @blp.response(200, x.KnownErrorPage)
    @errors(401, 404)
    def get(self, query):
        """Known errors (problems with a workaround) by words and/or system

        Without ``q`` every known error (of the system), newest first. Only what the caller
        may see."""
        _, actor = current_actor()
        return _items(problems.search_known_errors(
            db(), runtime().rules, actor, q=query.get("q"), system=query.get("system"),
            limit=query["limit"]))


@blp.route("/problems/<ticket_id>/incidents")
class ProblemIncidents(MethodView):
    @blp.arguments(s.NoQuery, location="query", as_kwargs=True, unknown=ma.RAISE)
    @blp.response(200, x.LinkedIncidentPage)
    @errors(401, 404)
    def get(self, ticket_id):
        """The incidents of a problem, each with whether the caller may resolve it now"""
        _, actor = current_actor()
        return _items(problems.linked_incidents(db(), runtime().rules, actor, ticket_id))

    @blp.arguments(x.LinkIn)
    @blp.response(200, s.TicketOut)
    @errors(400, 401, 403, 404, 409, 413)
    def post(self, data, ticket_id):
        """Link an incident to the problem (the R of either); 409 when linked already"""
        user, actor = current_actor()
        session, rules, now = db(), runtime().rules, utcnow()
        problem = problems.link_incident(session, rules, user, actor, ticket_id, data["incident"],
                                         now=now)
        return ticket_view(session, rules, actor, problem, now)


@blp.route("/problems/<ticket_id>/incidents/<incident>")
class ProblemIncident(MethodView):
    @blp.response(200, s.TicketOut)
    @errors(401, 403, 404, 409)
    def delete(self, ticket_id, incident):
        """Unlink an incident from the problem; 409 when not linked"""
        user, actor = current_actor()
        session, rules, now = db(), runtime().rules, utcnow()
        problem = problems.unlink_incident(session, rules, user, actor, ticket_id, incident, now=now)
        return ticket_view(session, rules, actor, problem, now)


@blp.route("/problems/<ticket_id>/resolve-incidents")
class ResolveIncidents(MethodView):
    @blp.arguments(x.ResolveIncidentsIn)
    @blp.response(200, x.ResolvePage)
    @errors(400, 401, 404, 409, 413)
    def post(self, data, ticket_id):
        """Resolve the still-open incidents of a resolved problem that the caller may resolve

        One result per incident: resolved, already_resolved, not_permitted (another party's).
        409 while the problem is not resolved."""
        user, actor = current_actor()
        return _items(problems.resolve_linked_incidents(
            db(), runtime().rules, user, actor, ticket_id, now=utcnow(),
            resolution=data.get("resolution")))


@blp.route("/tickets/<ticket_id>/problems")
class TicketProblems(MethodView):
    @blp.arguments(s.NoQuery, location="query", as_kwargs=True, unknown=ma.RAISE)
    @blp.response(200, x.SummaryPage)
    @errors(401, 404)
    def get(self, ticket_id):
        """The problems an incident is linked to"""
        _, actor = current_actor()
        return _items(problems.problems_of(db(), runtime().rules, actor, ticket_id))


@blp.route("/tickets/<ticket_id>/known-errors")
class TicketKnownErrors(MethodView):
    @blp.arguments(s.NoQuery, location="query", as_kwargs=True, unknown=ma.RAISE)
    @blp.response(200, x.KnownErrorPage)
    @errors(401, 404)
    def get(self, ticket_id):
        """Known errors matching an incident's title on its system, best first (for triage)"""
        _, actor = current_actor()
        return _items(problems.matching_known_errors(db(), runtime().rules, actor, ticket_id))
