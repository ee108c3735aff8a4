"""The agent workspace: queues sorted by SLA due time, filters, search, bulk assignment."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import select

from itilflow.domain.errors import DomainError
from itilflow.models import User
from itilflow.runtime import db, runtime, utcnow
from itilflow.services import directory, queues, tickets
from itilflow.services.sla import sla_of
from itilflow.web.common import STAFF_ROLES, actor, me, register_error_pages, require_roles
from itilflow.web.i18n import _

bp = Blueprint("agent", __name__, url_prefix="/agent")
register_error_pages(bp)

QUEUE_LABELS = {
    "triage": "Triage", "mine": "My party's open work", "assigned": "Assigned to me",
    "waiting": "Waiting", "after_hours": "After hours / paged", "sla": "SLA breached or at risk",
    "open": "All open",
}
FILTER_NAMES = ("system", "environment", "layer", "priority", "state", "assignee", "q")


def _filters() -> queues.QueueFilters:
    args = request.args
    return queues.QueueFilters(**{name: (args.get(name) or "").strip()[:200] or None
                                  for name in FILTER_NAMES})


def _default_queue() -> str:
    return "triage" if actor().is_provider_staff else "mine"


def _page(queue: str):
    ctx = actor()
    now = utcnow()
    rules = runtime().rules
    rows, next_cursor = queues.queue_tickets(db(), rules, ctx, queue, _filters(), now=now,
                                             cursor=request.args.get("cursor"))
    return {
        "queue": queue, "tickets": rows, "next_cursor": next_cursor, "now": now,
        "slas": {t.id: sla_of(rules, t, now) for t in rows},
        "number_of": lambda t: tickets.number_of(rules, t), "at_risk": queues.AT_RISK,
    }


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
    colleagues = list(db().scalars(
        select(User).where(User.organisation_id == ctx.organisation_id, User.active.is_(True),
                           User.role.in_([r.value for r in STAFF_ROLES])).order_by(User.name)))
    try:
        page = _page(name)
    except DomainError as exc:
        flash(exc.message, "error")
        page = {"queue": name, "tickets": [], "next_cursor": None, "slas": {},
                "number_of": lambda t: "", "now": utcnow(), "at_risk": queues.AT_RISK}
    kept = {k: v for k, v in request.args.items() if k in FILTER_NAMES and v}
    kept["queue"] = name
    next_url = url_for("agent.queue", cursor=page["next_cursor"], **kept) \
        if page["next_cursor"] else None
    refresh_url = url_for("agent.rows", cursor=request.args.get("cursor") or None, **kept)
    return render_template(
        "agent/queue.html", next_url=next_url, refresh_url=refresh_url, queues=queues.QUEUES,
        labels=QUEUE_LABELS, systems=systems, environments=environments,
        states=states, colleagues=colleagues, args=request.args,
        **page)


@bp.get("/rows")
@login_required
@require_roles(*STAFF_ROLES)
def rows():
    """The queue's rows alone, for the page's 30-second refresh."""
    name = request.args.get("queue") or _default_queue()
    return render_template("agent/_rows.html", **_page(name if name in queues.QUEUES
                                                       else _default_queue()))


@bp.post("/bulk-assign")
@login_required
@require_roles(*STAFF_ROLES)
def bulk_assign():
    """Assign each selected ticket through ``fire_transition``; report each ticket's result."""
    rules = runtime().rules
    ctx = actor()
    numbers = [n for n in request.form.getlist("ticket")[:200] if n]
    target = request.form.get("assignee") or "me"
    assignee = me().id if target == "me" else int(target) if target.isdigit() and len(target) < 12 \
        else target
    back = request.form.get("back") or url_for("agent.queue")
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("agent.queue")
    if not numbers:
        flash(_("Select at least one ticket."), "error")
        return redirect(back, 303)
    ok, failed = [], []
    now = utcnow()
    for number in numbers:
        savepoint = db().begin_nested()
        try:
            tickets.fire_transition(db(), rules, me(), ctx, number, "assign",
                                    {"assignee": assignee}, now=now)
        except DomainError as exc:
            savepoint.rollback()
            failed.append(f"{number}: {exc.message}")
        else:
            savepoint.commit()
            ok.append(number)
    flash(_("%(ok)d assigned, %(failed)d not:", ok=len(ok), failed=len(failed)).rstrip(":")
          + (" " + "; ".join(failed) if failed else ""), "error" if failed else "ok")
    return redirect(back, 303)
