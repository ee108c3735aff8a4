"""Service requests: the rows of the matrix that are requests, not faults. Each request carries
its matrix row (``activity``) and layer, so the cell decides who works it (R), who may reject
and close it (A), who is consulted before it is fulfilled (C) and who is told (I).

Footnote 7: on the middleware layer the customer restores itself, or asks SIT to (``on_request``),
then SIT is R and the customer is consulted before the restore is done.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from itilflow.domain.access import Actor
from itilflow.domain.errors import NotPermitted, ValidationError
from itilflow.domain.parties import Role
from itilflow.models import Ticket, User
from itilflow.services import tickets
from itilflow.services.fields import clean_text
from itilflow.services.rules import Rules

#: the matrix rows a service request may be for
REQUEST_ACTIVITIES = ("restore", "backup", "administrative_access", "user_access")


def submit_request(session: Session, rules: Rules, actor: User, actor_ctx: Actor, data: dict,
                   *, now: datetime) -> Ticket:
    """``{system, environment, layer, activity, title, description?, on_request?, impact?,
    urgency?}``; ``on_request: true`` asks the conditional R of the cell (footnote 7) to do it,
    and is refused where the cell has none."""
    if actor_ctx.role is Role.ADMIN:
        raise NotPermitted("Admins configure itilflow; they do not raise requests.")
    if not isinstance(data, dict):
        raise ValidationError("Expected an object.")
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    checks = {
        "title": lambda: clean_text(data.get("title"), "title", required=True,
                                       max_length=tickets.TITLE_MAX),
        "description": lambda: clean_text(data.get("description"), "description",
                                             required=False) or "",
        "layer": lambda: tickets._layer(data.get("layer"), required=True),
        "system": lambda: tickets._system_and_env(session, actor_ctx, data.get("system"),
                                                  data.get("environment")),
        "impact": lambda: tickets._level(data.get("impact", 3), "impact"),
        "urgency": lambda: tickets._level(data.get("urgency", 3), "urgency"),
    }
    for name, check in checks.items():
        try:
            values[name] = check()
        except ValidationError as exc:
            errors.update(exc.errors)
    activity = data.get("activity")
    if activity not in REQUEST_ACTIVITIES:
        errors["activity"] = ["Must be one of: " + ", ".join(REQUEST_ACTIVITIES) + "."]
    on_request = data.get("on_request", False)
    if not isinstance(on_request, bool):
        errors["on_request"] = ["Not a boolean."]
    if errors:
        raise ValidationError("The request has invalid fields.", errors)
    cell = rules.matrix.cell(activity, values["layer"])
    if on_request and cell.responsible(on_request=True) is cell.responsible():
        raise ValidationError(
            "Nobody else can be asked to do this.",
            {"on_request": [f"Only where the matrix has a conditional R (footnote 7); "
                            f"{activity} on {values['layer'].value} is the "
                            f"{cell.responsible().value}'s."]})
    system, environment = values["system"]
    return tickets._new_ticket(
        session, rules, kind="request", actor=actor, actor_ctx=actor_ctx, system=system,
        environment=environment, layer=values["layer"], title=values["title"],
        description=values["description"], impact=values["impact"],
        urgency=values["urgency"], now=now, activity=activity, on_request=on_request,
        details={"requested_by_party": actor_ctx.party.value if actor_ctx.party else None},
    )
