"""Names that are a segment of a URL path (/pager-hooks/<name>, /oncall-schedules/<name>,
/organisations/<name>): a "/" or a "." or ".." name could be created but never reached again."""

from __future__ import annotations

from typing import Any

from itilflow.domain.errors import ValidationError
from itilflow.services.fields import clean_text


def clean_path_name(value: Any, field: str, *, max_length: int) -> str:
    """``clean_text`` that also refuses "/" and the names "." and ".." (422 on ``field``)."""
    name = clean_text(value, field, max_length=max_length)
    if "/" in name or name in (".", ".."):
        raise ValidationError(f"{field} cannot be used in a web address.",
                              {field: ["Without \"/\", and not \".\" or \"..\"."]})
    return name
