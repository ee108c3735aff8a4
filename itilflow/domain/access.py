"""Who may see a ticket and who may fire which trigger: deny by default.

The API's ``available_transitions``, the UI's buttons and the services all ask these functions;
nothing else decides. A trigger the actor may not fire is a 403 with a sentence that says who
may and why; one whose gate is shut now (an answer still awaited, an approval or an
acknowledgement already given) is a 409. Neither is offered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
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
    #: (stage, party) pairs asked and not answered yet
    open_consultations: frozenset[tuple[str, Party]] = frozenset()
    #: someone has acknowledged the ticket (the on-call person has it)
    acknowledged: bool = False


#: The letters a supplier holds for the customer it works for. It does the customer's work (R)
#: on the systems it is attached to, but consent (C) and approval (A) stay with the customer
#: organisation itself: the seed names the customer (Kunde) as the consulted and accountable
#: party, and docs/changes.md says the answer is one "only that party may give". A supplier's
#: "yes" would otherwise open SIT's gate on the customer's servers without the customer asked.
SUPPLIER_LETTERS = frozenset({"R", "I"})

#: The parties as the messages name them (the Danish catalogue translates these words).
PARTY_WORDS = {Party.CUSTOMER: "the customer", Party.PROVIDER: "the provider (SIT)"}

# Refusals, as sentences for users. The format is stable and each value stands alone in it, so
# the Danish catalogue can match a message and translate its values (itilflow/i18n.py DA_PATTERNS):
# ``party`` is PARTY_WORDS (several joined by " or "), ``action`` a transition's label,
# ``layer`` a layer in words ("operating system"), ``role`` a role in words ("sit manager").
NEEDS_R = ('Only agents and managers of %(party)s may use "%(action)s" on this ticket: it is '
           'responsible for the %(layer)s layer.')
NEEDS_R_TRIAGE = ('Only agents and managers of %(party)s may use "%(action)s" on this ticket: '
                  'it triages tickets whose layer is not yet known.')
NEEDS_A = ('Only managers of %(party)s may use "%(action)s" on this ticket: it is accountable '
           'for the %(layer)s layer.')
NEEDS_A_TRIAGE = ('Only managers of %(party)s may use "%(action)s" on this ticket: it is '
                  'accountable while the layer is not yet known.')
NEEDS_A_LAYERS = ('Only managers of %(party)s may use "%(action)s" on this ticket: they are '
                  'accountable for its affected layers.')
NEEDS_C = ('Only agents and managers of %(party)s may use "%(action)s" on this ticket: it is '
           'consulted on the %(layer)s layer.')
NOBODY_CONSULTED = ('Nobody may use "%(action)s" on this ticket: no party is consulted on the '
                    '%(layer)s layer.')
NOT_FOR_SUPPLIER = ('A supplier works for the customer but may not use "%(action)s" on this '
                    'ticket: only the customer itself gives its consent or approval.')
NEEDS_REPORTER = ('Only the person who reported this ticket, or a reporter of its '
                  'organisation, may use "%(action)s" on it.')
NOT_FOR_WORKING_PARTY = ('Whoever works this ticket may not use "%(action)s" on it, even where '
                         'they reported it: the reporting side accepts the work, and the '
                         'managers of the accountable party close it.')
NEEDS_ROLE = 'Only a user with the role %(role)s may use "%(action)s" on this ticket.'
NOT_FOR_ADMIN = "Admins configure itilflow; they do not work tickets."
# Shut gates (409).
ALREADY_APPROVED = "This change already has the approval of %(party)s."
ALREADY_APPROVED_BY_YOU = "This change already has your approval."
ALREADY_ACKNOWLEDGED = "This ticket is already acknowledged."
NO_OPEN_CONSULTATION = "No consultation of %(party)s is open on this ticket."
NO_OPEN_CONSULTATION_OF_YOU = "No consultation of yours is open on this ticket."
NOBODY_TO_CONSULT = "Nobody is consulted on %(stage)s for the %(layer)s layer."
#: every stage with someone to ask has its question open (services.tickets refuses the same)
STILL_TO_ANSWER = ("The consultation on %(stage)s waits for the answer of %(party)s: wait for "
                   "it before asking again.")
WAITS_FOR_CONSULTATION = "%(trigger)r waits for the consultation of: %(parties)s."


def party_words(parties: Iterable[Party]) -> str:
    return " or ".join(PARTY_WORDS[p] for p in parties)


def activity_words(matrix: RaciMatrix, key: str) -> str:
    """An activity as a message names it: its label ("Installation test"), not its key."""
    activity = matrix.activities.get(key)
    return activity.label if activity else key


def layer_words(layer: Layer | None) -> str:
    return layer.value.replace("_", " ") if layer else "unclassified"


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
    role fits (R and C: agents and managers; A: managers; I: anyone of the party; a supplier
    only R and I, see ``SUPPLIER_LETTERS``). R is the one party whose queue works the ticket
    (see ``Cell.responsible``: footnotes 6 and 7)."""
    role_ok = {
        "R": actor.role in WORKER_ROLES,
        "C": actor.role in WORKER_ROLES,
        "A": actor.role in MANAGER_ROLES,
        "I": actor.role is not Role.ADMIN,
    }[letter]
    if not role_ok or (actor.role is Role.SUPPLIER_AGENT and letter not in SUPPLIER_LETTERS):
        return False
    if letter == "R":
        parties: tuple[Party, ...] = (cell.responsible(on_request=ticket.on_request),)
    else:
        parties = cell.parties_with(letter)
    return any(_acts_for(actor, ticket, party) for party in parties)


def _affected_cells(matrix: RaciMatrix, ticket: TicketFacts, activity: str) -> list[Cell]:
    layers = ticket.affected_layers or ((ticket.layer,) if ticket.layer else ())
    return [matrix.cell(activity, layer) for layer in layers]


def approvals_pending(matrix: RaciMatrix, ticket: TicketFacts, activity: str | None = None
                      ) -> tuple[Party, ...]:
    """The accountable parties of the affected layers whose approval is not yet recorded."""
    cells = _affected_cells(matrix, ticket, activity or ticket.activity)
    parties = dict.fromkeys(cell.accountable for cell in cells)
    return tuple(p for p in parties if p not in ticket.approved_by)


def is_reporter(actor: Actor, ticket: TicketFacts) -> bool:
    """The person who reported the ticket, or a reporter of its organisation."""
    return actor.user_id == ticket.reporter_id or (
        actor.role is Role.REPORTER and actor.organisation_id == ticket.customer_id)


def works_it(matrix: RaciMatrix, ticket: TicketFacts, actor: Actor) -> bool:
    """Whether the actor is of the working party (R of the ticket's own cell; a supplier for
    its customer). The reporter's steps (confirm, reject, answer) are the reporting side
    accepting or answering that party's work: the working party never takes them as its own
    reporter, even where one of its people raised the ticket (its A closes it instead)."""
    return holds(actor, ticket, matrix.cell(ticket.activity, ticket.layer), "R")


def may_fire(matrix: RaciMatrix, workflow: Workflow, ticket: TicketFacts, actor: Actor,
             spec: TransitionSpec) -> bool:
    """Whether the actor's letter, role or being the reporter allows the trigger at all (its
    gate aside: see ``gate_refusal``). ``gate: approvals`` asks for the A of any affected
    layer."""
    if not can_see(actor, ticket):
        return False
    if spec.gate == "approvals":
        return "A" in spec.allowed and any(
            holds(actor, ticket, cell, "A")
            for cell in _affected_cells(matrix, ticket, spec.activity or ticket.activity))
    cell = cell_for(matrix, workflow, ticket, spec)
    for who in spec.allowed:
        if who == "reporter":
            if is_reporter(actor, ticket) and not works_it(matrix, ticket, actor):
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


def answerable_stages(matrix: RaciMatrix, ticket: TicketFacts, actor: Actor) -> tuple[str, ...]:
    """The stages on which a consultation of the actor's own party is open and the actor may
    give its answer (its C of that stage's row)."""
    return tuple(sorted({
        stage for stage, party in ticket.open_consultations
        if party is actor.party and holds(actor, ticket, matrix.cell(stage, ticket.layer), "C")
    }))


def consultable_stages(matrix: RaciMatrix, ticket: TicketFacts, spec: TransitionSpec
                       ) -> tuple[str, ...]:
    """The stages ``consult`` may ask about: those whose row has a C party besides the doer
    (the ticket's own activity where the trigger has no ``stage`` field) and none of whose
    C parties has still to answer a question on it (it is not asked twice)."""
    field = spec.field("stage")
    stages = field.choices if field is not None else (ticket.activity,)
    found = []
    for stage in stages:
        cell = matrix.cell(stage, ticket.layer)
        doer = cell.responsible(on_request=ticket.on_request)
        asked = [p for p in cell.consulted if p is not doer]
        if asked and not any((stage, p) in ticket.open_consultations for p in asked):
            found.append(stage)
    return tuple(found)


def offered_spec(matrix: RaciMatrix, ticket: TicketFacts, actor: Actor, spec: TransitionSpec
                 ) -> TransitionSpec:
    """``spec`` as the actor's form offers it: the ``stage`` choices narrowed to the ones that
    apply now (the open consultations it may answer; the stages with someone to ask)."""
    field = spec.field("stage")
    if field is None or spec.gate not in ("open_consultation", "consultable"):
        return spec
    now = answerable_stages(matrix, ticket, actor) if spec.gate == "open_consultation" \
        else consultable_stages(matrix, ticket, spec)
    narrowed = replace(field, choices=tuple(c for c in field.choices if c in now))
    return replace(spec, fields=tuple(narrowed if f is field else f for f in spec.fields))


def gate_refusal(matrix: RaciMatrix, workflow: Workflow, ticket: TicketFacts, actor: Actor,
                 spec: TransitionSpec) -> str | None:
    """Why the trigger's gate is shut now for this actor (a 409), or None when it is open."""
    if spec.gate == "consulted":
        pending = waiting_on(matrix, workflow, ticket, spec)
        if pending:
            return WAITS_FOR_CONSULTATION % {"trigger": spec.trigger,
                                             "parties": ", ".join(p.value for p in pending)}
    elif spec.gate == "approvals":
        cells = _affected_cells(matrix, ticket, spec.activity or ticket.activity)
        if not any(cell.accountable not in ticket.approved_by and holds(actor, ticket, cell, "A")
                   for cell in cells):
            return ALREADY_APPROVED % {"party": PARTY_WORDS[actor.party]} \
                if actor.party in PARTY_WORDS else ALREADY_APPROVED_BY_YOU
    elif spec.gate == "open_consultation":
        if not answerable_stages(matrix, ticket, actor):
            return NO_OPEN_CONSULTATION % {"party": PARTY_WORDS[actor.party]} \
                if actor.party in PARTY_WORDS else NO_OPEN_CONSULTATION_OF_YOU
    elif spec.gate == "consultable":
        if not consultable_stages(matrix, ticket, spec):
            if ticket.open_consultations:  # someone to ask, but the question stands
                stage, party = min(ticket.open_consultations, key=lambda c: (c[0], c[1].value))
                return STILL_TO_ANSWER % {"party": PARTY_WORDS[party],
                                          "stage": activity_words(matrix, stage)}
            stage = activity_words(matrix, ticket.activity) if spec.field("stage") is None \
                else "any stage"
            return NOBODY_TO_CONSULT % {"stage": stage, "layer": layer_words(ticket.layer)}
    elif spec.gate == "unacknowledged" and ticket.acknowledged:
        return ALREADY_ACKNOWLEDGED
    return None


def refusal(matrix: RaciMatrix, workflow: Workflow, ticket: TicketFacts, actor: Actor,
            spec: TransitionSpec) -> str:
    """Who may fire the trigger and why, as a sentence for the actor it refuses: the first
    entry of ``allowed`` explains it (a supplier asked for the customer's C or A is told so)."""
    values = {"action": spec.label, "layer": layer_words(ticket.layer)}
    if actor.role is Role.ADMIN:
        return NOT_FOR_ADMIN
    if spec.gate == "approvals":
        activity = spec.activity or ticket.activity
        parties = tuple(dict.fromkeys(
            c.accountable for c in _affected_cells(matrix, ticket, activity)))
        letters: dict[str, tuple[Party, ...]] = {"A": parties}
    else:
        cell = cell_for(matrix, workflow, ticket, spec)
        letters = {who: (cell.responsible(on_request=ticket.on_request),) if who == "R"
                   else cell.parties_with(who) for who in spec.allowed if who in ("R", "A", "C")}
    if actor.role is Role.SUPPLIER_AGENT and any(
            Party.CUSTOMER in letters.get(letter, ()) for letter in ("A", "C")):
        return NOT_FOR_SUPPLIER % values
    first = "A" if spec.gate == "approvals" else spec.allowed[0]
    if "reporter" in spec.allowed and is_reporter(actor, ticket) and \
            works_it(matrix, ticket, actor):
        return NOT_FOR_WORKING_PARTY % values
    if first == "reporter":
        return NEEDS_REPORTER % values
    if first.startswith("role:"):
        return NEEDS_ROLE % {**values, "role": first[5:].replace("_", " ")}
    parties = letters.get(first, ())
    if not parties:  # every cell has an R and an A (the matrix is validated): a C
        return NOBODY_CONSULTED % values
    values["party"] = party_words(parties)
    if first == "A" and len(parties) > 1:
        return NEEDS_A_LAYERS % values
    if ticket.layer is None:
        return {"R": NEEDS_R_TRIAGE, "A": NEEDS_A_TRIAGE}.get(first, NEEDS_C) % values
    return {"R": NEEDS_R, "A": NEEDS_A, "C": NEEDS_C}.get(first, NEEDS_C) % values


def available_triggers(matrix: RaciMatrix, workflow: Workflow, ticket: TicketFacts,
                       actor: Actor) -> list[str]:
    """The triggers this actor may fire now: valid in the state, permitted, gate open."""
    found = []
    for spec in workflow.transitions_from(ticket.state, ticket.fields):
        if spec.trigger in found:
            continue
        if may_fire(matrix, workflow, ticket, actor, spec) and gate_refusal(
            matrix, workflow, ticket, actor, spec
        ) is None:
            found.append(spec.trigger)
    return found


def authorise_fire(matrix: RaciMatrix, workflow: Workflow, ticket: TicketFacts, actor: Actor,
                   trigger: str) -> TransitionSpec:
    """The transition spec the actor may fire now, or the error that says why not."""
    ensure_visible(actor, ticket)
    spec = workflow.spec_for(ticket.state, trigger, ticket.fields)
    if not may_fire(matrix, workflow, ticket, actor, spec):
        raise NotPermitted(refusal(matrix, workflow, ticket, actor, spec))
    shut = gate_refusal(matrix, workflow, ticket, actor, spec)
    if shut:
        raise InvalidTransition(shut)
    return spec
