"""Staff raise tickets from the workspace: log a caller's incident, open a problem, raise a change,
raise a service request.

The forms only translate their fields into the input of the services (``submit_incident``,
``submit_problem``, ``submit_change``, the same functions the API's POST calls): every rule, and
every refusal, is the service's. A refused form is drawn again with the reasons by the fields and
what was typed (422, or the refusal's own status); the request boundary rolls back any 4xx."""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required

from itilflow.domain.errors import DomainError, ValidationError
from itilflow.domain.parties import Layer
from itilflow.runtime import db, runtime, utcnow
from itilflow.services import changes, directory, tickets
from itilflow.services import requests as service_requests
from itilflow.web.common import (
    STAFF_ROLES,
    actor,
    local_to_utc_iso,
    me,
    register_error_pages,
    require_roles,
)
from itilflow.web.i18n import _

bp = Blueprint("raise", __name__, url_prefix="/agent/new")
register_error_pages(bp)

LAYERS = tuple(layer.value for layer in Layer)
#: ticket numbers in the problem form: comma- or space-separated
SEPARATORS = re.compile(r"[\s,;]+")
MAX_INCIDENTS = 200


def _text(name: str) -> str:
    return request.form.get(name, "")


def _choice(name: str) -> str | None:
    return request.form.get(name) or None


def _level(raw: str | None) -> int | str | None:
    """1, 2 or 3 as the number the service checks; anything else as typed, for it to refuse."""
    if raw in ("1", "2", "3"):
        return int(raw)
    return raw or None


def _submit(submit, data: dict[str, Any]):
    """Run the use case with the form's one-time key (``_form_key``); the ticket, or (errors,
    refusal message, status) when refused."""
    try:
        ticket = submit(db(), runtime().rules, me(), actor(), data, now=utcnow(),
                        idempotency_key=request.form.get("form_key") or None)
    except ValidationError as exc:
        return None, exc.errors or {}, None if exc.errors else exc.message, exc.status
    except DomainError as exc:  # NotPermitted and the like: not one field's fault
        return None, {}, exc.message, exc.status
    return ticket, {}, None, 200


def _form_key() -> str:
    """The form's one-time key: a new one for a new form, the posted one when it is drawn
    again. The services give back the ticket a key made already, so a double submit (a double
    click, the back button, a retry) registers one ticket and leads to it."""
    return request.form.get("form_key") or secrets.token_urlsafe(16)


def _registered(ticket, message: str):
    number = tickets.number_of(runtime().rules, ticket)
    flash(_(message, number=number), "ok")
    return redirect(url_for("ticket.show", number=number), 303)


def _systems() -> list:
    return list(directory.visible_systems(db(), actor()))


@bp.route("/incident", methods=["GET", "POST"])
@login_required
@require_roles(*STAFF_ROLES)
def new_incident():
    """Log an incident, e.g. for a caller on the phone; the layer may be left unknown (triage)."""
    errors: dict[str, list[str]] = {}
    refusal, status = None, 200
    form = request.form
    if request.method == "POST":
        data = {
            "system": _choice("system"), "environment": _choice("environment"),
            "layer": _choice("layer"), "title": _text("title"),
            "description": _text("description"), "impact": _level(form.get("impact")),
            "urgency": _level(form.get("urgency")), "outage": form.get("outage") == "on",
            "reporter": _text("reporter").strip() or None,
        }
        ticket, errors, refusal, status = _submit(tickets.submit_incident, data)
        if ticket is not None:
            return _registered(ticket, "Incident %(number)s is registered.")
    return render_template(
        "agent/new_incident.html", systems=_systems(), errors=errors, refusal=refusal, form=form,
        form_key=_form_key()), status


def _incident_ids(raw: str) -> tuple[list[int | str], list[str]]:
    """Typed ticket numbers (``INC-000042``, or the bare id ``42``) as the ids the service takes;
    the tokens that are no incident number are kept as typed (the service refuses a list with
    them, so the rest of the form is checked in the same round) and named in the message."""
    prefix = runtime().rules.workflow("incident").prefix
    ids: list[int | str] = []
    bad: list[str] = []
    for token in [t for t in SEPARATORS.split(raw) if t][:MAX_INCIDENTS]:
        match = tickets.NUMBER_RE.match(token.upper())
        if match and match.group(1) == prefix:
            ids.append(int(match.group(2)))
        elif token.isdecimal() and len(token) <= 12:
            ids.append(int(token))
        else:
            ids.append(token)
            bad.append(token)
    return ids, bad


@bp.route("/problem", methods=["GET", "POST"])
@login_required
@require_roles(*STAFF_ROLES)
def new_problem():
    """Open a problem grouping incidents by their numbers."""
    errors: dict[str, list[str]] = {}
    refusal, status = None, 200
    if request.method == "POST":
        ids, bad = _incident_ids(_text("incidents"))
        data = {"system": _choice("system"), "layer": _choice("layer"), "title": _text("title"),
                "description": _text("description"), "incidents": ids}
        ticket, errors, refusal, status = _submit(tickets.submit_problem, data)
        if ticket is not None:
            return _registered(ticket, "Problem %(number)s is registered.")
        if bad:
            errors = {**errors, "incidents": [
                _("Not an incident number: %(numbers)s.", numbers=", ".join(bad))]}
    return render_template("agent/new_problem.html", systems=_systems(), errors=errors,
                           refusal=refusal, form=request.form, form_key=_form_key()), status


@bp.route("/change", methods=["GET", "POST"])
@login_required
@require_roles(*STAFF_ROLES)
def new_change():
    """Raise a standard (from a template), normal or emergency change with its planned window,
    read in the business time zone."""
    errors: dict[str, list[str]] = {}
    refusal, status = None, 200
    form = request.form
    if request.method == "POST":
        data = {
            "system": _choice("system"), "environment": _choice("environment"),
            "layer": _choice("layer"), "change_type": _choice("change_type"),
            "template": _choice("template"), "title": _text("title"),
            "description": _text("description"),
            "planned_start": local_to_utc_iso(form["planned_start"]) if form.get("planned_start")
            else None,
            "planned_end": local_to_utc_iso(form["planned_end"]) if form.get("planned_end")
            else None,
            "affected_layers": [v for v in form.getlist("affected_layers")[:len(LAYERS)] if v],
        }
        ticket, errors, refusal, status = _submit(tickets.submit_change, data)
        if ticket is not None:
            return _registered(ticket, "Change %(number)s is registered.")
    return render_template(
        "agent/new_change.html", systems=_systems(), templates=changes.list_templates(db()),
        layers=LAYERS, own_layers=[layer.value for layer in changes.layers_raised_by(
            runtime().rules, actor())],
        timezone=runtime().settings.timezone, errors=errors, refusal=refusal,
        form=form, form_key=_form_key()), status


def request_activities() -> list[tuple[str, str]]:
    """The matrix rows a service request may be for, each with its label (the service's list)."""
    matrix = runtime().rules.matrix
    return [(a, matrix.activities[a].label) for a in service_requests.REQUEST_ACTIVITIES]


def request_data(form) -> dict[str, Any]:
    """The request form's fields as the input of ``requests.submit_request``."""
    return {
        "system": form.get("system") or None, "environment": form.get("environment") or None,
        "layer": form.get("layer") or None, "activity": form.get("activity") or None,
        "title": form.get("title", ""), "description": form.get("description", ""),
        "impact": _level(form.get("impact")), "urgency": _level(form.get("urgency")),
        "on_request": form.get("on_request") == "on",
    }


def submit_request_form(form):
    """``(ticket, errors, refusal, status)`` of ``requests.submit_request`` (it takes no
    one-time key: a double submit is held back by the form's ``data-once``)."""
    def submit(session, rules, user, ctx, data, *, now, idempotency_key=None):
        return service_requests.submit_request(session, rules, user, ctx, data, now=now)
    return _submit(submit, request_data(form))


@bp.route("/request", methods=["GET", "POST"])
@login_required
@require_roles(*STAFF_ROLES)
def new_request():
    """Raise a service request (restore, backup, administrative or user access) on a layer;
    the matrix cell of its activity and layer decides who works it."""
    errors: dict[str, list[str]] = {}
    refusal, status = None, 200
    if request.method == "POST":
        ticket, errors, refusal, status = submit_request_form(request.form)
        if ticket is not None:
            return _registered(ticket, "Request %(number)s is registered.")
    return render_template(
        "agent/new_request.html", systems=_systems(), activities=request_activities(),
        errors=errors, refusal=refusal, form=request.form, form_key=_form_key()), status
