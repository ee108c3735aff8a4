"""Admin: organisations, users and roles, named systems, API tokens and the workflows' diagrams.
Every write goes through ``services.directory`` with the admin as actor."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from markupsafe import Markup
from sqlalchemy import select

from itilflow.domain.diagram import render_svg
from itilflow.domain.errors import DomainError, NotFound
from itilflow.domain.parties import OrgKind, Role
from itilflow.models import ApiToken, Organisation, System, User
from itilflow.runtime import db, runtime, utcnow
from itilflow.services import directory
from itilflow.web.common import actor, register_error_pages, require_roles
from itilflow.web.i18n import _

bp = Blueprint("admin", __name__, url_prefix="/admin")
register_error_pages(bp)
admin_only = require_roles(Role.ADMIN)


def _orgs():
    return list(db().scalars(select(Organisation).order_by(Organisation.kind, Organisation.name)))


@bp.route("", methods=["GET", "POST"])
@login_required
@admin_only
def index():
    errors: dict = {}
    form = request.form
    if request.method == "POST":
        try:
            if form.get("form") == "organisation":
                directory.create_organisation(db(), name=form.get("name"), kind=form.get("kind"),
                                              now=utcnow(), actor=actor())
            else:
                directory.create_user(db(), email=form.get("email"), name=form.get("name"),
                                      organisation=form.get("organisation"),
                                      role=form.get("role"), password=form.get("password"),
                                      now=utcnow(), actor=actor())
        except DomainError as exc:
            db().rollback()
            errors = {form.get("form"): exc.errors or {"name": [exc.message]}}
        else:
            flash(_("Created."), "ok")
            return redirect(url_for("admin.index"), 303)
    users = list(db().scalars(select(User).order_by(User.email)))
    return render_template("admin/index.html", orgs=_orgs(), users=users, errors=errors, form=form,
                           kinds=[k.value for k in OrgKind], roles=[r.value for r in Role],
                           tab="people"), 422 if errors else 200


def _system_changes(form) -> dict:
    return {
        "name": form.get("name"),
        "environments": [e.strip() for e in (form.get("environments") or "").split(",")
                         if e.strip()],
        "vagtordning": form.get("vagtordning") == "on",
        "options": {"load_balancer": form.get("load_balancer") == "on",
                    "dedicated_physical": form.get("dedicated_physical") == "on"},
        "suppliers": form.getlist("suppliers"),
    }


@bp.route("/systems", methods=["GET", "POST"])
@login_required
@admin_only
def systems():
    errors: dict = {}
    form = request.form
    if request.method == "POST":
        try:
            directory.create_system(db(), key=form.get("key"), customer=form.get("customer"),
                                    now=utcnow(), actor=actor(), **_system_changes(form))
        except DomainError as exc:
            db().rollback()
            errors = exc.errors or {"key": [exc.message]}
        else:
            flash(_("Created."), "ok")
            return redirect(url_for("admin.systems"), 303)
    rows = list(db().scalars(select(System).order_by(System.key)))
    return render_template("admin/systems.html", systems=rows, orgs=_orgs(), errors=errors,
                           form=form, edit=None, tab="systems"), 422 if errors else 200


@bp.route("/systems/<key>", methods=["GET", "POST"])
@login_required
@admin_only
def system(key: str):
    found = db().scalar(select(System).where(System.key == key))
    if found is None:
        raise NotFound("No such system.")
    errors: dict = {}
    if request.method == "POST":
        try:
            directory.update_system(db(), found, _system_changes(request.form), actor=actor())
        except DomainError as exc:
            db().rollback()
            errors = exc.errors or {"name": [exc.message]}
        else:
            flash(_("Saved."), "ok")
            return redirect(url_for("admin.systems"), 303)
    rows = list(db().scalars(select(System).order_by(System.key)))
    return render_template("admin/systems.html", systems=rows, orgs=_orgs(), errors=errors,
                           form=request.form, edit=found, tab="systems"), 422 if errors else 200


@bp.route("/tokens", methods=["GET", "POST"])
@login_required
@admin_only
def tokens():
    new_token = None
    errors: dict = {}
    form = request.form
    if request.method == "POST" and form.get("form") == "revoke":
        raw = form.get("token_id", "")
        try:
            if not raw.isdigit() or len(raw) > 12:
                raise NotFound("No such token.")
            directory.require_admin(actor())
            directory.revoke_token(db(), int(raw), user=actor_user(), now=utcnow())
        except DomainError as exc:
            flash(exc.message, "error")
            return redirect(url_for("admin.tokens"), 303)
        flash(_("Saved."), "ok")
        return redirect(url_for("admin.tokens"), 303)
    if request.method == "POST":
        try:
            directory.require_admin(actor())
            owner = directory.user_by_email(db(), form.get("email", ""))
            new_token = (owner.email, directory.create_token(
                db(), owner, now=utcnow(), name=(form.get("name") or "web").strip()[:100]))
        except NotFound:
            errors = {"email": ["No such user."]}
    rows = list(db().scalars(select(ApiToken).order_by(ApiToken.id.desc()).limit(200)))
    users = list(db().scalars(select(User).where(User.active.is_(True)).order_by(User.email)))
    return render_template("admin/tokens.html", tokens=rows, users=users, new_token=new_token,
                           errors=errors, tab="tokens"), 422 if errors else 200


def actor_user():
    from itilflow.web.common import me

    return me()


@bp.get("/workflows")
@login_required
@admin_only
def workflows():
    first = next(iter(runtime().rules.workflows))
    return redirect(url_for("admin.workflow", kind=first))


@bp.get("/workflows/<kind>")
@login_required
@admin_only
def workflow(kind: str):
    found = runtime().rules.workflows.get(kind)
    if found is None:
        raise NotFound("No such workflow.")
    return render_template("admin/workflow.html", wf=found, svg=Markup(render_svg(found)),
                           workflows=runtime().rules.workflows, tab="workflows")
