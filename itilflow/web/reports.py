"""The monthly report as a page with server-rendered SVG charts (printable), and the admins'
access log page. Adapter code: the figures come from services.reports, access from the
services."""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, g, render_template, request
from flask_login import current_user, login_required
from markupsafe import Markup
from sqlalchemy import select

from itilflow.domain.errors import DomainError
from itilflow.domain.parties import OrgKind, Role
from itilflow.models import Organisation
from itilflow.runtime import db, runtime, utcnow
from itilflow.services import access_log, directory, reports
from itilflow.web.common import local_time
from itilflow.web.i18n import _, current_locale

bp = Blueprint("report_pages", __name__)

BAR_COLOURS = ("#0b5cad", "#2f8f5b", "#c7781a", "#8a3ea8", "#a40e26", "#5b6673")


def _layout() -> str:
    # The UI's base template needs its helpers (registered by init_web); without them the
    # report stands on its own page.
    return "base.html" if "current_locale" in current_app.jinja_env.globals else \
        "reports/standalone.html"


def _render(template: str, **context: Any) -> str:
    """``render_template`` with the translation function, also where no UI registered it (a
    report rendered on its own page)."""
    return render_template(template, _=_, **context)


def _error(exc: DomainError):
    return _render("reports/error.html", layout=_layout(), status=exc.status,
                           message=_("There is nothing here, or you may not see it.")
                           if exc.status == 404 else _(exc.message)), exc.status


bp.register_error_handler(DomainError, _error)


# --- charts ------------------------------------------------------------------------------

def bar_chart(title: str, items: list[tuple[str, float | None]], *, unit: str = "",
              maximum: float | None = None, decimals: int = 0) -> Markup:
    """A horizontal bar chart as inline SVG: each label on its own line above its bar, the
    value in text after it (so it reads in black and white), and the values in the accessible
    name (a screen reader does not read inside an image). No viewBox: the bars are laid out in
    percent of the width and the text keeps its size on a phone instead of shrinking."""
    label_h, bar_h, gap, top_h = 16, 14, 8, 26
    row = label_h + bar_h + gap
    values = [v for _, v in items if v is not None]
    top = maximum if maximum is not None else max([*values, 0]) or 1
    height = top_h + row * max(len(items), 1)
    track = 78  # percent of the width for the bars; the rest holds the values
    shown = [_("n/a") if value is None else number(value, decimals) + unit
             for _label, value in items]
    name = f"{title}: " + "; ".join(f"{label} {text}"
                                    for (label, _value), text in zip(items, shown, strict=True))
    parts = [f'<svg class="chart" role="img" aria-label="{escape(name)}" width="100%" '
             f'height="{height}" xmlns="http://www.w3.org/2000/svg">',
             f'<title>{escape(name)}</title>',
             f'<text x="0" y="16" class="chart-title">{escape(title)}</text>']
    for i, ((label, value), text) in enumerate(zip(items, shown, strict=True)):
        y = top_h + i * row
        length = 0 if value is None else max(0.0, min(1.0, value / top)) * track
        colour = BAR_COLOURS[i % len(BAR_COLOURS)]
        parts.append(f'<text x="0" y="{y + label_h - 3}" class="chart-label">{escape(label)}</text>')
        parts.append(f'<rect x="0" y="{y + label_h}" width="{track}%" height="{bar_h}" '
                     'class="chart-track"/>')
        parts.append(f'<rect x="0" y="{y + label_h}" width="{length:.2f}%" height="{bar_h}" '
                     f'fill="{colour}"/>')
        parts.append(f'<text x="{track + 2}%" y="{y + label_h + bar_h - 2}" class="chart-value">'
                     f'{escape(text)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def duration(seconds: float | None, *, working: bool = False, column: bool = False) -> str:
    """A span in days, hours and minutes; working time in hours only (168 working hours are 21
    working days, not "7 d"). ``column``: in a table column, always hours and minutes, so that
    the figures of one column read alike (never "30 d 0 h" above "168 h 00 min")."""
    if seconds is None:
        return "-"
    minutes = round(seconds / 60)
    if minutes < 60 and not column:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48 or working or column:  # Danish: "t" for timer
        return _("%(hours)s h %(minutes)s min", hours=f"{hours:,}".replace(",", _thousands()),
                 minutes=f"{minutes:02d}")
    days, hours = divmod(hours, 24)
    return _("%(days)s d %(hours)s h", days=days, hours=hours)


def _thousands() -> str:
    return "." if current_locale() == "da" else ","


def number(value: float, decimals: int = 0) -> str:
    """A figure as the reader writes numbers: 1,234.5 in English, 1.234,5 in Danish."""
    text = f"{value:,.{decimals}f}"
    if current_locale() == "da":
        text = text.translate(str.maketrans(",.", ".,"))
    return text


def percent(value: float | None, decimals: int = 2) -> str:
    """A percentage with the reader's decimal mark ("95,94 %" in Danish); a dash for none."""
    return "\u2013" if value is None else f"{number(value, decimals)} %"


def when(value: str | None) -> str:
    """An instant of the report (UTC ISO) as the UI shows times: local and formatted."""
    return local_time(datetime.fromisoformat(value)) if value else ""


def charts(report: dict[str, Any]) -> dict[str, Markup]:
    inc = report["incidents"]
    layer_names = {"application": _("Application"), "middleware": _("Middleware"),
                   "operating_system": _("Operating system"),
                   "infrastructure": _("Infrastructure"), "unknown": _("Not yet known")}
    outcome_names = {"successful": _("Successful"), "failed": _("Failed"),
                     "backed_out": _("Backed out"), "pending": _("Pending")}
    return {
        "availability": bar_chart(
            _("Availability in the service window (%)"),
            [(_("%(system)s (around the clock)", system=row["name"]) if row["vagtordning"]
              else _("%(system)s (working time)", system=row["name"]), row["availability_percent"])
             for row in report["availability"]], unit=" %", maximum=100, decimals=2),
        "priority": bar_chart(_("Incidents by priority"), list(inc["by_priority"].items())),
        "layer": bar_chart(_("Incidents by layer"),
                           [(layer_names.get(k, k), v) for k, v in inc["by_layer"].items()]),
        "party": bar_chart(_("Incidents by responsible party"),
                           [(_("SIT (provider)") if k == "provider" else _("Customer"), v)
                            for k, v in inc["by_responsible_party"].items()]),
        "sla": bar_chart(_("Resolved within SLA, by priority (%)"),
                         [(p, row["resolution_compliance_percent"])
                          for p, row in inc["sla"].items()], unit=" %", maximum=100, decimals=1),
        "changes": bar_chart(_("Changes by outcome"),
                             [(outcome_names.get(k, k), v)
                              for k, v in report["changes"]["by_outcome"].items()]),
    }


def render_report_html(report: dict[str, Any], *, standalone: bool) -> str:
    """The report page's body, on the UI's layout or (for files and mail) on its own."""
    return _render("reports/monthly.html", report=report, charts=charts(report),
                           duration=duration, percent=percent, when=when,
                           layout="reports/standalone.html"
                           if standalone else _layout(), standalone=standalone, form=None)


# --- pages -------------------------------------------------------------------------------

@bp.get("/reports/monthly")
@login_required
def monthly():
    session = db()
    user = current_user.user
    actor = directory.load_actor(session, user)
    if actor.role is Role.SUPPLIER_AGENT:
        abort(404)
    sees_all = actor.is_provider_staff or actor.role is Role.ADMIN
    zone = ZoneInfo(runtime().settings.timezone)
    now = utcnow()
    local = now.astimezone(zone)
    default_month = f"{local.year - (local.month == 1):04d}-{(local.month - 2) % 12 + 1:02d}"
    month = request.args.get("month") or default_month
    customer = request.args.get("customer") or ("" if sees_all else user.organisation.name)
    customers = list(session.scalars(select(Organisation.name).where(
        Organisation.kind == OrgKind.CUSTOMER.value).order_by(Organisation.name))) \
        if sees_all else [user.organisation.name]
    report = reports.monthly_report(session, runtime().rules, actor, customer=customer or None,
                                    month=month, now=now)
    # whose report was read, for the access log (web/access_capture.py)
    g.report_read = {"customer": report["customer"] or "all", "month": report["month"]}
    form = {"month": month, "customer": customer, "customers": customers, "sees_all": sees_all}
    return _render("reports/monthly.html", report=report, charts=charts(report),
                           duration=duration, percent=percent, when=when, layout=_layout(),
                           standalone=False,
                           form=form)


@bp.get("/admin/access-log")
@login_required
def access_log_page():
    session = db()
    actor = directory.load_actor(session, current_user.user)
    if actor.role is not Role.ADMIN:
        abort(404)
    # the date fields are whole local days: "until 2 Dec" includes 2 Dec (the API's own
    # since/until stay instants); the CSV link asks the API for the same instants
    filters = access_log.parse_filters(request.args,
                                       days_in=ZoneInfo(runtime().settings.timezone))
    before = request.args.get("before", "")
    entries, next_before = access_log.list_entries(
        session, actor, filters, before_seq=int(before) if before.isdecimal() and len(before) < 13
        else None, limit=100)
    verified = None
    if request.args.get("verify") == "1":
        checked, faults = access_log.verify_log(session)
        verified = {"checked": checked, "faults": faults}
    query = {k: v for k, v in request.args.items() if k in ("actor", "action", "since", "until",
                                                              "target") and v}
    return _render("reports/access_log.html", layout=_layout(), entries=entries,
                           next_before=next_before, filters=query, actions=access_log.ACTIONS,
                           export=access_log.export_query(filters),
                           verified=verified, zone=ZoneInfo(runtime().settings.timezone),
                           local=_local, tab="access" if _layout() == "base.html" else None)


def _local(value: datetime) -> str:
    return value.astimezone(ZoneInfo(runtime().settings.timezone)).strftime("%Y-%m-%d %H:%M:%S")
