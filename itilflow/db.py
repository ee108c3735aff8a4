"""The engine and session factory, bound by the app factory (no global engine at import)."""

from __future__ import annotations

import select

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    # No liveness round trip per checkout (pre-ping cost every request ~0.7 ms and a query):
    # a connection the server closed while it sat in the pool (a restart, a terminated
    # backend) has a readable socket, which costs nothing to see; the pool then replaces it.
    kwargs.setdefault("pool_pre_ping", False)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "checkout", _closed_by_server)
    return engine


def _closed_by_server(dbapi_connection, _record, _proxy) -> None:
    """Refuse a pooled connection the server has closed (its socket reads as ready: the
    server's goodbye or end of file; an idle connection is owed nothing else)."""
    try:
        if dbapi_connection.closed or dbapi_connection.broken:
            raise DisconnectionError("closed")
        poller = select.poll()  # not select.select: no limit on the descriptor's number
        poller.register(dbapi_connection.fileno(), select.POLLIN)
        ready = poller.poll(0)
    except (OSError, ValueError, AttributeError) as exc:
        raise DisconnectionError(str(exc)) from exc
    if ready:
        raise DisconnectionError("closed by the server")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
