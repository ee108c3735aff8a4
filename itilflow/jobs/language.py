"""The web's catalogue (``web/i18n.py``) for what a job writes outside any request: a mail is
in its reader's language, passed in, not the request's."""

from __future__ import annotations

from collections.abc import Callable

from itilflow.web import i18n


def translator(locale: str | None) -> Callable[..., str]:
    """The gettext of ``locale`` (a user's ``locale``; None or unknown: the default, English,
    as the web falls back to when it has nothing better)."""
    if locale not in i18n.LOCALES:
        locale = i18n.DEFAULT_LOCALE

    def translate(text: str, **values: object) -> str:
        if locale == "da" and isinstance(text, str):
            if text in i18n.DA:
                return i18n.DA[text] % values if values else i18n.DA[text]
            if not values and (danish := i18n._by_pattern(text)):
                return danish
        return text % values if values else text

    return translate
