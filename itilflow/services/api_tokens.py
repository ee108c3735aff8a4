"""A user's own API tokens: list and revoke (creation is ``directory.create_token``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from itilflow.domain.errors import NotFound
from itilflow.models import ApiToken, User


def tokens_of(session: Session, user: User) -> list[ApiToken]:
    return list(session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)))


def token_of(session: Session, user: User, token_id: int) -> ApiToken:
    """One of the user's own tokens; anyone else's is NotFound."""
    row = session.get(ApiToken, token_id) if 0 < token_id < 2**31 else None
    if row is None or row.user_id != user.id:
        raise NotFound("No such token.")
    return row


def revoke_own_token(session: Session, user: User, token_id: int, *, now: datetime) -> None:
    row = token_of(session, user, token_id)
    row.revoked_at = row.revoked_at or now
    session.flush()
