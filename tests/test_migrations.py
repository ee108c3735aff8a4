"""One Alembic head; upgrade and downgrade on both backends; the models match the migrations."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from itilflow.db import make_engine
from itilflow.migrate import alembic_config, downgrade, upgrade
from itilflow.models import Base


def test_single_head():
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    assert len(heads) == 1
    from itilflow.migrate import head_revision

    assert head_revision() == heads[0]  # what /readyz expects, read without Alembic


def test_the_web_app_does_not_load_alembic(tmp_path):
    """Alembic (with Mako) is ~10 MB in every web worker: /readyz reads the head without it."""
    import subprocess
    import sys

    code = ("import sys; from itilflow.app import create_app; from itilflow.settings import "
            "Settings; app = create_app(Settings.load(redis_url='')); "
            "app.test_client().get('/readyz'); print('alembic' in sys.modules)")
    env = {"ITILFLOW_DATABASE_URL": f"sqlite:///{tmp_path / 'w.db'}", "ITILFLOW_SECRET_KEY": "x",
           "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "False"


def test_upgrade_downgrade_upgrade_and_models_match(database_url, tmp_path):
    # a database of its own, so the shared test schema is left alone
    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'mig.db'}"
        engine = make_engine(url)
    else:
        import psycopg

        from tests.conftest import PG_ADMIN_URL, _pg_url

        name = f"{database_url.rsplit('/', 1)[1]}_mig"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        engine = make_engine(_pg_url(name).replace("postgresql://", "postgresql+psycopg://"))
    try:
        upgrade(engine)
        upgrade(engine)  # idempotent
        assert "tickets" in inspect(engine).get_table_names()
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
        downgrade(engine)
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(engine)
        assert "ticket_events" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
        if not database_url.startswith("sqlite"):
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_readyz_says_migrations_are_pending_until_db_upgrade(database_url, tmp_path):
    """A release deployed before its migration would fail every write: /readyz keeps the load
    balancer away from it (503, naming both revisions) until ``itilflow db upgrade`` ran."""
    from itilflow.app import create_app
    from itilflow.migrate import head_revision
    from itilflow.settings import Settings

    if database_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path / 'ready.db'}"
    else:
        import psycopg

        from tests.conftest import PG_ADMIN_URL, _pg_url

        name = f"{database_url.rsplit('/', 1)[1]}_ready"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        url = _pg_url(name)
    app = create_app(Settings.load(database_url=url, secret_key="x", testing=True,
                                   instance_dir=tmp_path, redis_url=""))
    engine = app.extensions["itilflow"].engine
    try:
        client = app.test_client()
        never = client.get("/readyz")
        assert never.status_code == 503
        assert never.get_json() == {"status": "migrations pending", "database": True,
                                    "schema": None, "expected_schema": head_revision()}
        upgrade(engine, "0002")
        behind = client.get("/readyz")
        assert behind.status_code == 503 and behind.get_json()["schema"] == "0002"
        upgrade(engine)
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.get_json()["status"] == "ok"
    finally:
        engine.dispose()
        if not database_url.startswith("sqlite"):
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
