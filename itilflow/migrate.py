"""Alembic, driven from code: ``itilflow db upgrade`` and the tests use this."""

from __future__ import annotations

from functools import cache

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from itilflow.settings import PROJECT_ROOT


def alembic_config(engine: Engine | None = None, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)


@cache
def head_revision() -> str:
    """The schema revision this code expects (read from the migrations once per process)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def schema_revision(connection: Connection) -> str | None:
    """The revision the database is at (None: never migrated)."""
    try:
        with connection.begin_nested():
            return connection.scalar(text("SELECT version_num FROM alembic_version"))
    except DBAPIError:
        return None
