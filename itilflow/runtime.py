"""What the adapters share per process and per request: settings, rules, the session, the clock.

Only adapters (web, api, jobs, cli) import this; services get everything passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from itilflow.services.rules import Rules
from itilflow.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    rules: Rules


def runtime() -> Runtime:
    return current_app.extensions["itilflow"]


def db() -> Session:
    """The request's session; committed once by the request boundary, or rolled back."""
    if "db_session" not in g:
        g.db_session = runtime().session_factory()
    return g.db_session


def utcnow() -> datetime:
    """The wall clock, read only in adapters and passed inward as ``now``."""
    return datetime.now(UTC)
