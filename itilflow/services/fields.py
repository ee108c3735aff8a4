"""Validation of input shared by the use cases: one rule for every text field, every instant
and every id a client hands in."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from itilflow.domain.errors import ValidationError

TEXT_MAX = 20_000
#: ids are 32-bit integer columns: a larger number is no row and must not reach PostgreSQL
MAX_ID = 2**31 - 1
#: instants outside these years are refused, as written and in UTC: nothing is planned or
#: logged in year 1 or 9999, and an offset at the calendar's edge overflows converting to UTC
YEARS = (1970, 2999)
INSTANT_HINT = "An ISO 8601 date-time with offset."


def clean_text(value: Any, name: str, *, required: bool = True, max_length: int = TEXT_MAX
               ) -> str | None:
    """The stripped text, or None when optional and empty; too long or control characters: 422."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationError(f"{name} is required.", {name: ["Missing data for required field."]})
        return None
    if not isinstance(value, str):
        raise ValidationError(f"{name} must be text.", {name: ["Not a valid string."]})
    value = value.strip()
    if len(value) > max_length:
        raise ValidationError(f"{name} is too long.", {name: [f"At most {max_length} characters."]})
    if any((ord(c) < 32 and c not in "\t\n\r") or c == "\x7f" for c in value):
        raise ValidationError(f"{name} contains control characters.",
                              {name: ["Control characters are not allowed."]})
    return value


def parse_instant(value: Any, name: str, *, naive: tzinfo | None = None,
                  hint: str = INSTANT_HINT) -> datetime:
    """An ISO 8601 date-time with an offset (or an aware datetime), as written; a naive one is
    read in ``naive`` where given, else refused. Not a date-time, no offset, or a year outside
    ``YEARS`` as written or in UTC: ValidationError naming ``name``. The result converts to
    UTC without overflow."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            if not text.isascii() or len(text) > 64:
                raise ValueError(text)
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(f"{name} is not a date-time.", {name: [hint]}) from None
    else:
        raise ValidationError(f"{name} is required.", {name: [hint]})
    if parsed.tzinfo is None:
        if naive is None:
            raise ValidationError(f"{name} needs a time zone.",
                                  {name: ["Give an offset, e.g. +01:00."]})
        parsed = parsed.replace(tzinfo=naive)
    out_of_range = ValidationError(f"{name} is out of range.",
                                   {name: [f"A year from {YEARS[0]} to {YEARS[1]}."]})
    try:
        in_utc = parsed.astimezone(UTC)
    except OverflowError:
        raise out_of_range from None
    if not (YEARS[0] <= parsed.year <= YEARS[1] and YEARS[0] <= in_utc.year <= YEARS[1]):
        raise out_of_range
    return parsed


def parse_id(value: Any, *, lowest: int = 1) -> int | None:
    """An id (an int, or ASCII digits) from ``lowest`` to ``MAX_ID``; anything else, a bigger
    number included, is None: no such row, never a query PostgreSQL refuses."""
    if isinstance(value, str):
        if not (value.isascii() and value.isdecimal() and len(value) <= 20):
            return None
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if lowest <= value <= MAX_ID else None
