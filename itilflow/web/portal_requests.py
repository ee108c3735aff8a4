"""The portal's service-request form: a customer asks for a restore, a backup check, or
administrative or user access (``requests.submit_request``, which refuses only admins; the
matrix cell of the activity and layer decides who works it). Same fields and refusals as the
staff's form (``raise_tickets.new_request``)."""

from __future__ import annotations

import secrets

from flask import Blueprint, render_template, request
from flask_login import login_required

from itilflow.runtime import db
from itilflow.services import directory
from itilflow.web.common import actor, register_error_pages, require_roles
from itilflow.web.portal import PORTAL_ROLES
from itilflow.web.raise_tickets import _registered, request_activities, submit_request_form

bp = Blueprint("portal_requests", __name__, url_prefix="/portal/requests")
register_error_pages(bp)


@bp.route("/new", methods=["GET", "POST"])
@login_required
@require_roles(*PORTAL_ROLES)
def new_request():
    errors: dict[str, list[str]] = {}
    refusal, status = None, 200
    form = request.form
    if request.method == "POST":
        ticket, errors, refusal, status = submit_request_form(form)
        if ticket is not None:
            return _registered(ticket, "Request %(number)s is registered.")
    return render_template(
        "portal/new_request.html", systems=list(directory.visible_systems(db(), actor())),
        activities=request_activities(), errors=errors, refusal=refusal, form=form,
        form_key=form.get("form_key") or secrets.token_urlsafe(16)), status
