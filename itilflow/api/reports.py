"""The monthly report, outage corrections and the access log over HTTP. Thin: the services
decide who may read what."""

from __future__ import annotations

from flask import Response, jsonify, request, stream_with_context
from flask_smorest import Blueprint

from itilflow.api.auth import authenticate_first, current_actor
from itilflow.api.errors import API_PREFIX
from itilflow.domain.errors import ValidationError
from itilflow.runtime import db, runtime, utcnow
from itilflow.services import access_log, reports
from itilflow.services.tickets import number_of

blp = Blueprint("reports", __name__, url_prefix=API_PREFIX,
                description="The monthly standard report and the access log")
authenticate_first(blp)


def _csv(body, filename: str) -> Response:
    response = Response(body, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _format() -> str:
    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv"):
        raise ValidationError("Unknown format.", {"format": ["json or csv."]})
    return fmt


@blp.route("/reports/monthly", methods=["GET"])
def monthly_report():
    """The monthly standard report of ``customer`` for ``month`` (YYYY-MM); ``format=csv``.

    A customer's staff read their own organisation's report (another's is a 404); SIT staff
    read any, and all customers at once without ``customer``."""
    _user, actor = current_actor()
    fmt = _format()
    report = reports.monthly_report(db(), runtime().rules, actor,
                                    customer=request.args.get("customer"),
                                    month=request.args.get("month"), now=utcnow())
    if fmt == "csv":
        name = (report["customer"] or "all").replace('"', "")
        return _csv(reports.report_csv(report), f"report-{name}-{report['month']}.csv")
    return jsonify(report)


@blp.route("/tickets/<ref>/outage", methods=["PUT"])
def correct_outage(ref: str):
    """Correct an outage incident's start and end: ``{start, end, reason}`` (end null while the
    outage lasts). The correction is written to the ticket's history."""
    user, actor = current_actor()
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationError("A JSON object is required.", {"_schema": ["A JSON object."]})
    unknown = sorted(set(body) - {"start", "end", "reason"})
    if unknown:
        raise ValidationError("Unknown fields.", {k: ["Unknown field."] for k in unknown})
    rules = runtime().rules
    ticket = reports.correct_outage(db(), rules, user, actor, ref, start=body.get("start"),
                                    end=body.get("end"), reason=body.get("reason"), now=utcnow())
    return jsonify(id=ticket.id, number=number_of(rules, ticket), outage=ticket.outage,
                   outage_start=ticket.details.get("outage_start"),
                   outage_end=ticket.details.get("outage_end"), version=ticket.version)


@blp.route("/audit/access", methods=["GET"])
def access():
    """The access log (admins): filters ``actor`` (email), ``action``, ``since``, ``until``,
    ``target``; newest first with ``before``/``limit`` paging; ``format=csv`` exports it all."""
    _user, actor = current_actor()
    fmt = _format()
    access_log.require_auditor(actor)
    filters = access_log.parse_filters(request.args)
    session = db()
    if fmt == "csv":
        chunks = access_log.entries_csv(access_log.iter_entries(session, actor, filters))
        first = next(chunks)  # errors surface before streaming starts
        return _csv(stream_with_context(_chain(first, chunks)), "access-log.csv")
    before = _int_arg("before")
    limit = _int_arg("limit") or 100
    items, next_before = access_log.list_entries(session, actor, filters, before_seq=before,
                                                 limit=limit)
    return jsonify(items=[access_log.entry_as_dict(e) for e in items], next_before=next_before)


def _chain(first, rest):
    yield first
    yield from rest


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    if not raw.isdecimal() or len(raw) > 12:
        raise ValidationError(f"{name} must be a whole number.", {name: ["A whole number."]})
    return int(raw)
