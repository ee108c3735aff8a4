"""Who may see a ticket and who may fire which trigger: deny by default.

The API's ``available_transitions``, the UI's buttons and the services all ask these functions;
nothing else decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from itilflow.domain.errors import InvalidTransition, NotFound, NotPermitted
from itilflow.domain.parties import MANAGER_ROLES, WORKER_ROLES, Layer, Party, Role, party_of_role
from itilflow.domain.raci import Cell, RaciMatrix
from itilflow.domain.workflow import TransitionSpec, Workflow


@dataclass(frozen=True)
class Actor:
    """The person acting, as the domain needs to know them."""

    user_id: int
    role: Role
    organisation_id: int
    #: for suppliers: the ids of the systems they are attached to
    system_ids: frozenset[int] = frozenset()

    @property
    def party(self) -> Party | None:
        return party_of_role(self.role)

    @property
    def is_provider_staff(self) -> bool:
        return self.party is Party.PROVIDER


@dataclass(frozen=True)
class TicketFacts:
    """What the rules need to know of a ticket."""

    kind: str
    state: str
    activity: str
    layer: Layer | None
    customer_id: int
    system_id: int
    reporter_id: int | None
    on_request: bool = False  # footnote 7: the customer asked SIT to do it
    fields: Mapping[str, Any] = field(default_factory=dict)
    #: (activity, party) pairs whose consultation has been answered
    consulted: frozenset[tuple[str, Party]] = frozenset()
    #: a change may affect several layers; the A of each must approve (``gate: approvals``)
    affected_layers: tuple[Layer, ...] = ()
    #: the parties whose approval is recorded
    approved_by: frozenset[Party] = frozenset()


def can_see(actor: Actor, ticket: TicketFacts) -> bool:
    """Provider staff see every ticket; a customer's staff their organisation's; a supplier
    the tickets on the systems it is attached to."""
    if actor.role is Role.ADMIN or actor.is_provider_staff:
        return True
    if actor.role is Role.SUPPLIER_AGENT:
        return ticket.system_id in actor.system_ids
    return ticket.customer_id == actor.organisation_id


def ensure_visible(actor: Actor, ticket: TicketFacts) -> None:
    if not can_see(actor, ticket):
        raise NotFound("No such ticket.")


def cell_for(matrix: RaciMatrix, workflow: Workflow, ticket: TicketFacts,
             spec: TransitionSpec | None = None) -> Cell:
    activity = (spec.activity if spec and spec.activity else None) or ticket.activity
    return matrix.cell(activity, ticket.layer)


def _acts_for(actor: Actor, ticket: TicketFacts, party: Party) -> bool:
    """Whether the actor works for ``party`` on this ticket."""
    if actor.party is not party:
        return False
    if party is Party.CUSTOMER:
        if actor.role is Role.SUPPLIER_AGENT:
            return ticket.system_id in actor.system_ids
        return ticket.customer_id == actor.organisation_id
    return True


def holds(actor: Actor, ticket: TicketFacts, cell: Cell, letter: str) -> bool:
    """Whether the actor may act as ``letter`` of the cell: its party holds the letter and its
    role fits (R and C: agents and managers; A: managers; I: anyone of the party). R is the one
    party whose queue works the ticket (see ``Cell.responsible``: footnotes 6 and 7)."""
    role_ok = {
        "R": actor.role in WORKER_ROLES,
        "C": actor.role in WORKER_ROLES,
        "A": actor.role in MANAGER_ROLES,
        "I": actor.role is not Role.ADMIN,
    }[letter]
    if not role_ok:
        return False
    if letter == "R":
        parties: tuple[Party, ...] = (cell.responsible(on_request=ticket.on_request),)
    else:
        parties = cell.parties_with(letter)
    return any(_acts_for(actor, ticket, party) for party in parties)


def approvals_pending(matrix: RaciMatrix, ticket: TicketFacts, activity: str | None = None
                      ) -> tuple[Party, ...]:
    """The accountable parties of the affected layers whose approval is not yet recorded."""
    activity = activity or ticket.activity
    layers = ticket.affected_layers or ((ticket.layer,) if ticket.layer else ())
    parties = dict.fromkeys(matrix.cell(activity, layer).accountable for layer in layers)
    return tuple(p for p in parties if p not in ticket.approved_by)


def _may_approve(matrix: RaciMatrix, ticket: TicketFacts, actor: Actor,
                 spec: TransitionSpec) -> bool:
    """``gate: approvals``: a manager of the A of any affected layer that has not yet approved."""
    if "A" not in spec.allowed:
        return False
    activity = spec.activity or ticket.activity
    layers = ticket.affected_layers or ((ticket.layer,) if ticket.layer else ())
    for layer in layers:
        cell = matrix.cell(activity, layer)
        if cell.accountable not in ticket.approved_by and holds(actor, ticket, cell, "A"):
            return True
    return False


def may_fire(matrix: RaciMatrix, workflow: Workflow, ticket: TicketFacts, actor: Actor,
             spec: TransitionSpec) -> bool:
    if not can_see(actor, ticket):
        return False
    if spec.gate == "approvals":
        return _may_approve(matrix, ticket, actor, spec)
    cell = cell_for(matrix, workflow, ticket, spec)
    for who in spec.allowed:
        if who == "reporter":
            if actor.user_id == ticket.reporter_id or (
                actor.role is Role.REPORTER and actor.organisation_id == ticket.customer_id
            ):
                return True
        elif who.startswith("role:"):
            if actor.role.value == who[5:]:
                return True
        elif holds(actor, ticket, cell, who):
            return True
    return False


def waiting_on(matrix: RaciMatrix, workflow: Workflow, ticket: TicketFacts,
               spec: TransitionSpec) -> tuple[Party, ...]:
    """The C parties whose answer a gated transition still waits for. The party doing the work
    (R) is not asked to consult itself (restore on middleware: the customer is R and C)."""
    if spec.gate != "consulted":
        return ()
    activity = spec.activity or ticket.activity
    cell = matrix.cell(activity, ticket.layer)
    doer = cell.responsible(on_request=ticket.on_request)
    return tuple(p for p in cell.consulted
                 if p is not doer and (activity, p) not in ticket.consulted)


def available_triggers(matrix: RaciMatrix, workflow: Workflow, ticket: TicketFacts,
                       actor: Actor) -> list[str]:
    """The triggers this actor may fire now: valid in the state, permitted, gate satisfied."""
    found = []
    for spec in workflow.transitions_from(ticket.state, ticket.fields):
        if spec.trigger in found:
            continue
        if may_fire(matrix, workflow, ticket, actor, spec) and not waiting_on(
            matrix, workflow, ticket, spec
        ):
            found.append(spec.trigger)
    return found


def authorise_fire(matrix: RaciMatrix, workflow: Workflow, ticket: TicketFacts, actor: Actor,
                   trigger: str) -> TransitionSpec:
    """The transition spec the actor may fire now, or the error that says why not."""
    ensure_visible(actor, ticket)
    spec = workflow.spec_for(ticket.state, trigger, ticket.fields)
    if not may_fire(matrix, workflow, ticket, actor, spec):
        cell = cell_for(matrix, workflow, ticket, spec)
        raise NotPermitted(
            f"{actor.role.value} may not {trigger} this {ticket.kind}: it needs "
            f"{' or '.join(spec.allowed)} (matrix: {cell.as_codes()})."
        )
    pending = waiting_on(matrix, workflow, ticket, spec)
    if pending:
        raise InvalidTransition(
            f"{trigger!r} waits for the consultation of: {', '.join(p.value for p in pending)}."
        )
    return spec
