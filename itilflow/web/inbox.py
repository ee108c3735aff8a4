"""The notifications inbox: what the organisation's staff were told (the I of the matrix), newest
first, and the team's "read" mark. Thin: the rules live in ``itilflow.services.notifications``."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from itilflow.domain.errors import DomainError
from itilflow.runtime import db, runtime, utcnow
from itilflow.services import notifications
from itilflow.web.common import actor, register_error_pages, require_roles
from itilflow.web.i18n import _

bp = Blueprint("inbox", __name__, url_prefix="/notifications")
register_error_pages(bp)


def unread_badge() -> int:
    """For the navigation: the signed-in user's unread count (0 without an inbox)."""
    if not current_user.is_authenticated:
        return 0
    return notifications.unread_count(db(), actor())


@bp.get("")
@login_required
@require_roles(*notifications.INBOX_ROLES)
def index():
    try:
        rows, next_before = notifications.inbox(db(), actor(), before=request.args.get("before"))
    except DomainError as exc:
        flash(_(exc.message), "error")
        rows, next_before = [], None
    texts = notifications.rendered(db(), rows, runtime().rules, _)
    return render_template("inbox/index.html", notes=rows, texts=texts, next_before=next_before,
                           cap=notifications.UNREAD_CAP)


@bp.post("/read")
@login_required
@require_roles(*notifications.INBOX_ROLES)
def read():
    """Mark the chosen notifications read (or all, with ``all``), for the whole team."""
    ids = None if request.form.get("all") else \
        [int(v) for v in request.form.getlist("id") if v.isdecimal() and len(v) < 11]
    marked = notifications.mark_read(db(), actor(), ids, now=utcnow())
    flash(_("Marked as read: %(n)s.", n=marked), "ok")
    return redirect(url_for("inbox.index"))
