"""One ticket: details, the RACI of its activity and layer, the timeline, comments and exactly
the actions the viewer may take (from ``services.tickets.available_transitions``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required

from itilflow.domain.errors import DomainError, StaleTicket, UnknownTrigger, ValidationError
from itilflow.domain.parties import Party, Role
from itilflow.domain.workflow import FieldSpec, TransitionSpec
from itilflow.runtime import db, runtime, utcnow
from itilflow.services import problems as problem_services
from itilflow.services import queues, ticket_detail, tickets
from itilflow.services.sla import sla_of
from itilflow.web.common import (
    LAYER_WORDS,
    actor,
    assignee_names,
    home_endpoint,
    is_staff,
    local_time,
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
    """The actions the viewer may take now, their choices narrowed to what applies now."""
    return tickets.available_specs(db(), runtime().rules, ctx, ticket)


def raci_panel(ticket, layer: str | None) -> dict[str, Any]:
    """Who is R, A, C and I for this ticket on ``layer``, and why (the matrix cell and its
    footnotes)."""
    rules = runtime().rules
    cell = rules.matrix.cell(ticket.activity, layer)
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
    if layer is None:
        why = _("Not yet classified: SIT's service desk triages it.")
    else:
        why = _("Layer %(layer)s is owned by the %(party)s.", layer=_(LAYER_WORDS[layer]),
                party=_(cell.accountable.value))
    return {"activity": _(activity.label), "layer": layer, "rows": rows, "why": why,
            "notes": [(n, FOOTNOTES.get(n, "")) for n in sorted(notes)]}


def _home() -> tuple[str, str]:
    """The breadcrumb's first step: the viewer's own start page (the one ``/`` sends them to)."""
    endpoint = home_endpoint(me())
    labels = {"admin.index": _("Admin"), "agent.queue": _("Workspace")}
    return url_for(endpoint), labels.get(endpoint, _("Tickets"))


def _iso_time(raw: Any) -> str:
    """An ISO 8601 instant kept in a history event, in the configured time zone."""
    try:
        return local_time(datetime.fromisoformat(raw)) if isinstance(raw, str) else ""
    except ValueError:
        return raw


def render_ticket(ticket, *, errors: dict[str, Any] | None = None, open_trigger: str | None = None,
                  status: int = 200, values: dict[str, Any] | None = None):
    rules = runtime().rules
    ctx = actor()
    session = db()
    specs = _specs(ticket, ctx)
    candidates = []
    if any(f.type == "user" for s in specs for f in s.fields):
        candidates = queues.assignable_users(session, rules, ticket)
    workflow = rules.workflow(ticket.kind)
    events = tickets.events_of(session, ticket)
    raci = [raci_panel(ticket, layer) for layer in ticket_detail.raci_layers(ticket)] \
        if is_staff() else []
    return render_template(
        "ticket.html", ticket=ticket, number=tickets.number_of(rules, ticket), specs=specs,
        events=events, raci=raci, home=_home(),
        sla=sla_of(rules, ticket, utcnow()), candidates=candidates, errors=errors or {},
        open_trigger=open_trigger, values=values or {}, me=me(), my_party=ctx.party,
        trigger_labels={t.trigger: t.label for t in workflow.transitions},
        may_comment=ctx.role is not Role.ADMIN, seen=ticket_detail.last_seq(events),
        rated=ticket.kind in ticket_detail.RATED_KINDS,
        consultations=ticket_detail.consultations(session, ticket),
        change=ticket_detail.change_card(session, rules, ctx, ticket),
        problem=ticket_detail.problem_card(session, rules, ctx, ticket),
        problems=ticket_detail.linked_problems(session, rules, ctx, ticket),
        # known errors to triage an open incident with: computed for staff only
        known_errors=problem_services.matching_known_errors(session, rules, ctx, ticket)
        if ticket.kind == "incident" and is_staff()
        and workflow.states[ticket.state].category not in ("resolved", "done") else [],
        hidden_links=problem_services.hidden_link_events(session, rules, ctx, events),
        assignee_names=assignee_names(session, events),
        stage_label=_stage_label, iso_time=_iso_time,
    ), status


def _stage_label(stage: str) -> str:
    activity = runtime().rules.matrix.activities.get(stage)
    return _(activity.label) if activity else stage.replace("_", " ")


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
            data[field.name] = int(raw) if raw.isdecimal() and len(raw) < 12 else raw
        elif field.type == "int":
            data[field.name] = int(raw) if raw.lstrip("-").isdecimal() and len(raw) < 12 else raw
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
    version = int(version_raw) if version_raw.isdecimal() and len(version_raw) < 19 \
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
        # what the user typed stays in the form (the new version goes with it)
        return render_ticket(ticket, status=409, open_trigger=trigger,
                             values=request.form.to_dict())
    except UnknownTrigger as exc:
        db().rollback()  # an action the page never offered: no form to show its error under
        flash(exc.message, "error")
        return render_ticket(tickets.get_ticket(db(), rules, ctx, number), status=exc.status)
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
    body = request.form.get("body")
    done = redirect(url_for("ticket.show", number=number) + "#timeline", 303)
    # the same form sent twice (a double click, the back button) stores the comment once
    if ticket_detail.comment_resubmitted(db(), rules, ctx, me(), number, body,
                                         request.form.get("seen")):
        return done
    try:
        tickets.add_comment(db(), rules, me(), ctx, number, body, now=utcnow())
    except ValidationError as exc:
        db().rollback()
        ticket = tickets.get_ticket(db(), rules, ctx, number)
        return render_ticket(ticket, errors={"body": exc.errors.get("body", [exc.message])},
                             status=422, values=request.form.to_dict())
    return done
