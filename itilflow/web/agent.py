"""The agent workspace: queues sorted by SLA due time, filters, search, bulk assignment."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import and_, or_, select

from itilflow.domain.errors import DomainError, ValidationError
from itilflow.models import Ticket, User
from itilflow.runtime import db, runtime, utcnow
from itilflow.services import directory, queues, tickets
from itilflow.services.rules import Rules
from itilflow.services.sla import sla_paused
from itilflow.web.common import (
    LAYER_NAMES,
    STAFF_ROLES,
    actor,
    me,
    register_error_pages,
    require_roles,
    safe_next,
    state_category,
    state_label,
)
from itilflow.web.i18n import _, strftime

bp = Blueprint("agent", __name__, url_prefix="/agent")
register_error_pages(bp)

QUEUE_LABELS = {
    "triage": "Triage", "mine": "My party's open work", "assigned": "Assigned to me",
    "waiting": "Waiting", "waiting_for_us": "Waiting for us", "after_hours": "After hours / paged",
    "sla": "SLA breached or at risk", "open": "All open",
}
FILTER_NAMES = ("system", "environment", "layer", "priority", "state", "assignee", "q")


def _filters() -> queues.QueueFilters:
    args = request.args
    return queues.QueueFilters(**{name: (args.get(name) or "").strip()[:200] or None
                                  for name in FILTER_NAMES})


def _default_queue() -> str:
    return "triage" if actor().is_provider_staff else "mine"


class QueueRow(NamedTuple):
    """What one row of the queue shows, worked out in Python once per row (the template only
    prints it: a page of 50 rows spent most of its time in per-row template calls)."""

    number: str
    url: str
    title: str
    outage: bool
    after_hours: bool
    system: str
    environment: str
    layer: str | None
    priority: str
    state_category: str
    state_label: str
    assignee: str | None
    #: the SLA due time as shown, or None
    due: str | None
    #: "breached", "risk" or "" (due later)
    due_state: str
    #: no due time and the clock paused
    paused: bool
    #: the ticket's version as shown: the bulk action refuses a ticket changed since
    version: int


def queue_rows(rules: Rules, rows: list[Ticket], now: datetime) -> list[QueueRow]:
    zone = ZoneInfo(runtime().settings.timezone)
    # a ticket number never needs quoting in a path: build the address once, not per row
    url_of = url_for("ticket.show", number="NUMBER").rsplit("NUMBER", 1)
    states: dict[tuple[str, str], tuple[str, str]] = {}
    # the layer in the filter's words ("Operating system"), translated once per page
    layers = {key: _(name) for key, name in LAYER_NAMES.items()}
    at_risk = now + queues.AT_RISK
    found = []
    for t in rows:
        number = tickets.number_of(rules, t)
        state = states.get((t.kind, t.state))
        if state is None:
            state = states[t.kind, t.state] = (state_category(t.kind, t.state),
                                               state_label(t.kind, t.state))
        due_at = t.sla_due_at
        found.append(QueueRow(
            number=number, url=url_of[0] + number + url_of[1], title=t.title, outage=t.outage,
            after_hours=t.after_hours, system=t.system.name, environment=t.environment,
            layer=layers.get(t.layer, t.layer) if t.layer else None, priority=t.priority,
            state_category=state[0], state_label=state[1],
            assignee=t.assignee.name if t.assignee else None,
            due=strftime(due_at.astimezone(zone), "%d %b %H:%M") if due_at else None,
            due_state="" if due_at is None else "breached" if due_at < now
            else "risk" if due_at <= at_risk else "",
            paused=due_at is None and sla_paused(t, now), version=t.version))
    return found


def _page(queue: str):
    ctx = actor()
    now = utcnow()
    rules = runtime().rules
    cursor, notice = request.args.get("cursor"), None
    filters = _filters()
    try:
        rows, next_cursor = queues.queue_tickets(db(), rules, ctx, queue, filters, now=now,
                                                 cursor=cursor)
    except ValidationError as exc:
        if not cursor or "cursor" not in (exc.errors or {}):
            raise
        # a page link edited by hand (or cut short): the first page and why, on the page as on
        # its rows alone (/agent/rows), rather than an empty queue or a refusal
        rows, next_cursor = queues.queue_tickets(db(), rules, ctx, queue, filters, now=now)
        notice = _("That page link is not valid: showing the first page.")
    return {"queue": queue, "rows": queue_rows(rules, rows, now), "next_cursor": next_cursor,
            "notice": notice}


@bp.get("")
@login_required
@require_roles(*STAFF_ROLES)
def queue():
    name = request.args.get("queue") or _default_queue()
    if name not in queues.QUEUES:
        name = _default_queue()
    ctx = actor()
    systems = list(directory.visible_systems(db(), ctx))
    environments = sorted({env for s in systems for env in s.environments})
    states = sorted({(n, s.label) for wf in runtime().rules.workflows.values()
                     for n, s in wf.states.items() if not s.final})
    # a deactivated colleague stays in the assignee filter while open tickets are theirs (the
    # template marks them and leaves them out of bulk assignment): the same one statement, the
    # open tickets of deactivated users joined (an active user's are not read)
    held = and_(Ticket.assignee_id == User.id, User.active.is_(False),
                Ticket.state.in_([n for n, _label in states]))
    colleagues = list(db().scalars(
        select(User).outerjoin(Ticket, held)
        .where(User.organisation_id == ctx.organisation_id,
               or_(User.active.is_(True), Ticket.id.is_not(None)),
               User.role.in_([r.value for r in STAFF_ROLES]))
        .distinct().order_by(User.name)))
    try:
        page = _page(name)
    except DomainError as exc:
        flash(_refusal(exc), "error")  # the filters to correct, and why
        page = {"queue": name, "rows": [], "next_cursor": None, "notice": None}
    notice = page.pop("notice")  # shown once, above the table
    if notice:
        flash(notice, "warn")
    kept = {k: v for k, v in request.args.items() if k in FILTER_NAMES and v}
    kept["queue"] = name
    next_url = url_for("agent.queue", cursor=page["next_cursor"], **kept) \
        if page["next_cursor"] else None
    refresh_url = url_for("agent.rows", cursor=None if notice else request.args.get("cursor") or None,
                          **kept)
    return render_template(
        "agent/queue.html", next_url=next_url, refresh_url=refresh_url, queues=queues.QUEUES,
        labels=QUEUE_LABELS, systems=systems, environments=environments,
        states=states, colleagues=colleagues, args=request.args,
        **page)


def _refusal(exc: DomainError) -> str:
    """A refused queue request in the reader's language: the message and each field's reason
    ("Not a valid cursor. Use the next page link.")."""
    reasons = [_(r) for field in sorted(exc.errors or {}) for r in exc.errors[field]
               if isinstance(r, str)]
    return " ".join([_(exc.message), *reasons])


@bp.get("/rows")
@login_required
@require_roles(*STAFF_ROLES)
def rows():
    """The queue's rows alone, for the page's 30-second refresh."""
    name = request.args.get("queue") or _default_queue()
    return render_template("agent/_rows.html", **_page(name if name in queues.QUEUES
                                                       else _default_queue()))


def _reason(exc: DomainError) -> str:
    """What a refusal says of one ticket: the field's own reason ("No such user.") rather than
    the generic "Invalid fields for 'assign'."."""
    reasons = [r for field in sorted(exc.errors or {}) for r in exc.errors[field]
               if isinstance(r, str)]
    return reasons[0] if reasons else exc.message


@bp.post("/bulk-assign")
@login_required
@require_roles(*STAFF_ROLES)
def bulk_assign():
    """Assign the selected tickets (``tickets.assign_many``); report each ticket's result."""
    rules = runtime().rules
    ctx = actor()
    numbers = [n for n in request.form.getlist("ticket")[:200] if n]
    # each row's version as the queue showed it (``version_<number>``); a version that is no
    # number goes to the service as sent, which refuses it for that ticket
    versions = {}
    for number in numbers:
        raw = request.form.get(f"version_{number}")
        if raw is not None:
            versions[number] = int(raw) if raw.isdecimal() and len(raw) < 19 else raw
    target = request.form.get("assignee") or "me"
    assignee = me().id if target == "me" else int(target) if target.isdecimal() and len(target) < 12 \
        else target
    back = safe_next(request.form.get("back")) or url_for("agent.queue")
    if not numbers:
        flash(_("Select at least one ticket."), "error")
        return redirect(back, 303)
    ok, refused = tickets.assign_many(db(), rules, me(), ctx, numbers, assignee, now=utcnow(),
                                      versions=versions)
    failed = [f"{number} ({_(_reason(exc)).rstrip('.')})" for number, exc in refused]
    message = _("%(ok)d assigned.", ok=len(ok))
    if failed:
        message += " " + _("Not assigned: %(tickets)s.", tickets="; ".join(failed))
    flash(message, "error" if failed else "ok")
    return redirect(back, 303)
