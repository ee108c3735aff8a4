"""One ticket: details, the RACI of its activity and layer, the timeline, comments and exactly
the actions the viewer may take (from ``services.tickets.available_transitions``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required

from itilflow.domain.errors import DomainError, StaleTicket, ValidationError
from itilflow.domain.parties import Party, Role
from itilflow.domain.workflow import FieldSpec, TransitionSpec
from itilflow.runtime import db, runtime, utcnow
from itilflow.services import queues, tickets
from itilflow.services.sla import sla_of
from itilflow.web.common import (
    LAYER_WORDS,
    actor,
    is_staff,
    local_to_utc_iso,
    me,
    register_error_pages,
)
from itilflow.web.i18n import _

bp = Blueprint("ticket", __name__, url_prefix="/tickets")
register_error_pages(bp)

FOOTNOTES = {
    1: "Patch management covers all patches: security updates and service packs for the current "
       "level.",
    2: "Security handling covers antivirus scanning and scanning for unwanted traffic.",
    3: "Technical administrative access; the customer keeps its functional access.",
    4: "The customer is responsible for the operational test towards its application supplier.",
    5: "The customer is informed only on errors and deviations.",
    6: "The customer is responsible for backup/restore of the application; the backup is taken "
       "through the OS or the middleware.",
    7: "The customer performs restores of databases/middleware; the customer may ask SIT to "
       "perform them instead.",
}


def _specs(ticket, ctx) -> list[TransitionSpec]:
    rules = runtime().rules
    workflow = rules.workflow(ticket.kind)
    fx = tickets.ticket_facts(db(), ticket)
    return [workflow.spec_for(ticket.state, trigger, fx.fields)
            for trigger in tickets.available_transitions(db(), rules, ctx, ticket)]


def raci_panel(ticket) -> dict[str, Any]:
    """Who is R, A, C and I for this ticket, and why (the matrix cell and its footnotes)."""
    rules = runtime().rules
    cell = rules.matrix.cell(ticket.activity, ticket.layer)
    activity = rules.matrix.activities[ticket.activity]
    rows = []
    notes: set[int] = set(activity.notes)
    for party in Party:
        role = cell.role(party)
        notes.update(role.notes)
        remarks = []
        if role.only_on_deviations:
            remarks.append(_("only on errors and deviations"))
        if role.on_request:
            remarks.append(_("only when the customer asks for it"))
        if role.r_elsewhere:
            remarks.append(role.r_elsewhere)
        rows.append({"party": party.value, "code": role.code or "-", "remarks": remarks})
    if ticket.layer is None:
        why = _("Not yet classified: SIT's service desk triages it.")
    else:
        why = _("Layer %(layer)s is owned by the %(party)s.", layer=_(LAYER_WORDS[ticket.layer]),
                party=_(cell.accountable.value))
    return {"activity": _(activity.label), "rows": rows, "why": why,
            "notes": [(n, FOOTNOTES.get(n, "")) for n in sorted(notes)]}


def render_ticket(ticket, *, errors: dict[str, Any] | None = None, open_trigger: str | None = None,
                  status: int = 200, values: dict[str, Any] | None = None):
    rules = runtime().rules
    ctx = actor()
    specs = _specs(ticket, ctx)
    candidates = []
    if any(f.type == "user" for s in specs for f in s.fields):
        candidates = queues.assignable_users(db(), rules, ticket)
    workflow = rules.workflow(ticket.kind)
    return render_template(
        "ticket.html", ticket=ticket, number=tickets.number_of(rules, ticket), specs=specs,
        events=tickets.events_of(db(), ticket), raci=raci_panel(ticket) if is_staff() else None,
        sla=sla_of(rules, ticket, utcnow()), candidates=candidates, errors=errors or {},
        open_trigger=open_trigger, values=values or {}, me=me(),
        trigger_labels={t.trigger: t.label for t in workflow.transitions},
        may_comment=ctx.role is not Role.ADMIN,
    ), status


@bp.get("/<number>")
@login_required
def show(number: str):
    ticket = tickets.get_ticket(db(), runtime().rules, actor(), number)
    return render_ticket(ticket)


def _form_data(spec: TransitionSpec, form) -> dict[str, Any]:
    """The trigger's fields from the form, typed the way the service expects them."""
    data: dict[str, Any] = {}
    fields = list(spec.fields)
    if spec.field("comment") is None:
        fields.append(FieldSpec(name="comment", type="text"))
    for field in fields:
        raw = form.get(field.name)
        if field.type == "bool":
            data[field.name] = raw == "on"
            continue
        if raw is None or not raw.strip():
            continue
        raw = raw.strip()
        if field.type == "user":
            data[field.name] = int(raw) if raw.isdigit() and len(raw) < 12 else raw
        elif field.type == "int":
            data[field.name] = int(raw) if raw.lstrip("-").isdigit() and len(raw) < 12 else raw
        elif field.type == "datetime":
            data[field.name] = local_to_utc_iso(raw)
        else:
            data[field.name] = raw
    return data


@bp.post("/<number>/transitions/<trigger>")
@login_required
def fire(number: str, trigger: str):
    rules = runtime().rules
    ctx = actor()
    ticket = tickets.get_ticket(db(), rules, ctx, number)
    version_raw = request.form.get("version", "")
    # a version that is not a number goes to the service as given: it refuses it (422)
    version = int(version_raw) if version_raw.isdigit() and len(version_raw) < 19 \
        else (version_raw or None)
    try:
        spec = rules.workflow(ticket.kind).spec_for(
            ticket.state, trigger, tickets.ticket_facts(db(), ticket).fields)
        data = _form_data(spec, request.form)
        tickets.fire_transition(db(), rules, me(), ctx, ticket.id, trigger, data, now=utcnow(),
                                version=version)
    except StaleTicket:
        db().rollback()
        ticket = tickets.get_ticket(db(), rules, ctx, number)
        flash(_("Someone changed this ticket meanwhile. The page now shows the latest version: "
                "check it and try again."), "error")
        return render_ticket(ticket, status=409)
    except ValidationError as exc:
        db().rollback()
        ticket = tickets.get_ticket(db(), rules, ctx, number)
        return render_ticket(ticket, errors=exc.errors or {"comment": [exc.message]},
                             open_trigger=trigger, status=422, values=request.form.to_dict())
    except DomainError as exc:
        db().rollback()
        ticket = tickets.get_ticket(db(), rules, ctx, number)
        flash(exc.message, "error")
        return render_ticket(ticket, status=exc.status)
    return redirect(url_for("ticket.show", number=number), 303)


@bp.post("/<number>/comments")
@login_required
def comment(number: str):
    rules = runtime().rules
    ctx = actor()
    try:
        tickets.add_comment(db(), rules, me(), ctx, number, request.form.get("body"), now=utcnow())
    except ValidationError as exc:
        db().rollback()
        ticket = tickets.get_ticket(db(), rules, ctx, number)
        return render_ticket(ticket, errors={"body": exc.errors.get("body", [exc.message])},
                             status=422, values=request.form.to_dict())
    return redirect(url_for("ticket.show", number=number) + "#timeline", 303)
