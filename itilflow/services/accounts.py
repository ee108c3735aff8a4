"""A user's own account: language, password, ending sessions."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from itilflow.domain.errors import NotPermitted, ValidationError
from itilflow.models import User
from itilflow.services import directory

LOCALES = ("en", "da")


def set_locale(session: Session, user: User, locale: Any) -> None:
    """``en``, ``da`` or empty (follow the browser)."""
    if locale in ("", None):
        user.locale = None
    elif locale in LOCALES:
        user.locale = locale
    else:
        raise ValidationError("Unknown language.", {"locale": ["Must be en or da."]})
    session.flush()


def change_password(session: Session, user: User, *, current: Any, new: Any, repeat: Any,
                    now: datetime) -> None:
    """Check the current password, then set the new one, which must differ from it (setting it
    ends every session and revokes the user's API tokens). A wrong current password is
    ``NotPermitted``: the caller counts it as a failed login."""
    if directory.authenticate(session, user.email, current) is None:
        raise NotPermitted("The current password is wrong.",
                           {"current": ["The current password is wrong."]})
    if not isinstance(new, str) or new != repeat:
        raise ValidationError("The two passwords differ.", {"repeat": ["The two passwords differ."]})
    if new == current:  # a "change" that changes nothing would still end every session
        same = "The new password must differ from the current one."
        raise ValidationError(same, {"new": [same]})
    directory.set_password(session, user, new, now=now)


def end_sessions(session: Session, user: User) -> None:
    """Sign out for real: a new credential stamp makes every copy of the old session cookie void."""
    user.credential_stamp = secrets.token_hex(8)
    session.flush()
