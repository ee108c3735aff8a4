"""The monthly report, outage corrections and the access log over HTTP. Thin: the services
decide who may read what."""

from __future__ import annotations

import marshmallow as ma
from flask import Response, g, jsonify, stream_with_context
from flask.views import MethodView
from flask_smorest import Blueprint

from itilflow.api import schemas as s
from itilflow.api.auth import authenticate_first, current_actor
from itilflow.api.errors import API_PREFIX, error_docs
from itilflow.runtime import db, runtime, utcnow
from itilflow.services import access_log, reports
from itilflow.services.tickets import number_of

blp = Blueprint("reports", __name__, url_prefix=API_PREFIX,
                description="The monthly standard report and the access log")
authenticate_first(blp)
errors = error_docs(blp)


def _csv(body, filename: str) -> Response:
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@blp.route("/reports/monthly")
class MonthlyReport(MethodView):
    @blp.arguments(s.MonthlyQuery, location="query", as_kwargs=True, unknown=ma.RAISE)
    @blp.doc(responses={"200": s.MONTHLY_ANSWER})
    @errors(401, 404)
    def get(self, month, customer=None, format="json"):
        """The monthly standard report of ``customer`` for ``month`` (YYYY-MM); ``format=csv``

        A customer's staff read their own organisation's report (another's is a 404); SIT
        staff read any, and all customers at once without ``customer``."""
        _user, actor = current_actor()
        report = reports.monthly_report(db(), runtime().rules, actor, customer=customer,
                                        month=month, now=utcnow())
        # whose report was read, for the access log (web/access_capture.py), also when no
        # customer was named
        g.report_read = {"customer": report["customer"] or "all", "month": report["month"]}
        if format == "csv":
            name = (report["customer"] or "all").replace('"', "")
            return _csv(reports.report_csv(report), f"report-{name}-{report['month']}.csv")
        return jsonify(report)


@blp.route("/tickets/<ref>/outage")
class Outage(MethodView):
    @blp.arguments(s.OutageIn)
    @blp.response(200, s.OutageOut)
    @errors(400, 401, 403, 404, 413)
    def put(self, data, ref: str):
        """Correct an outage incident's start and end (``end`` null while the outage lasts)

        The party working the incident (its R or A) corrects it; the correction is written
        to the ticket's history."""
        user, actor = current_actor()
        rules = runtime().rules
        ticket = reports.correct_outage(db(), rules, user, actor, ref, start=data["start"],
                                        end=data.get("end"), reason=data["reason"], now=utcnow())
        return {"id": ticket.id, "number": number_of(rules, ticket), "outage": ticket.outage,
                "outage_start": ticket.details.get("outage_start"),
                "outage_end": ticket.details.get("outage_end"), "version": ticket.version}


@blp.route("/audit/access")
class AccessLog(MethodView):
    @blp.arguments(s.AccessQuery, location="query", as_kwargs=True, unknown=ma.RAISE)
    @blp.response(200, s.AccessPage)
    @blp.doc(responses={"200": s.ACCESS_ANSWER})
    @errors(401, 403)
    def get(self, limit=100, before=None, format="json", **query):
        """The access log (admins), newest first

        Filters ``actor`` (email), ``action``, ``since``, ``until``, ``target``; page with
        ``limit`` (1-1000) and ``before`` (the previous page's ``next_before``);
        ``format=csv`` exports everything that matches, oldest first."""
        _user, actor = current_actor()
        access_log.require_auditor(actor)
        filters = access_log.parse_filters(query)
        session = db()
        if format == "csv":
            chunks = access_log.entries_csv(access_log.iter_entries(session, actor, filters))
            first = next(chunks)  # errors surface before streaming starts
            return _csv(stream_with_context(_chain(first, chunks)), "access-log.csv")
        items, next_before = access_log.list_entries(session, actor, filters, before_seq=before,
                                                     limit=limit)
        return {"items": [access_log.entry_as_dict(e) for e in items], "next_before": next_before}


def _chain(first, rest):
    yield first
    yield from rest
