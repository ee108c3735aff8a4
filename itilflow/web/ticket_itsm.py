"""The ticket page's forms beyond the workflow's triggers: link an incident to a problem and
unlink it (from either one's page), resolve a resolved problem's incidents too, and reschedule a change.

Each form calls the service the API calls (``problems.link_incident``, ``unlink_incident``,
``resolve_linked_incidents``, ``changes.reschedule_change``); every rule, and every refusal, is
the service's. A refused form draws the ticket page again (``tickets.render_ticket``: the access
log records it as a read) with the reasons by the fields (422), or the refusal as a message with
its own status; the request boundary rolls back any 4xx."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask_login import login_required

from itilflow.domain.errors import DomainError, NotFound, ValidationError
from itilflow.runtime import db, runtime, utcnow
from itilflow.services import changes, problems, tickets
from itilflow.web.common import actor, local_to_utc_iso, me, register_error_pages
from itilflow.web.i18n import _
from itilflow.web.tickets import render_ticket

bp = Blueprint("ticket_itsm", __name__, url_prefix="/tickets")
register_error_pages(bp)

#: the ids of the page's forms (``open_trigger`` of ``render_ticket``: the form whose errors show)
LINK_FORM, RESOLVE_FORM, RESCHEDULE_FORM = "link_incident", "resolve_incidents", "reschedule"
LINK_PROBLEM_FORM = "link_problem"
MAX_REF = 40


def _ticket(number: str):
    return tickets.get_ticket(db(), runtime().rules, actor(), number)


def _redraw(number: str, exc: DomainError, *, form: str | None = None,
            errors: dict[str, list[str]] | None = None):
    """The ticket page again after a refusal: the field errors under the form ``form`` (422),
    or the refusal's message with its status."""
    db().rollback()
    ticket = _ticket(number)
    if errors:
        return render_ticket(ticket, errors=errors, open_trigger=form, status=422,
                             values=request.form.to_dict())
    flash(exc.message, "error")
    return render_ticket(ticket, status=exc.status)


def _done(number: str, anchor: str):
    return redirect(url_for("ticket.show", number=number) + anchor, 303)


@bp.post("/<number>/incidents")
@login_required
def link_incident(number: str):
    """Link the incident typed by its number (``INC-000042`` or ``42``) to this problem."""
    _ticket(number)  # the problem itself: a 404 page when the viewer may not see it
    ref = (request.form.get("incident") or "").strip()[:MAX_REF]
    if not ref:
        return _redraw(number, ValidationError("Required."), form=LINK_FORM, errors={
            "incident": [_("Give an incident number, e.g. INC-000042.")]})
    rules = runtime().rules
    try:
        problems.link_incident(db(), rules, me(), actor(), number, ref, now=utcnow())
        linked = tickets.number_of(rules, tickets.get_ticket(db(), rules, actor(), ref))
    except NotFound as exc:  # the problem was found above: it is the incident
        return _redraw(number, exc, form=LINK_FORM, errors={
            "incident": [_("There is no incident %(number)s that you may see.", number=ref)]})
    except ValidationError as exc:
        return _redraw(number, exc, form=LINK_FORM, errors=_by_field(exc, "incident"))
    except DomainError as exc:
        return _redraw(number, exc)
    flash(_("%(incident)s is linked to this problem.", incident=linked), "ok")
    return _done(number, "#problem-h")


@bp.post("/<number>/incidents/<incident>/unlink")
@login_required
def unlink_incident(number: str, incident: str):
    try:
        problems.unlink_incident(db(), runtime().rules, me(), actor(), number, incident,
                                 now=utcnow())
    except DomainError as exc:
        return _redraw(number, exc)
    flash(_("%(incident)s is no longer linked to this problem.", incident=incident.upper()),
          "ok")
    return _done(number, "#problem-h")


@bp.post("/<number>/problems")
@login_required
def link_problem(number: str):
    """From an incident's page: link it to the problem typed by its number (``PRB-000042``)."""
    _ticket(number)  # the incident itself: a 404 page when the viewer may not see it
    ref = (request.form.get("problem") or "").strip()[:MAX_REF]
    if not ref:
        return _redraw(number, ValidationError("Required."), form=LINK_PROBLEM_FORM, errors={
            "problem": [_("Give a problem number, e.g. PRB-000042.")]})
    rules = runtime().rules
    try:
        problem = problems.link_incident(db(), rules, me(), actor(), ref, number, now=utcnow())
    except NotFound as exc:  # the incident was found above: it is the problem
        return _redraw(number, exc, form=LINK_PROBLEM_FORM, errors={
            "problem": [_("There is no problem %(number)s that you may see.", number=ref)]})
    except ValidationError as exc:
        errors = exc.errors or {}
        return _redraw(number, exc, form=LINK_PROBLEM_FORM, errors={"problem": errors.get(
            "problem") or errors.get("incident") or [exc.message]})
    except DomainError as exc:
        return _redraw(number, exc)
    flash(_("This incident is linked to %(problem)s.",
            problem=tickets.number_of(rules, problem)), "ok")
    return _done(number, "#problems-h")


@bp.post("/<number>/problems/<problem>/unlink")
@login_required
def unlink_problem(number: str, problem: str):
    try:
        problems.unlink_incident(db(), runtime().rules, me(), actor(), problem, number,
                                 now=utcnow())
    except DomainError as exc:
        return _redraw(number, exc)
    flash(_("This incident is no longer linked to %(problem)s.", problem=problem.upper()), "ok")
    return _done(number, "#problems-h")


@bp.post("/<number>/resolve-incidents")
@login_required
def resolve_incidents(number: str):
    """Resolve the still-open linked incidents this viewer may resolve; a message names each
    result (resolved, already resolved, not resolved and why)."""
    resolution = (request.form.get("resolution") or "").strip() or None
    try:
        results = problems.resolve_linked_incidents(
            db(), runtime().rules, me(), actor(), number, now=utcnow(), resolution=resolution)
    except ValidationError as exc:
        return _redraw(number, exc, form=RESOLVE_FORM, errors=_by_field(exc, "resolution"))
    except DomainError as exc:
        return _redraw(number, exc)
    for category, message in _results_messages(results):
        flash(message, category)
    return _done(number, "#problem-h")


def _results_messages(results: list[dict[str, Any]]) -> list[tuple[str, str]]:
    if not results:
        return [("ok", _("No linked incidents that you may see."))]
    messages = []
    resolved = [r["number"] for r in results if r["result"] == "resolved"]
    already = [r["number"] for r in results if r["result"] == "already_resolved"]
    if resolved:
        messages.append(("ok", _("Resolved: %(numbers)s.", numbers=", ".join(resolved))))
    if already:
        messages.append(("ok", _("Already resolved: %(numbers)s.", numbers=", ".join(already))))
    for r in results:
        if r["result"] in ("not_permitted", "failed"):
            messages.append(("error", _("%(number)s is not resolved: %(reason)s", number=r["number"],
                                        reason=_(r.get("reason") or ""))))
    return messages


@bp.post("/<number>/reschedule")
@login_required
def reschedule(number: str):
    """Move a change's planned window; the times are local (``ITILFLOW_TIMEZONE``), read as the
    change form reads them."""
    form = request.form
    data = {
        "planned_start": local_to_utc_iso(form["planned_start"]) if form.get("planned_start")
        else None,
        "planned_end": local_to_utc_iso(form["planned_end"]) if form.get("planned_end")
        else None,
        "comment": form.get("comment") or None,
    }
    try:
        changes.reschedule_change(db(), runtime().rules, me(), actor(), number, data,
                                  now=utcnow())
    except ValidationError as exc:
        return _redraw(number, exc, form=RESCHEDULE_FORM, errors=_by_field(exc, "planned_start"))
    except DomainError as exc:
        return _redraw(number, exc)
    flash(_("The change is rescheduled."), "ok")
    return _done(number, "#change-h")


def _by_field(exc: ValidationError, field: str) -> dict[str, list[str]]:
    """The service's field errors; a refusal of the whole input under ``field``."""
    return exc.errors or {field: [exc.message]}


def may_reschedule(ticket) -> bool:
    """Whether the viewer may reschedule this change now (the service's rule)."""
    return changes.may_reschedule(db(), runtime().rules, actor(), ticket)


@bp.app_template_global("may_reschedule")
def _may_reschedule_global(ticket) -> bool:
    return may_reschedule(ticket)


@bp.app_template_global("business_timezone")
def _business_timezone() -> str:
    return runtime().settings.timezone
