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
    assert len(ScriptDirectory.from_config(alembic_config()).get_heads()) == 1


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
