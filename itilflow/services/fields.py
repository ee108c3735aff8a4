"""Validation of free-text input shared by the use cases: one rule for every text field."""

from __future__ import annotations

from typing import Any

from itilflow.domain.errors import ValidationError

TEXT_MAX = 20_000


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
