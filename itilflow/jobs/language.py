"""The language of what a job writes outside any request: a mail is in its reader's language,
passed in, not a request's (the catalogue: ``itilflow.i18n``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from itilflow import i18n


def translator(locale: str | None) -> Callable[..., str]:
    """The gettext of ``locale`` (a user's ``locale``; None or unknown: the default, English,
    as the web falls back to when it has nothing better)."""
    return partial(i18n.translate, locale if locale in i18n.LOCALES else i18n.DEFAULT_LOCALE)
