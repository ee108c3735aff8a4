"""What a use case knows about a ticket beyond its row, learnt in one query.

A write spends most of its time in round trips to the database, and several of them ask
questions whose answer is usually "nothing": the head of the history chain (to link the next
event), whether the ticket has an open escalation (to stop it), whether it was ever paged or
linked to a problem (to show it). ``load`` answers all four in one SELECT, run after the
ticket's row lock is held, so no writer of the same ticket can change the answers before this
transaction ends; a ticket created in this transaction starts from ``fresh``. The use cases
then skip the reads they know would come back empty, and keep the answers true as they write
(``advance_head``, ``mark_paged``, ``forget``).

The answers live in ``session.info`` and are dropped when the transaction ends (commit or
rollback), so nothing learnt in one transaction is trusted in the next.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import event, exists, or_, select
from sqlalchemy.orm import Session

from itilflow.models import TicketEvent, problem_incidents
from itilflow.models.paging import Escalation

GENESIS = "0" * 64
_KEY = "itilflow.known"


@dataclass
class Known:
    #: (seq, hash) of the last history event; (0, GENESIS) before the first
    head: tuple[int, str]
    #: whether an escalation ever ran for the ticket (it has paging to show)
    paged: bool
    #: whether an escalation is running now (an acknowledgement must stop it)
    escalating: bool
    #: whether the ticket is linked to a problem or an incident
    linked: bool


def _known(session: Session) -> dict[int, Known]:
    return session.info.setdefault(_KEY, {})


def get(session: Session, ticket_id: int) -> Known | None:
    return session.info.get(_KEY, {}).get(ticket_id)


def fresh(session: Session, ticket_id: int) -> Known:
    """A ticket inserted in this transaction: no history yet, never paged, not linked."""
    known = Known(head=(0, GENESIS), paged=False, escalating=False, linked=False)
    _known(session)[ticket_id] = known
    return known


def load(session: Session, ticket_id: int) -> Known:
    """Ask the four questions in one query. Call it with the ticket's row lock held (or where
    a stale answer only costs a read): on PostgreSQL a statement that waited for a row lock
    sees the other rows as they were when it started, so this is a statement of its own."""
    te, esc, pi = TicketEvent, Escalation, problem_incidents
    row = session.execute(select(
        select(te.seq).where(te.ticket_id == ticket_id).order_by(te.seq.desc()).limit(1)
        .scalar_subquery(),
        select(te.hash).where(te.ticket_id == ticket_id).order_by(te.seq.desc()).limit(1)
        .scalar_subquery(),
        exists().where(esc.ticket_id == ticket_id),
        exists().where(esc.ticket_id == ticket_id, esc.stopped_at.is_(None)),
        exists().where(or_(pi.c.problem_id == ticket_id, pi.c.incident_id == ticket_id)),
    )).one()
    seq, head_hash, paged, escalating, linked = row
    known = Known(head=(seq, head_hash) if seq is not None else (0, GENESIS), paged=bool(paged),
                  escalating=bool(escalating), linked=bool(linked))
    _known(session)[ticket_id] = known
    return known


def advance_head(session: Session, ticket_id: int, seq: int, event_hash: str) -> None:
    known = get(session, ticket_id)
    if known is not None:
        known.head = (seq, event_hash)


def mark_paged(session: Session, ticket_id: int, *, escalating: bool) -> None:
    """An escalation of the ticket was started (``escalating``) or stopped."""
    known = get(session, ticket_id)
    if known is not None:
        known.paged = True
        known.escalating = escalating


def forget(session: Session, *ticket_ids: int) -> None:
    """Drop what is known of these tickets (after a write this module does not follow)."""
    for ticket_id in ticket_ids:
        session.info.get(_KEY, {}).pop(ticket_id, None)


@event.listens_for(Session, "after_transaction_end")
def _end_of_transaction(session: Session, transaction) -> None:
    # the real transaction or a savepoint ended (not the sub-transaction of a flush)
    if transaction.parent is None or transaction.nested:
        session.info.pop(_KEY, None)
