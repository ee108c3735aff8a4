"""The ``itilflow`` command as a user runs it: a real process, a real database."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


@pytest.fixture
def run(tmp_path):
    env = {**os.environ, "ITILFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
           "ITILFLOW_SECRET_KEY": "x"}

    def _run(*args, stdin=None):
        return subprocess.run([sys.executable, "-m", "itilflow.cli", *args], env=env,
                              input=stdin, capture_output=True, text=True, timeout=120)

    assert _run("db", "upgrade").returncode == 0
    return _run


def test_org_user_token(run):
    assert run("org", "create", "SIT", "--kind", "provider").returncode == 0
    made = run("user", "create", "a@sit.test", "--org", "SIT", "--role", "sit_agent",
               "--password-stdin", stdin="a long enough password\n")
    assert made.returncode == 0, made.stderr
    token = run("token", "create", "a@sit.test")
    assert token.returncode == 0
    assert token.stdout.startswith("itf_") and token.stdout.count("\n") == 1
    generated = run("user", "create", "b@sit.test", "--org", "SIT", "--role", "sit_manager")
    assert "with password " in generated.stdout
    # the organisation as typed but for case: names are unique so, 'SIT' is 'sit'
    lower = run("user", "create", "c@sit.test", "--org", "sit", "--role", "sit_agent")
    assert lower.returncode == 0, lower.stderr


@pytest.mark.parametrize(("args", "message"), [
    (("org", "create", "X", "--kind", "weird"), "Error: Invalid value for '--kind'"),
    (("user", "create"), "Error: Missing argument 'EMAIL'."),
    (("workflows", "graph", "--out", "/proc/nope"), "Error: No such file or directory: /proc/nope"),
    (("report", "monthly", "--customer", "all", "--month", "2026-10", "--format", "json", "-o",
      "/nonexistent/dir/f.json"), "Error: No such file or directory: /nonexistent/dir/f.json"),
    (("report", "monthly", "--customer", "all", "--month", "9999-12"), "Error: month is out of range."),
    (("db", "downgrade", "bogusrev"), "Error: Can't locate revision identified by 'bogusrev'"),
    (("user", "create", "nobody@x.test", "--org", "Nope", "--role", "reporter",
      "--password-stdin"), "Error: Unknown organisation. (organisation: No such organisation.)"),
    (("token", "create", "ghost@x.test"), "Error: No user with email 'ghost@x.test'."),
])
def test_bad_arguments_exit_2_with_one_clear_line(run, args, message):
    result = run(*args, stdin="a long enough password\n")
    assert result.returncode == 2
    assert message in result.stderr
    if message.startswith("Error:"):
        assert result.stderr.strip().count("\n") == 0


@pytest.mark.parametrize(("url", "message"), [
    ("bogus://x", "Error: Can't load plugin: sqlalchemy.dialects:bogus"),
    ("postgresql://nobody@127.0.0.1:1/x", "Error: database: connection failed"),
])
def test_a_database_that_cannot_be_used_is_one_line_too(url, message):
    env = {**os.environ, "ITILFLOW_DATABASE_URL": url, "ITILFLOW_SECRET_KEY": "x"}
    result = subprocess.run([sys.executable, "-m", "itilflow.cli", "db", "upgrade"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith(message) and result.stderr.strip().count("\n") == 0


@pytest.mark.parametrize(("name", "value", "message"), [
    # each would have started and quietly switched a feature off (or, Redis, a traceback)
    ("REDIS_URL", "notaurl", "Error: setting redis_url: expected redis://host:port/db"),
    ("PAGE_PRIORITIES", "1,2", "Error: setting page_priorities: expected priorities P1 to P5"),
    ("LOGIN_RATE_LIMIT", "lots", "Error: setting login_rate_limit: expected a rate such as"),
    ("FORM_RATE_LIMIT", "-5", "Error: setting form_rate_limit: expected a rate such as"),
    ("OUTBOX_LEASE_SECONDS", "0", "Error: setting outbox_lease_seconds: expected 1 or more"),
    ("MAX_CONTENT_LENGTH", "0", "Error: setting max_content_length: expected 65536 or more"),
    ("SMTP_PORT", "99999", "Error: setting smtp_port: expected a TCP port"),
    ("SMTP_FROM", "not an address", "Error: setting smtp_from: expected an email address"),
    ("LOGIN_ALERT_MINUTES", "0", "Error: setting login_alert_minutes: expected 1 or more"),
    ("ACCESS_LOG_RETENTION_DAYS", "-1", "Error: setting access_log_retention_days"),
])
def test_a_setting_that_would_switch_something_off_stops_the_start(tmp_path, name, value,
                                                                  message):
    env = {**os.environ, "ITILFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
           "ITILFLOW_SECRET_KEY": "x", f"ITILFLOW_{name}": value}
    result = subprocess.run([sys.executable, "-m", "itilflow.cli", "db", "upgrade"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith(message) and result.stderr.strip().count("\n") == 0
    assert not (tmp_path / "cli.db").exists()  # refused before anything was written


def test_downgrade_undoes_one_step_and_asks_before_dropping_everything(run, tmp_path):
    import sqlite3

    def revision() -> str:
        with sqlite3.connect(tmp_path / "cli.db") as conn:
            return conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]

    assert run("org", "create", "SIT", "--kind", "provider").returncode == 0
    head = revision()
    assert run("db", "downgrade").returncode == 0
    assert revision() == f"{int(head) - 1:04d}"          # the last step only
    assert run("db", "upgrade").returncode == 0
    refused = run("db", "downgrade", "base", stdin="n\n")
    assert refused.returncode == 2 and "Not downgraded" in refused.stderr
    assert revision() == head
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        assert conn.execute("SELECT name FROM organisations").fetchall() == [("SIT",)]
    assert run("db", "downgrade", "base", "--yes").returncode == 0
    with sqlite3.connect(tmp_path / "cli.db") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert "organisations" not in tables


def test_wrong_role_for_organisation_writes_nothing(run):
    run("org", "create", "GST", "--kind", "customer")
    bad = run("user", "create", "x@gst.test", "--org", "GST", "--role", "sit_agent",
              "--password-stdin", stdin="a long enough password\n")
    assert bad.returncode == 2
    assert run("token", "create", "x@gst.test").returncode == 2  # the user was not written


def test_demo_data_and_audit_verify(run):
    loaded = run("demo", "--no-serve")
    assert loaded.returncode == 0, loaded.stderr
    roles = {line.split()[-1] for line in loaded.stdout.splitlines()[1:] if "@" in line}
    assert roles == {"admin", "sit_agent", "sit_manager", "reporter", "customer_agent",
                     "customer_manager", "supplier_agent"}
    again = run("demo", "--no-serve")
    assert "already loaded" in again.stdout
    verified = run("audit", "verify")
    assert verified.returncode == 0 and "chains intact" in verified.stdout


def test_workflows_graph_writes_svg(run, tmp_path):
    out = tmp_path / "graphs"
    result = run("workflows", "graph", "--out", str(out))
    assert result.returncode == 0
    svg = (out / "incident.svg").read_text()
    assert svg.startswith("<svg") and "Resolved" in svg and "reclassify" in svg


def test_a_leaver_is_deactivated_and_their_token_stops_working(run, tmp_path):
    from sqlalchemy import create_engine, text

    run("org", "create", "SIT", "--kind", "provider")
    run("user", "create", "leaver@sit.test", "--org", "SIT", "--role", "sit_agent",
        "--password-stdin", stdin="a long enough password\n")
    assert run("token", "create", "leaver@sit.test").returncode == 0
    done = run("user", "deactivate", "Leaver@SIT.test")
    assert done.returncode == 0 and done.stdout == "Deactivated leaver@sit.test.\n"
    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT active FROM users")).scalar() in (0, False)
        assert conn.execute(text("SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL")
                            ).scalar() == 0
    engine.dispose()
    # no new token while deactivated: activating again would have brought it to life
    refused = run("token", "create", "leaver@sit.test")
    assert refused.returncode == 2 and refused.stdout == ""
    assert "leaver@sit.test is deactivated: no tokens for it." in refused.stderr
    assert run("user", "activate", "leaver@sit.test").returncode == 0
    missing = run("user", "deactivate", "ghost@sit.test")
    assert missing.returncode == 2 and "No user with email 'ghost@sit.test'" in missing.stderr


def test_purge_access_says_what_a_retention_of_zero_means(run):
    kept = run("audit", "purge-access", "--days", "0")
    assert kept.returncode == 0
    assert kept.stdout == "Nothing purged: a retention of 0 days keeps the access log for ever.\n"
    purged = run("audit", "purge-access", "--days", "30")
    assert purged.stdout == "Purged 0 access log entries older than 30 days.\n"
