"""Shared fixtures. Database tests run on both backends: the embedded SQLite default and a real
PostgreSQL database created for this run and dropped after it (never the default databases).

Settings: ITILFLOW_TEST_POSTGRES_URL (admin URL used to create the test database; default
postgresql://postgres@127.0.0.1:5432/postgres), ITILFLOW_TEST_BACKENDS (default
"sqlite,postgresql"), ITILFLOW_TEST_REDIS_URL (default redis://127.0.0.1:6379/15).
"""

from __future__ import annotations

import os
import socketserver
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import text
from werkzeug.security import generate_password_hash

from itilflow.app import create_app
from itilflow.migrate import upgrade
from itilflow.models import Base
from itilflow.runtime import Runtime
from itilflow.services import directory
from itilflow.settings import Settings

PG_ADMIN_URL = os.environ.get("ITILFLOW_TEST_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = [b.strip() for b in os.environ.get("ITILFLOW_TEST_BACKENDS",
                                              "sqlite,postgresql").split(",") if b.strip()]
REDIS_URL = os.environ.get("ITILFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PASSWORD = "correct horse battery"
#: a Tuesday, 10:00 in Copenhagen: working time
WORK_TIME = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def _pg_url(dbname: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{dbname}"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of this run's own on the real PostgreSQL server; dropped at the end."""
    name = f"itilflow_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _pg_url(name)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _database_url(request, backend: str, tmp_path_factory) -> str:
    if backend == "postgresql":
        return request.getfixturevalue("postgres_database")
    path = Path(tmp_path_factory.mktemp("sqlite")) / "itilflow.db"
    return f"sqlite:///{path}"


@pytest.fixture(autouse=True)
def _cheap_password_hashes(monkeypatch):
    """Real but cheap password hashes in tests: scrypt per user per test costs seconds. The
    production default (werkzeug's scrypt) is checked once in tests/test_app.py."""
    monkeypatch.setattr(directory, "generate_password_hash",
                        partial(generate_password_hash, method="pbkdf2:sha256:1000"))


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def database_url(request, backend, tmp_path_factory) -> str:
    return _database_url(request, backend, tmp_path_factory)


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    application = create_app(Settings.load(
        database_url=database_url, secret_key="test-secret", testing=True,
        instance_dir=instance, redis_url="",
    ))
    upgrade(application.extensions["itilflow"].engine)
    return application


@pytest.fixture
def rt(app) -> Runtime:
    return app.extensions["itilflow"]


@pytest.fixture(autouse=True)
def _clean_tables(request):
    """Empty every table after each test that used the database."""
    yield
    if "app" not in request.fixturenames:
        return
    engine = request.getfixturevalue("app").extensions["itilflow"].engine
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            # A connection a test left idle in a transaction (a server thread's request cut off
            # when the test ended) would block TRUNCATE for ever: end it, this database is ours.
            conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = "
                "current_database() AND pid <> pg_backend_pid() AND state LIKE 'idle in%'"))
            conn.execute(text("SET LOCAL lock_timeout = '60s'"))
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def session(rt):
    s = rt.session_factory()
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def rules(rt):
    return rt.rules


class World:
    """Factories for the usual cast: SIT, a customer with two systems, a second customer, a
    supplier, and a user of every role. Everything goes through the services and is committed."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.users: dict[str, object] = {}

    def build(self, now: datetime = WORK_TIME) -> World:
        s = self.rt.session_factory()
        for name, kind in [("SIT", "provider"), ("GST", "customer"), ("ERST", "customer"),
                           ("Supplier A/S", "supplier")]:
            directory.create_organisation(s, name=name, kind=kind, now=now)
        for email, org, role in [
            ("admin@sit.test", "SIT", "admin"), ("agent@sit.test", "SIT", "sit_agent"),
            ("agent2@sit.test", "SIT", "sit_agent"), ("boss@sit.test", "SIT", "sit_manager"),
            ("rep@gst.test", "GST", "reporter"), ("agent@gst.test", "GST", "customer_agent"),
            ("boss@gst.test", "GST", "customer_manager"), ("rep@erst.test", "ERST", "reporter"),
            ("agent@erst.test", "ERST", "customer_agent"),
            ("boss@erst.test", "ERST", "customer_manager"),
            ("sup@supplier.test", "Supplier A/S", "supplier_agent"),
        ]:
            directory.create_user(s, email=email, name=email.split("@")[0], organisation=org,
                                  role=role, password=PASSWORD, now=now)
        directory.create_system(s, key="kort", name="Kortforsyningen", customer="GST",
                                environments=["production", "test"], vagtordning=True,
                                suppliers=["Supplier A/S"], now=now)
        directory.create_system(s, key="arkiv", name="Matrikelarkivet", customer="GST",
                                environments=["production"], vagtordning=False, now=now)
        directory.create_system(s, key="virk", name="Virk", customer="ERST",
                                environments=["production"], vagtordning=True, now=now)
        s.commit()
        s.close()
        return self

    def actor(self, session, email: str):
        user = directory.user_by_email(session, email)
        return user, directory.load_actor(session, user)


@pytest.fixture
def world(rt) -> World:
    return World(rt).build()


# --- a pager receiver on loopback, and the relay that pages it ------------------------------

@pytest.fixture
def receiver():
    """A real HTTP server on loopback recording every page (tests/paging/conftest.py Receiver)."""
    from tests.paging.conftest import Receiver

    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def ctx(rt):
    from itilflow.jobs.context import JobContext

    return JobContext(session_factory=rt.session_factory, rules=rt.rules, settings=rt.settings)


@pytest.fixture
def relay(ctx):
    """The outbox relay, run by the test itself (``drain`` in tests/paging/conftest.py)."""
    from itilflow.jobs.relay import Relay

    return Relay(ctx)


# --- a real SMTP server on loopback (smtplib talks to it over TCP) -------------------------

class _Smtp(socketserver.StreamRequestHandler):
    """Just enough SMTP: EHLO, MAIL, RCPT, DATA, QUIT; records each message."""

    def handle(self):
        self.wfile.write(b"220 test\r\n")
        mail = {"rcpt": [], "data": b""}
        while line := self.rfile.readline():
            cmd = line.strip().upper()
            if cmd.startswith(b"RCPT"):
                mail["rcpt"].append(line.split(b":", 1)[1].strip().strip(b"<>").decode())
                self.wfile.write(b"250 ok\r\n")
            elif cmd == b"DATA":
                self.wfile.write(b"354 go\r\n")
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    mail["data"] += chunk
                self.server.mails.append(mail)
                mail = {"rcpt": [], "data": b""}
                self.wfile.write(b"250 queued\r\n")
            elif cmd == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def smtp_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    server.daemon_threads = True
    server.mails = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def mail_reader(rt, smtp_server):
    """``read(now)``: run the outbox up to ``now`` through a relay that mails via the SMTP
    server above, and return the mails sent since the last call, as sorted
    ``(recipients, To, Subject, text)``."""
    from dataclasses import replace
    from email import message_from_bytes, policy

    from itilflow.jobs.context import JobContext, smtp_sender
    from itilflow.jobs.relay import Relay
    from tests.paging.conftest import drain

    settings = replace(rt.settings, smtp_host="127.0.0.1", smtp_port=smtp_server.server_address[1])
    relay = Relay(JobContext(session_factory=rt.session_factory, rules=rt.rules,
                             settings=settings, send_mail=smtp_sender(settings)))
    seen = 0

    def read(now) -> list[tuple[list[str], str, str, str]]:
        nonlocal seen
        drain(relay, now)
        mails = smtp_server.mails[seen:]
        seen = len(smtp_server.mails)
        parsed = [(sorted(m["rcpt"]), message_from_bytes(m["data"], policy=policy.default))
                  for m in mails]
        return sorted((rcpt, str(p["To"]), str(p["Subject"]).strip(), p.get_content().strip())
                      for rcpt, p in parsed)

    return read


def set_locales(rt, **by_email: str | None) -> None:
    """Set users' language (``User.locale``), by email."""
    from sqlalchemy import update

    from itilflow.models import User

    with rt.session_factory() as s, s.begin():
        for email, locale in by_email.items():
            s.execute(update(User).where(User.email == email).values(locale=locale))
