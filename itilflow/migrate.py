"""Alembic, driven from code: ``itilflow db upgrade`` and the tests use this.

Alembic is imported where it is used: importing it costs a web worker ~10 MB (it brings Mako),
and the web needs only ``head_revision`` and ``schema_revision`` (``/readyz``)."""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from itilflow.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from alembic.config import Config

#: ``revision = '0003'`` and ``down_revision = '0002'`` in a migration script
_REVISION = re.compile(r"^(down_revision|revision)\s*=\s*['\"]([^'\"]*)['\"]", re.M)


def alembic_config(engine: Engine | None = None, url: str | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    from alembic import command

    cfg = alembic_config()
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, revision)


@cache
def head_revision() -> str:
    """The schema revision this code expects: the one no migration revises (read from the
    scripts' ``revision`` / ``down_revision`` lines once per process, without Alembic; the
    migrations are one line, ``tests/test_migrations.py`` checks both agree)."""
    revisions, revised = set(), set()
    for script in (PROJECT_ROOT / "migrations" / "versions").glob("*.py"):
        found = dict((k, v) for k, v in _REVISION.findall(script.read_text(encoding="utf-8")))
        if "revision" in found:
            revisions.add(found["revision"])
            revised.add(found.get("down_revision"))
    (head,) = revisions - revised
    return head


def schema_revision(connection: Connection) -> str | None:
    """The revision the database is at (None: never migrated)."""
    try:
        with connection.begin_nested():
            return connection.scalar(text("SELECT version_num FROM alembic_version"))
    except DBAPIError:
        return None
