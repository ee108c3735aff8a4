"""Locks that make a read-then-write step atomic against concurrent requests, on both backends.

PostgreSQL locks a row (``SELECT ... FOR UPDATE``) or a key (an advisory lock) until the
transaction ends. SQLite has one lock for writing, the database's: taken before the reads (what
``BEGIN IMMEDIATE`` does), it makes the whole transaction one step against every other writer.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlalchemy.orm import Session


def sqlite_write_lock(session: Session) -> None:
    """On SQLite, hold the database's write lock from now until the transaction ends.

    The driver starts a transaction only at the first INSERT, UPDATE or DELETE: the reads
    before it see what was committed at that moment, and another writer may commit before the
    write ("no ticket with this key yet", "the ticket is at version 3" is then stale: a second
    ticket, or a StaleDataError). ``BEGIN IMMEDIATE`` takes the write lock first, waiting (up
    to the busy timeout) for the writer that holds it, so what this transaction reads stays
    true until it commits. SQLite lets one writer at a time anyway; this only moves the wait
    before the reads. Issued on the driver's connection: a call into the embedded library, no
    round trip (the statement budget counts what PostgreSQL gets over the wire)."""
    if session.bind.dialect.name != "sqlite":
        return
    connection = session.connection().connection.driver_connection
    if not connection.in_transaction:  # one that wrote already holds the lock
        connection.execute("BEGIN IMMEDIATE")


def key_lock(session: Session, key: str) -> None:
    """Until the transaction ends, one transaction at a time gets past this with ``key``:
    PostgreSQL's transaction-scoped advisory lock (other keys do not wait); on SQLite the
    write lock."""
    if session.bind.dialect.name == "postgresql":
        digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": digest})
    else:
        sqlite_write_lock(session)
