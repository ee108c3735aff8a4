"""Admin: organisations, users and roles, named systems and their escalation, pager hooks and
dead letters, API tokens and the workflows' diagrams. Every write goes through a service
(``directory``, ``paging``) with the admin as actor; the views only turn form fields into the
service's input and render its answer."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from markupsafe import Markup
from sqlalchemy import select

from itilflow.domain.diagram import render_svg
from itilflow.domain.errors import DomainError, NotFound
from itilflow.domain.parties import OrgKind, Role
from itilflow.models import ApiToken, Organisation, System, User
from itilflow.runtime import db, runtime, utcnow
from itilflow.services import directory, oncall, paging
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


def _change_user(email: str, changes: dict, done: str):
    """Apply ``changes`` to a user through the service; back to /admin with ``done`` (a message
    taking the user's email) or with the service's reasons."""
    try:
        user = directory.update_user(db(), email, changes, now=utcnow(), actor=actor())
    except DomainError as exc:
        if exc.status not in (404, 422):
            raise
        db().rollback()
        flash(exc.message if exc.status == 404 else
              "; ".join(_(m) for ms in exc.errors.values() for m in ms) or exc.message, "error")
    else:
        flash(_(done, email=user.email), "ok")
    return redirect(url_for("admin.index"), 303)


@bp.post("/users/<email>/access")
@login_required
@admin_only
def user_access(email: str):
    """Deactivate a user (their sessions end, their tokens are revoked) or let them in again."""
    active = request.form.get("active") == "true"
    return _change_user(email, {"active": active}, "%(email)s can sign in again." if active else
                        "%(email)s is deactivated: their sessions and API tokens no longer work.")


@bp.post("/users/<email>/password")
@login_required
@admin_only
def user_password(email: str):
    """Set a user's password (one who forgot theirs); their sessions end."""
    return _change_user(email, {"password": request.form.get("password", "")},
                        "%(email)s has a new password; tell them in person, not by email.")


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


def _system_or_404(key: str) -> System:
    found = db().scalar(select(System).where(System.key == key))
    if found is None:
        raise NotFound("No such system.")
    return found


@bp.route("/systems/<key>", methods=["GET", "POST"])
@login_required
@admin_only
def system(key: str):
    found = _system_or_404(key)
    errors: dict = {}
    if request.method == "POST":
        try:
            # the form's fingerprint of the system as drawn: the service refuses the save if
            # another admin saved since (409), so their change is not silently undone
            directory.update_system(db(), found, _system_changes(request.form), actor=actor(),
                                    expected=request.form.get("fingerprint"))
        except DomainError as exc:
            db().rollback()
            if exc.status == 409:
                found = _system_or_404(key)
                return _system_page(found, stale=exc.message)
            errors = exc.errors or {"name": [exc.message]}
        else:
            flash(_("Saved."), "ok")
            return redirect(url_for("admin.systems"), 303)
    return _system_page(found, errors=errors, form=request.form)


def _system_page(found: System, *, errors: dict | None = None, form=None,
                 escalation: dict | None = None, stale: str | None = None):
    """The systems list with one system's edit form and its escalation levels. ``escalation``
    is a refused escalation form to draw again: ``{party, form, errors, message}`` (``form``
    None: refused as stale, drawn with the saved levels). ``stale``: the edit form was refused
    because the system changed since it was drawn (409); it shows the saved values."""
    who = actor()
    hooks = paging.selectable_hooks(db(), who)
    schedules = oncall.list_schedules(db(), who)
    parties = []
    for party in PARTIES:
        levels = paging.levels_of(db(), found.id, party)
        refused = escalation if escalation and escalation["party"] == party else None
        parties.append({
            "party": party, "label": PARTY_WORDS[party], "levels": levels,
            "save": f"Save the {party}'s levels",
            "rows": _rows_of_form(refused["form"]) if refused and refused["form"] is not None
            else _rows_of_levels(levels),
            "fingerprint": paging.escalation_fingerprint(levels),
            "errors": refused["errors"] if refused else {},
            "message": refused["message"] if refused else None,
        })
    rows = list(db().scalars(select(System).order_by(System.key)))
    failed = bool(errors) or escalation is not None
    status = 409 if stale or (escalation and escalation["form"] is None) else \
        422 if failed else 200
    return render_template("admin/systems.html", systems=rows, orgs=_orgs(), errors=errors or {},
                           form=form if errors else {}, edit=found, tab="systems",
                           parties=parties, hooks=hooks, schedules=schedules,
                           delay_words=delay_words, stale=stale,
                           fingerprint=directory.system_fingerprint(found)), status


# --- escalation ---------------------------------------------------------------------------

PARTIES = ("provider", "customer")
PARTY_WORDS = {"provider": "Provider", "customer": "Customer"}
#: the units a delay may be typed in, in seconds
DELAY_UNITS = {"minutes": 60, "seconds": 1}
#: rows read from a posted escalation form (the page draws at most ``paging.MAX_LEVELS``; more
#: filled rows than levels allowed reach the service, which refuses them)
FORM_ROWS = 50


def delay_words(seconds: int) -> str:
    if seconds and seconds % 60 == 0:
        return _("%(n)s min", n=seconds // 60)
    return _("%(n)s s", n=seconds)


def _rows_of_levels(levels) -> list[dict[str, str]]:
    """The form's rows for the current levels, then a few empty ones."""
    rows = []
    for level in levels:
        minutes = level.delay_seconds % 60 == 0
        rows.append({"hook": level.hook.name,
                     "delay": str(level.delay_seconds // 60 if minutes else level.delay_seconds),
                     "unit": "minutes" if minutes else "seconds",
                     "schedule": level.schedule.name if level.schedule else ""})
    count = min(max(len(rows) + 2, 3), paging.MAX_LEVELS)
    while len(rows) < count:
        rows.append({"hook": "", "delay": "", "unit": "minutes", "schedule": ""})
    return rows


def _rows_of_form(form) -> list[dict[str, str]]:
    """The rows as they were sent (to draw a refused form again)."""
    rows = [{"hook": form.get(f"hook_{i}", ""), "delay": form.get(f"delay_{i}", ""),
             "unit": form.get(f"unit_{i}", "minutes"), "schedule": form.get(f"schedule_{i}", "")}
            for i in range(FORM_ROWS) if f"hook_{i}" in form]
    while len(rows) < 3:
        rows.append({"hook": "", "delay": "", "unit": "minutes", "schedule": ""})
    return rows


def _delay_seconds(raw: str | None, unit: str | None) -> Any:
    """A delay typed in minutes or seconds, as whole seconds. Empty is 0 (the last level's delay
    is not used). Anything that is not a whole number of seconds goes to the service as typed,
    so the service names the fault."""
    text = (raw or "").strip()
    if not text:
        return 0
    try:
        value = Decimal(text.replace(",", "."))  # a Danish decimal comma reads too
    except InvalidOperation:
        return text
    if unit not in DELAY_UNITS or not value.is_finite() or abs(value) > 10**9:
        return text
    seconds = value * DELAY_UNITS[unit]
    return int(seconds) if seconds == seconds.to_integral_value() else text


def _escalation_body(form) -> tuple[dict[str, Any], list[int]]:
    """The API's body ``{party, levels: [{hook, delay_seconds, schedule?}]}`` from the form's
    rows (a row without a hook is left out), and the form row of each level."""
    levels, row_of = [], []
    for i in range(FORM_ROWS):
        hook = (form.get(f"hook_{i}") or "").strip()
        if not hook:
            continue
        level: dict[str, Any] = {"hook": hook, "delay_seconds": _delay_seconds(
            form.get(f"delay_{i}"), form.get(f"unit_{i}", "minutes"))}
        schedule = (form.get(f"schedule_{i}") or "").strip()
        if schedule:
            level["schedule"] = schedule
        levels.append(level)
        row_of.append(i)
    return {"party": form.get("party"), "levels": levels}, row_of


def _row_errors(errors: dict[str, list[str]], row_of: list[int]) -> dict[str, list[str]]:
    """The service's ``levels.N.field`` errors keyed by the form's row (``hook_3``); the rest
    (``party``, ``levels``) as they are."""
    out: dict[str, list[str]] = {}
    for key, messages in errors.items():
        parts = key.split(".")
        if parts[0] == "levels" and len(parts) >= 2 and parts[1].isdecimal() \
                and int(parts[1]) < len(row_of):
            field = {"delay_seconds": "delay"}.get(parts[2], parts[2]) if len(parts) > 2 \
                else "row"
            out.setdefault(f"{field}_{row_of[int(parts[1])]}", []).extend(messages)
        else:
            out.setdefault(key, []).extend(messages)
    return out


@bp.post("/systems/<key>/escalation")
@login_required
@admin_only
def escalation(key: str):
    found = _system_or_404(key)
    body, row_of = _escalation_body(request.form)
    try:
        _system, party, _levels = paging.set_escalation(
            db(), actor(), key, body, expected=request.form.get("fingerprint"))
    except DomainError as exc:
        if exc.status not in (409, 422):
            raise
        db().rollback()
        party = body["party"] if body["party"] in PARTIES else PARTIES[0]
        found = _system_or_404(key)
        # stale (409): drawn again with the levels another admin saved, not the refused rows
        return _system_page(found, escalation={
            "party": party, "form": None if exc.status == 409 else request.form,
            "errors": _row_errors(exc.errors, row_of), "message": exc.message})
    flash(_("Escalation saved: %(party)s.", party=_(PARTY_WORDS[party])), "ok")
    return redirect(url_for("admin.system", key=key, _anchor="escalation"), 303)


# --- pager hooks, dead letters, on-call schedules -------------------------------------------

def _hook_input(form) -> dict[str, Any]:
    """The API's body for a new hook; an empty routing key or secret is left out (no secret:
    the service generates one)."""
    data: dict[str, Any] = {"name": form.get("name"), "url": form.get("url"),
                            "format": form.get("format")}
    for name in ("routing_key", "secret"):
        value = (form.get(name) or "").strip()
        if value:
            data[name] = value
    return data


@bp.route("/pager", methods=["GET", "POST"])
@login_required
@admin_only
def pager():
    errors: dict = {}
    message = None
    created = None
    form = request.form
    status = 200
    if request.method == "POST":
        try:
            hook, secret = paging.create_hook(db(), actor(), _hook_input(form), now=utcnow())
        except DomainError as exc:
            if exc.status not in (409, 422):
                raise
            db().rollback()
            errors = exc.errors or {"name": [exc.message]}
            message, status = exc.message, exc.status
        else:
            if secret is None:  # the admin's own secret: nothing to show once
                flash(_("Pager hook %(name)s created.", name=hook.name), "ok")
                return redirect(url_for("admin.pager"), 303)
            created = {"name": hook.name, "secret": secret}
            form = {}
    return _pager_page(errors=errors, message=message, form=form, created=created), status


def _pager_page(*, errors: dict | None = None, message: str | None = None, form=None,
                created: dict | None = None, resend_error: str | None = None,
                hook_error: str | None = None) -> str:
    who = actor()
    rules = runtime().rules
    now = utcnow()
    dead = [paging.page_json(rules, db(), p) | {"sent": p.created_at}
            for p in paging.dead_letters(db(), who)]
    schedules = [oncall.now_json(db(), who, s.name, at=None, now=now) | oncall.schedule_json(s)
                 for s in oncall.list_schedules(db(), who)]
    return render_template("admin/pager.html", hooks=paging.list_hooks(db(), who), dead=dead,
                           schedules=schedules, errors=errors or {}, message=message,
                           form=form or {}, created=created, resend_error=resend_error,
                           hook_error=hook_error, now=now,
                           formats=("generic", "pagerduty"), tab="pager")


@bp.post("/pager/hooks/<name>/secret")
@login_required
@admin_only
def rotate_secret(name: str):
    """Give a hook a new signing secret, shown once on the page that answers; the old one
    still counts until the end of the overlap window, which the page says."""
    hook, secret = paging.update_hook(
        db(), actor(), name, {"secret": None}, now=utcnow(),
        overlap=timedelta(seconds=runtime().settings.pager_secret_overlap_seconds))
    return _pager_page(created={"name": hook.name, "secret": secret, "rotated": True,
                                "previous_until": hook.previous_secret_expires_at})


@bp.post("/pager/hooks/<name>/remove")
@login_required
@admin_only
def remove_hook(name: str):
    """Delete a hook that never paged, retire one that did; a hook still in use is refused
    and the page says where."""
    try:
        outcome = paging.remove_hook(db(), actor(), name)
    except DomainError as exc:
        if exc.status != 409:
            raise
        db().rollback()
        return _pager_page(hook_error=exc.message), exc.status
    if outcome == "deleted":
        flash(_("Pager hook %(name)s deleted.", name=name), "ok")
    else:
        flash(_("Pager hook %(name)s retired: it pages no more and its secret is no longer "
                "accepted; its pages stay in the history.", name=name), "ok")
    return redirect(url_for("admin.pager"), 303)


@bp.post("/pager/dead-letters/<int:page_id>/resend")
@login_required
@admin_only
def resend_page(page_id: int):
    try:
        page = paging.resend(db(), actor(), page_id, now=utcnow())
    except DomainError as exc:
        if exc.status not in (404, 409):
            raise
        db().rollback()
        return _pager_page(resend_error=exc.message), exc.status
    flash(_("Level %(level)s of %(ticket)s will be sent again to %(hook)s.", level=page.level,
            ticket=paging.page_json(runtime().rules, db(), page)["ticket"], hook=page.hook.name),
          "ok")
    return redirect(url_for("admin.pager"), 303)


@bp.route("/tokens", methods=["GET", "POST"])
@login_required
@admin_only
def tokens():
    new_token = None
    errors: dict = {}
    form = request.form
    if request.method == "POST" and form.get("form") == "revoke":
        try:
            directory.require_admin(actor())
            # the service reads the id: not a number, or one past int32, is "No such token."
            directory.revoke_token(db(), form.get("token_id", ""), user=actor_user(),
                                   now=utcnow())
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
    return render_template("admin/workflow.html", wf=found, svg=Markup(render_svg(found, _)),
                           workflows=runtime().rules.workflows, tab="workflows")
