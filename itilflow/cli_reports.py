"""``itilflow report ...`` and the access-log commands under ``itilflow audit ...``.

Registered from the end of ``itilflow/cli.py`` with ``register(main, audit)``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import with_appcontext


def _cli():
    from itilflow import cli

    return cli


def register(main: click.Group, audit: click.Group) -> None:
    main.add_command(report)
    audit.add_command(audit_access)
    audit.add_command(audit_verify_access)
    audit.add_command(audit_purge_access)


@click.group()
def report() -> None:
    """The monthly standard report."""


@report.command("monthly")
@click.option("--customer", required=True, help="Customer organisation name, or 'all'.")
@click.option("--month", required=True, help="Calendar month, YYYY-MM (business time zone).")
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "html"]), default="json",
              show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of standard output.")
@with_appcontext
def report_monthly(customer: str, month: str, fmt: str, output: Path | None) -> None:
    """Write the monthly report of CUSTOMER for MONTH as JSON, CSV or a printable HTML page."""
    from sqlalchemy import select

    from itilflow.domain.errors import NotFound
    from itilflow.domain.parties import OrgKind
    from itilflow.domain.report import parse_month
    from itilflow.models import Organisation
    from itilflow.services import reports

    cli = _cli()
    rules = cli._runtime().rules
    with cli._UnitOfWork() as session:
        year, month_no = parse_month(month)
        org = None
        if customer.lower() not in ("all", "*"):
            org = session.scalar(select(Organisation).where(Organisation.name == customer))
            if org is None or org.kind != OrgKind.CUSTOMER.value:
                raise NotFound(f"No customer {customer!r}.")
        data = reports.build_report(session, rules, org, year, month_no, now=cli._now())
    if fmt == "json":
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    elif fmt == "csv":
        text = reports.report_csv(data)
    else:
        from itilflow.web.reports import render_report_html

        text = render_report_html(data, standalone=True)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"Wrote {output}.", err=True)


@report.command("send-monthly")
@with_appcontext
def report_send_monthly() -> None:
    """Queue last month's reports to the managers (idempotent: each goes out once)."""
    from itilflow.services import reports

    cli = _cli()
    with cli._UnitOfWork() as session:
        written = reports.send_monthly_reports(session, cli._runtime().rules, now=cli._now())
    click.echo(f"Queued {len(written)} report(s)." if written else "Nothing to send: "
               "last month's reports are already queued.")


@click.command("access")
@click.option("--actor", default=None, help="Account email.")
@click.option("--action", default=None, help="e.g. login_failed, ticket_read.")
@click.option("--since", default=None, help="ISO date or date-time (UTC unless an offset).")
@click.option("--until", default=None)
@click.option("--target", default=None, help="e.g. a ticket number INC-000001.")
@with_appcontext
def audit_access(actor, action, since, until, target) -> None:
    """Print the access log as CSV, oldest first."""
    from itilflow.domain.access import Actor
    from itilflow.domain.parties import Role
    from itilflow.services import access_log

    cli = _cli()
    operator = Actor(user_id=0, role=Role.ADMIN, organisation_id=0)
    with cli._UnitOfWork() as session:
        filters = access_log.parse_filters({"actor": actor, "action": action, "since": since,
                                            "until": until, "target": target})
        for chunk in access_log.entries_csv(access_log.iter_entries(session, operator, filters)):
            sys.stdout.write(chunk)


@click.command("verify-access")
@with_appcontext
def audit_verify_access() -> None:
    """Recompute the access log's hash chain; exit 1 if any entry was altered or removed."""
    from itilflow.services.access_log import verify_log

    cli = _cli()
    with cli._UnitOfWork() as session:
        checked, faults = verify_log(session)
    cli.report_chain_faults([f"access log entry {f.seq}: {f.reason}" for f in faults],
                            f"{checked} access log entries", "chain intact")


@click.command("purge-access")
@click.option("--days", type=click.IntRange(0, None), default=None,
              help="Keep this many days (default: ITILFLOW_ACCESS_LOG_RETENTION_DAYS).")
@with_appcontext
def audit_purge_access(days: int | None) -> None:
    """Delete access log entries older than the retention period."""
    from itilflow.services.access_log import purge

    cli = _cli()
    retention = cli._runtime().settings.access_log_retention_days if days is None else days
    with cli._UnitOfWork() as session:
        removed = purge(session, retention_days=retention, now=cli._now())
    click.echo(f"Purged {removed} access log entries older than {retention} days." if retention > 0
               else "Nothing purged: a retention of 0 days keeps the access log for ever.")
