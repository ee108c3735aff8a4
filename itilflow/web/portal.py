"""The customer portal: report an incident, follow the organisation's tickets."""

from __future__ import annotations

import secrets

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required

from itilflow.domain.errors import ValidationError
from itilflow.domain.parties import Role
from itilflow.runtime import db, runtime, utcnow
from itilflow.services import directory, tickets
from itilflow.web.common import actor, me, register_error_pages, require_roles, state_category
from itilflow.web.i18n import _

bp = Blueprint("portal", __name__, url_prefix="/portal")
register_error_pages(bp)

PORTAL_ROLES = (Role.REPORTER, Role.CUSTOMER_AGENT, Role.CUSTOMER_MANAGER)


def ball_of(ticket) -> str:
    """Who has the ball, in the reporter's words."""
    category = state_category(ticket.kind, ticket.state)
    if category == "resolved":
        return _("You: please confirm the solution")
    if category == "done":
        return _("Done")
    if ticket.state == "waiting_customer":
        return _("You: we need your answer")
    if ticket.state == "waiting_supplier":
        return _("The supplier")
    if ticket.responsible_party == "provider":
        return _("SIT service desk")
    return _("Your IT team")


@bp.get("")
@login_required
@require_roles(*PORTAL_ROLES)
def index():
    rows, next_cursor = tickets.list_tickets(
        db(), runtime().rules, actor(), tickets.TicketFilters(), cursor=request.args.get("cursor"),
        limit=25)
    return render_template("portal/index.html", tickets=rows, next_cursor=next_cursor,
                           ball_of=ball_of, number_of=lambda t: tickets.number_of(runtime().rules, t))


@bp.route("/incidents/new", methods=["GET", "POST"])
@login_required
@require_roles(*PORTAL_ROLES)
def new_incident():
    ctx = actor()
    systems = list(directory.visible_systems(db(), ctx))
    errors: dict[str, list[str]] = {}
    form = request.form
    if request.method == "POST":
        data = {
            "system": form.get("system") or None,
            "environment": form.get("environment") or None,
            "layer": form.get("layer") or None,
            "title": form.get("title", ""),
            "description": form.get("description", ""),
            "impact": _level(form.get("impact")),
            "urgency": _level(form.get("urgency")),
            "outage": form.get("outage") == "on",
        }
        try:
            ticket = tickets.submit_incident(db(), runtime().rules, me(), ctx, data, now=utcnow(),
                                             idempotency_key=form.get("form_key") or None)
        except ValidationError as exc:
            errors = exc.errors
        else:
            number = tickets.number_of(runtime().rules, ticket)
            flash(_("Incident %(number)s is registered.", number=number), "ok")
            return redirect(url_for("ticket.show", number=number), 303)
    status = 422 if errors else 200
    return render_template(
        "portal/new_incident.html", systems=systems, errors=errors, form=form,
        form_key=form.get("form_key") or secrets.token_urlsafe(16)), status


def _level(raw: str | None) -> int | None:
    return int(raw) if raw in ("1", "2", "3") else None
