"""Priority from impact and urgency (1 = high), the ITIL matrix of CONTRACT.md."""

from __future__ import annotations

from itilflow.domain.errors import ValidationError

PRIORITIES = ("P1", "P2", "P3", "P4", "P5")


def priority_of(impact: int, urgency: int) -> str:
    """(1,1) P1; (1,2) (2,1) P2; (1,3) (2,2) (3,1) P3; (2,3) (3,2) P4; (3,3) P5."""
    errors = {}
    for name, value in (("impact", impact), ("urgency", urgency)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3:
            errors[name] = ["Must be 1, 2 or 3."]
    if errors:
        raise ValidationError("Impact and urgency must be 1 (high) to 3 (low).", errors)
    return PRIORITIES[impact + urgency - 2]
