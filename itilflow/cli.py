"""The ``itilflow`` command (a Flask CLI group). Bad arguments exit 2 with one clear line and
write nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import FlaskGroup, with_appcontext

from itilflow.domain.errors import ConfigError, DomainError


def _create_app() -> Flask:
    from itilflow.app import create_app

    try:
        return create_app()
    except ConfigError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)


class _Group(FlaskGroup):
    """Every failure a user can cause is one line on stderr and exit status 2: click's usage
    errors (without its usage block), bad configuration, a file that cannot be written, a
    database URL or revision that does not exist. Anything else is a bug and keeps its
    traceback. (Alembic's own errors are caught by the db commands: importing Alembic here
    would cost every web and worker process started by this command ~11 MB.)"""

    def main(self, *args, **kwargs):
        from click.exceptions import NoArgsIsHelpError
        from sqlalchemy.exc import ArgumentError, OperationalError

        try:
            code = super().main(*args, **{**kwargs, "standalone_mode": False})
        except NoArgsIsHelpError as exc:   # a group named without a command: its help
            exc.show()
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            _fail(exc.format_message() + hint)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        except (ConfigError, ArgumentError) as exc:
            _fail(str(exc))
        except OperationalError as exc:
            _fail(f"database: {str(exc.orig).strip().splitlines()[0]}")
        except OSError as exc:
            _fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))
        sys.exit(code if isinstance(code, int) else 0)


@click.group(cls=_Group, create_app=_create_app, add_default_commands=False,
             add_version_option=False, load_dotenv=False, set_debug_flag=False)
def main() -> None:
    """itilflow: incidents, problems and changes shared by SIT and its customers."""


def _confirmed(question: str) -> bool:
    """Asked on the terminal; no answer (no terminal, end of input) is no."""
    try:
        return click.confirm(question, err=True)
    except click.Abort:
        return False


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(2)


def _runtime():
    from itilflow.runtime import runtime

    return runtime()


class _UnitOfWork:
    """One transaction for a command: committed if the block succeeds, else rolled back, and a
    domain error becomes one line on stderr and exit status 2."""

    def __enter__(self):
        self.session = _runtime().session_factory()
        return self.session

    def __exit__(self, exc_type, exc, _tb):
        if exc is None:
            self.session.commit()
            self.session.close()
            return False
        self.session.rollback()
        self.session.close()
        if isinstance(exc, DomainError):
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.errors.items())
            _fail(exc.message + (f" ({details})" if details else ""))
        return False


def _now():
    from itilflow.runtime import utcnow

    return utcnow()


# --- db -----------------------------------------------------------------------------------

@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@with_appcontext
def db_upgrade() -> None:
    """Run the Alembic migrations to head (idempotent)."""
    from itilflow.migrate import upgrade

    upgrade(_runtime().engine)
    click.echo("Database is at the latest schema.")


@db.command("downgrade")
@click.argument("revision", default="-1")
@click.option("--yes", is_flag=True, help="Do not ask before dropping every table (base).")
@with_appcontext
def db_downgrade(revision: str, yes: bool) -> None:
    """Undo migrations: the last one (default), or down to REVISION. ``base`` drops every table
    and its data, and asks first (``--yes`` does not)."""
    from alembic.util import CommandError

    from itilflow.migrate import downgrade

    if revision == "base" and not yes and not _confirmed(
            "Downgrading to base drops every table and all its data. Go on?"):
        _fail("Not downgraded (base drops every table; --yes to do it without asking).")
    try:
        downgrade(_runtime().engine, revision)
    except CommandError as exc:  # e.g. no such revision
        _fail(str(exc))
    click.echo(f"Database downgraded to {revision}.")


# --- directory ----------------------------------------------------------------------------

@main.group()
def org() -> None:
    """Organisations."""


@org.command("create")
@click.argument("name")
@click.option("--kind", required=True, type=click.Choice(["customer", "provider", "supplier"]))
@with_appcontext
def org_create(name: str, kind: str) -> None:
    """Create an organisation."""
    from itilflow.services import directory

    with _UnitOfWork() as session:
        directory.create_organisation(session, name=name, kind=kind, now=_now())
    click.echo(f"Created {kind} {name}.")


@main.group()
def user() -> None:
    """Users."""


@user.command("create")
@click.argument("email")
@click.option("--org", "organisation", required=True, help="Organisation name.")
@click.option("--role", required=True, type=click.Choice(
    ["reporter", "customer_agent", "supplier_agent", "sit_agent", "customer_manager",
     "sit_manager", "admin"]))
@click.option("--name", default=None, help="Display name (default: from the email).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def user_create(email: str, organisation: str, role: str, name: str | None,
                password_stdin: bool) -> None:
    """Create a user; without --password-stdin a password is generated and printed."""
    import secrets

    from itilflow.services import directory

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        generated = False
    else:
        password = secrets.token_urlsafe(12)
        generated = True
    with _UnitOfWork() as session:
        directory.create_user(session, email=email, name=name, organisation=organisation,
                              role=role, password=password, now=_now())
    click.echo(f"Created {role} {email}" + (f" with password {password}" if generated else "."))


def _set_active(email: str, active: bool) -> None:
    from itilflow.services import directory

    with _UnitOfWork() as session:
        directory.update_user(session, email, {"active": active}, now=_now())
    click.echo(f"{'Activated' if active else 'Deactivated'} {email.strip().lower()}.")


@user.command("deactivate")
@click.argument("email")
@with_appcontext
def user_deactivate(email: str) -> None:
    """Stop a user signing in (a leaver): their sessions end, their API tokens are revoked."""
    _set_active(email, False)


@user.command("activate")
@click.argument("email")
@with_appcontext
def user_activate(email: str) -> None:
    """Let a deactivated user sign in again (with new API tokens: the old ones stay revoked)."""
    _set_active(email, True)


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.argument("email")
@click.option("--name", default="cli", help="A label for the token.")
@with_appcontext
def token_create(email: str, name: str) -> None:
    """Print a new API token for EMAIL on stdout, nothing else."""
    from itilflow.services import directory

    with _UnitOfWork() as session:
        token_value = directory.create_token(session, directory.user_by_email(session, email),
                                             now=_now(), name=name)
    click.echo(token_value)


# --- workflows and audit ------------------------------------------------------------------

@main.group()
def workflows() -> None:
    """Workflow definitions."""


@workflows.command("check")
def workflows_check() -> None:
    """Validate the RACI matrix and every workflow file."""
    from itilflow.services.rules import load_rules
    from itilflow.settings import Settings

    try:
        rules = load_rules(Settings.load())
    except ConfigError as exc:
        _fail(str(exc))
    for wf in rules.workflows.values():
        click.echo(f"{wf.source}: {wf.kind} ok ({len(wf.states)} states, "
                   f"{len(wf.triggers)} triggers, version {wf.version})")
    click.echo(f"RACI matrix ok ({len(rules.matrix.activities)} activities x 4 layers).")


@workflows.command("graph")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("docs/workflows"), show_default=True)
def workflows_graph(out_dir: Path) -> None:
    """Draw each workflow machine as an SVG state diagram."""
    from itilflow.domain.diagram import render_svg
    from itilflow.services.rules import load_rules
    from itilflow.settings import Settings

    try:
        rules = load_rules(Settings.load())
    except ConfigError as exc:
        _fail(str(exc))
    out_dir.mkdir(parents=True, exist_ok=True)
    for wf in rules.workflows.values():
        path = out_dir / f"{wf.kind}.svg"
        path.write_text(render_svg(wf), encoding="utf-8")
        click.echo(str(path))


@main.group()
def audit() -> None:
    """Audit trail."""


@audit.command("verify")
@with_appcontext
def audit_verify() -> None:
    """Recompute every ticket's hash chain; exit 1 if any event was altered."""
    from itilflow.services.history import verify_chains

    with _UnitOfWork() as session:
        checked, faults = verify_chains(session)
    report_chain_faults([f"ticket {f.ticket_id} event {f.seq}: {f.reason}" for f in faults],
                        f"{checked} events", "chains intact")


def report_chain_faults(faults: list[str], checked: str, intact: str) -> None:
    """Print a hash-chain verification: each fault, then exit 1; or that all is intact."""
    for fault in faults:
        click.echo(fault)
    if faults:
        click.echo(f"{len(faults)} fault(s) in {checked}.", err=True)
        sys.exit(1)
    click.echo(f"{checked} verified, {intact}.")


# --- running ------------------------------------------------------------------------------

@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=None, type=click.IntRange(1, 64),
              help="gunicorn worker processes (default: 2 x cores + 1).")
@click.option("--quiet", is_flag=True, help="No access log on stdout.")
@with_appcontext
def serve(host: str, port: int, workers: int | None, quiet: bool) -> None:
    """Serve the app in the foreground (gunicorn where installed) until stopped."""
    from itilflow.server import serve_forever

    serve_forever(host=host, port=port, workers=workers, access_log=not quiet)


@main.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--no-serve", is_flag=True, help="Load the demo data and exit.")
@with_appcontext
def demo(host: str, port: int, no_serve: bool) -> None:
    """Migrate, load the demo data set and serve it on http://HOST:PORT."""
    from itilflow.demo import load_demo
    from itilflow.migrate import upgrade
    from itilflow.server import serve_forever

    upgrade(_runtime().engine)
    with _UnitOfWork() as session:
        accounts = load_demo(session, _runtime().rules, now=_now())
    if accounts:
        click.echo("Demo users (email / password / role):")
        for email, password, role in accounts:
            click.echo(f"  {email:<34} {password:<16} {role}")
    else:
        click.echo("Demo data already loaded; passwords are as printed the first time "
                   "(default: demo-password).")
    if not no_serve:
        click.echo(f"Serving on http://{host}:{port}  (Ctrl+C to stop)")
        serve_forever(host=host, port=port, workers=1)


@main.command("worker")
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 64),
              help="RQ worker processes sharing one start-up (Redis set): the first also runs "
                   "the relay.")
@with_appcontext
def worker(processes: int) -> None:
    """The background worker in the foreground: outbox relay + RQ worker (Redis set), until stopped."""
    from itilflow.jobs.runner import run_worker

    run_worker(_runtime().settings, processes=processes, rules=_runtime().rules)


# --- reports and the access log (itilflow/cli_reports.py) --------------------------------

from itilflow.cli_reports import register as _register_reports  # noqa: E402

_register_reports(main, audit)

if __name__ == "__main__":
    main()
