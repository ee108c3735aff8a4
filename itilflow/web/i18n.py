"""The request's language for the web: the user's own setting (``User.locale``) or else the
browser's ``Accept-Language``. The catalogue itself is ``itilflow.i18n``."""

from __future__ import annotations

from datetime import datetime

from flask import g, has_request_context, request
from flask_login import current_user

from itilflow.i18n import DA, DA_PATTERNS, DEFAULT_LOCALE, LOCALES, translate

__all__ = ["DA", "DA_PATTERNS", "DEFAULT_LOCALE", "LOCALES", "current_locale", "gettext",
           "pick_locale", "strftime"]


def pick_locale() -> str:
    """The user's own setting, else the best match of the browser's Accept-Language."""
    if current_user and getattr(current_user, "is_authenticated", False):
        locale = current_user.user.locale
        if locale in LOCALES:
            return locale
    return request.accept_languages.best_match(LOCALES) or DEFAULT_LOCALE


def current_locale() -> str:
    """The request's locale; outside a request (a report rendered by the CLI) English."""
    if not has_request_context():
        return DEFAULT_LOCALE
    if "locale" not in g:
        g.locale = pick_locale()
    return g.locale


def gettext(text: str, **values: object) -> str:
    """Translate ``text`` into the request's locale and fill in ``%(name)s`` placeholders."""
    return translate(current_locale(), text, **values)


_ = gettext


def strftime(value: datetime, fmt: str) -> str:
    """``value.strftime(fmt)`` with the month's abbreviation (``%b``) in the request's locale."""
    if "%b" in fmt:
        fmt = fmt.replace("%b", gettext(value.strftime("%b")).replace("%", "%%"))
    return value.strftime(fmt)
