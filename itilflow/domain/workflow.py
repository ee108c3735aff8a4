"""Workflows as data: ``workflows/*.yaml`` become ``transitions`` machines, built once per file.

A machine holds no ticket. To fire a trigger, the engine drives a throw-away adapter that carries
the ticket's state through the machine's event, so the machine is shared by every request and
no ``add_model`` ever resets a ticket (see STYLE.md). The database transaction is the rollback.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from transitions import Machine, MachineError

from itilflow.domain.errors import ConfigError, InvalidTransition, UnknownTrigger
from itilflow.domain.parties import Layer
from itilflow.domain.raci import LETTERS, RaciMatrix

FIELD_TYPES = frozenset({"text", "layer", "user", "choice", "datetime", "bool", "int"})
ROLES = frozenset(
    {"reporter", "customer_agent", "supplier_agent", "sit_agent", "customer_manager",
     "sit_manager", "admin"}
)
#: ``consulted``: the C parties of the step's row have answered; ``approvals``: an accountable
#: party that has not approved yet; ``open_consultation``: a consultation of the actor's party is
#: open (answering one); ``consultable``: the row has a C party besides the doer (asking one);
#: ``unacknowledged``: nobody has acknowledged the ticket yet (a second acknowledgement would
#: change nothing). A closed gate is a 409, never a 403: the trigger is the actor's, not now.
GATES = frozenset({"consulted", "approvals", "open_consultation", "consultable", "unacknowledged"})
#: the gates of asking (``consultable``) and answering (``open_consultation``) a consultation
CONSULTATION_GATES = frozenset({"consultable", "open_consultation"})
#: whom a ``notify`` point tells: the I parties (footnote 5: only on deviations), the R or A
#: party of the cell, the reporter's party (an answer is needed from them), and of a change's
#: approval (``gate: approvals``): ``approvers``, the accountable parties whose approval is
#: still awaited (asked to approve; told when the change ends before they did), and
#: ``approved``, those that have approved it (told when it is rejected or cancelled)
NOTIFY_TARGETS = frozenset({"I", "R", "A", "reporter", "approvers", "approved"})
#: whom a waiting state waits for: a comment from them is news for the party working it, and
#: fires the state's ``answered_by`` trigger where it names one (the answer resumes the work)
WAITS_FOR = frozenset({"reporter"})
_TRANSITION_KEYS = frozenset(
    {"trigger", "label", "source", "dest", "allowed", "fields", "gate", "activity", "notify",
     "when", "description"}
)
_STATE_KEYS = frozenset({"label", "final", "sla", "description", "category", "waits_for",
                         "answered_by"})


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    required: bool = False
    label: str = ""
    choices: tuple[str, ...] = ()
    max_length: int = 10_000
    #: an ``int`` field's bounds (inclusive), where it has them
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True)
class StateSpec:
    name: str
    label: str
    final: bool = False
    sla_paused: bool = False
    category: str = "open"  # open | waiting | resolved | done
    waits_for: str | None = None  # "reporter": the ticket waits for the reporter's answer
    answered_by: str | None = None  # the trigger that answer fires (it leaves the state)


@dataclass(frozen=True)
class TransitionSpec:
    trigger: str
    label: str
    sources: tuple[str, ...]
    dest: str | None  # None: stays in its state (an internal transition)
    allowed: tuple[str, ...]  # RACI letters, "reporter", "role:<role>"
    fields: tuple[FieldSpec, ...] = ()
    gate: str | None = None
    activity: str | None = None  # the matrix row this step answers to; default the ticket's
    notify: tuple[str, ...] = ()  # whom to tell (NOTIFY_TARGETS); ``notify: true`` is ("I",)
    when: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def field(self, name: str) -> FieldSpec | None:
        return next((f for f in self.fields if f.name == name), None)


class _Adapter:
    """The thin object a shared machine moves: it only carries a state."""

    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


@dataclass
class Workflow:
    name: str
    kind: str
    prefix: str
    activity: str
    initial: str
    states: dict[str, StateSpec]
    transitions: tuple[TransitionSpec, ...]
    version: str
    source: str
    _machine: Machine = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._machine = Machine(
            model=None,
            states=list(self.states),
            initial=self.initial,
            transitions=[
                {
                    "trigger": t.trigger,
                    "source": list(t.sources),
                    "dest": t.dest,
                    "conditions": [_when_guard(t.when)] if t.when else [],
                }
                for t in self.transitions
            ],
            auto_transitions=False,
            send_event=True,
            ignore_invalid_triggers=False,
        )

    @property
    def approval_states(self) -> frozenset[str]:
        """The states in which a ticket waits for approvals: those a ``gate: approvals`` step
        leaves (a change's ``awaiting_approval``)."""
        return frozenset(source for t in self.transitions if t.gate == "approvals"
                         for source in t.sources)

    @property
    def triggers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.trigger for t in self.transitions))

    def transitions_from(self, state: str, fields: Mapping[str, Any] | None = None
                         ) -> list[TransitionSpec]:
        """The transitions that leave ``state`` and whose ``when`` holds for the ticket's fields."""
        return [
            t for t in self.transitions
            if state in t.sources and _when_holds(t.when, fields or {})
        ]

    def spec_for(self, state: str, trigger: str, fields: Mapping[str, Any] | None = None
                 ) -> TransitionSpec:
        for t in self.transitions_from(state, fields):
            if t.trigger == trigger:
                return t
        if trigger not in self.triggers:
            raise UnknownTrigger(f"Unknown trigger {trigger!r} for a {self.kind}.",
                                 {"trigger": [f"Not a trigger of the {self.name} workflow."]})
        label = self.states[state].label if state in self.states else state
        raise InvalidTransition(f"{trigger!r} is not possible while the {self.kind} is {label}.")

    def next_state(self, state: str, trigger: str, fields: Mapping[str, Any] | None = None) -> str:
        """Run the machine for ``trigger`` from ``state``; return the state it lands in."""
        adapter = _Adapter(state)
        try:
            fired = self._machine.events[trigger].trigger(adapter, fields=fields or {})
        except (KeyError, MachineError, AttributeError):
            fired = False
        if not fired:
            raise InvalidTransition(f"{trigger!r} is not possible in state {state!r}.")
        return adapter.state

    def is_final(self, state: str) -> bool:
        return self.states[state].final

    def sla_paused(self, state: str) -> bool:
        return self.states[state].sla_paused


def _when_holds(when: Mapping[str, tuple[str, ...]], fields: Mapping[str, Any]) -> bool:
    return all(str(fields.get(name)) in values for name, values in when.items())


def _when_guard(when: Mapping[str, tuple[str, ...]]):
    def guard(event) -> bool:
        return _when_holds(when, event.kwargs.get("fields", {}))

    return guard


# --- loading and validation ---------------------------------------------------------------


def _line_of(text: str, needle: str) -> int | None:
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    return None


class _Loader:
    def __init__(self, path: Path, text: str, matrix: RaciMatrix | None) -> None:
        self.path, self.text, self.matrix = path, text, matrix

    def fail(self, reason: str, near: str | None = None) -> ConfigError:
        line = _line_of(self.text, near) if near else None
        where = f"{self.path}:{line}" if line else str(self.path)
        return ConfigError(f"{where}: {reason}")

    def load(self, data: Any) -> Workflow:
        if not isinstance(data, dict):
            raise self.fail("expected a mapping at the top level")
        for key in ("name", "kind", "prefix", "activity", "initial", "states", "transitions"):
            if key not in data:
                raise self.fail(f"missing '{key}'")
        activity = str(data["activity"])
        if self.matrix is not None and activity not in self.matrix.activities:
            raise self.fail(f"unknown activity {activity!r}", f"activity: {activity}")
        states = self.states(data["states"])
        initial = str(data["initial"])
        if initial not in states:
            raise self.fail(f"initial state {initial!r} is not declared", f"initial: {initial}")
        transitions = tuple(self.transition(raw, states, activity) for raw in data["transitions"])
        self.check_graph(states, initial, transitions)
        self.check_answers(states, transitions)
        self.check_consultations(transitions)
        return Workflow(
            name=str(data["name"]), kind=str(data["kind"]), prefix=str(data["prefix"]),
            activity=activity, initial=initial, states=states, transitions=transitions,
            version=hashlib.sha256(self.text.encode()).hexdigest()[:12], source=str(self.path),
        )

    def states(self, raw: Any) -> dict[str, StateSpec]:
        if not isinstance(raw, dict) or not raw:
            raise self.fail("'states' must be a non-empty mapping of state name to attributes")
        states = {}
        for name, attrs in raw.items():
            attrs = attrs or {}
            if not isinstance(attrs, dict):
                raise self.fail(f"state {name!r}: expected a mapping", f"{name}:")
            unknown = set(attrs) - _STATE_KEYS
            if unknown:
                raise self.fail(f"state {name!r}: unknown key(s) {', '.join(sorted(unknown))}",
                                f"{name}:")
            sla = attrs.get("sla")
            if sla not in (None, "paused", "running"):
                raise self.fail(f"state {name!r}: sla must be 'paused' or 'running'", f"{name}:")
            final = bool(attrs.get("final", False))
            waits_for = attrs.get("waits_for")
            if waits_for is not None and waits_for not in WAITS_FOR:
                raise self.fail(f"state {name!r}: waits_for must be one of: "
                                f"{', '.join(sorted(WAITS_FOR))}", f"{name}:")
            answered_by = attrs.get("answered_by")
            if answered_by is not None and (waits_for is None or not isinstance(answered_by, str)):
                raise self.fail(f"state {name!r}: answered_by names a trigger, and needs "
                                "waits_for (whose answer fires it)", f"{name}:")
            states[str(name)] = StateSpec(
                name=str(name), label=str(attrs.get("label", name)), final=final,
                sla_paused=sla == "paused",
                category=str(attrs.get("category", "done" if final else "open")),
                waits_for=waits_for, answered_by=answered_by,
            )
        return states

    def transition(self, raw: Any, states: dict[str, StateSpec], activity: str) -> TransitionSpec:
        if not isinstance(raw, dict) or "trigger" not in raw:
            raise self.fail(f"each transition needs a 'trigger': {raw!r}")
        trigger = str(raw["trigger"])
        near = f"trigger: {trigger}"
        unknown = set(raw) - _TRANSITION_KEYS
        if unknown:
            raise self.fail(f"transition {trigger!r}: unknown key(s) {', '.join(sorted(unknown))}",
                            near)
        sources = raw.get("source")
        sources = [sources] if isinstance(sources, str) else sources
        if not sources:
            raise self.fail(f"transition {trigger!r}: no source state", near)
        for s in sources:
            if s not in states:
                raise self.fail(f"transition {trigger!r}: unknown source state {s!r}", near)
        dest = raw.get("dest", "=")
        dest = None if dest in (None, "=") else str(dest)
        if dest is not None and dest not in states:
            raise self.fail(f"transition {trigger!r}: unknown dest state {dest!r}", near)
        allowed = raw.get("allowed") or []
        if not allowed:
            raise self.fail(f"transition {trigger!r}: nobody may fire it ('allowed' is empty)",
                            near)
        step_activity = str(raw.get("activity", activity))
        if self.matrix is not None and step_activity not in self.matrix.activities:
            raise self.fail(f"transition {trigger!r}: unknown activity {step_activity!r}", near)
        gate = raw.get("gate")
        if gate is not None and gate not in GATES:
            raise self.fail(f"transition {trigger!r}: unknown gate {gate!r}", near)
        fields = tuple(self.field(trigger, n, a, near) for n, a in (raw.get("fields") or {}).items())
        for who in allowed:
            self.check_allowed(trigger, str(who), self.rows_of(raw, gate, fields, step_activity),
                               near)
        when = {str(k): tuple(str(v) for v in (vs if isinstance(vs, list) else [vs]))
                for k, vs in (raw.get("when") or {}).items()}
        return TransitionSpec(
            trigger=trigger, label=str(raw.get("label", trigger.replace("_", " ").capitalize())),
            sources=tuple(str(s) for s in sources), dest=dest,
            allowed=tuple(str(a) for a in allowed), fields=fields, gate=gate,
            activity=str(raw["activity"]) if "activity" in raw else None,
            notify=self.notify(trigger, raw.get("notify", False), near), when=when,
        )

    def notify(self, trigger: str, raw: Any, near: str) -> tuple[str, ...]:
        """``true`` tells the I parties; a list names whom to tell (NOTIFY_TARGETS)."""
        if isinstance(raw, bool):
            return ("I",) if raw else ()
        targets = raw if isinstance(raw, list) else [raw]
        for target in targets:
            if target not in NOTIFY_TARGETS:
                raise self.fail(f"transition {trigger!r}: notify {target!r} is not one of "
                                f"{', '.join(sorted(NOTIFY_TARGETS))} (or true)", near)
        return tuple(dict.fromkeys(str(t) for t in targets))

    def rows_of(self, raw: dict, gate: Any, fields: tuple[FieldSpec, ...], activity: str
                ) -> tuple[str, ...]:
        """The matrix rows a step's ``allowed`` letters are read in: its own activity; a
        consultation step (asking or answering) is about a stage: the rows of its ``stage``
        choices too, or, with neither a stage field nor an activity of its own, the ticket's own
        row, which may be any (a standard change's template, a request's activity)."""
        if gate not in CONSULTATION_GATES:
            return (activity,)
        stage = next((f for f in fields if f.name == "stage"), None)
        if stage is not None:
            return (activity, *stage.choices)
        if "activity" not in raw and self.matrix is not None:
            return tuple(self.matrix.activities)
        return (activity,)

    def check_allowed(self, trigger: str, who: str, activities: tuple[str, ...] | str,
                      near: str) -> None:
        if who == "reporter":
            return
        if who.startswith("role:"):
            if who[5:] not in ROLES:
                raise self.fail(f"transition {trigger!r}: unknown role {who[5:]!r}", near)
            return
        if who not in LETTERS:
            raise self.fail(
                f"transition {trigger!r}: 'allowed' entry {who!r} is not R, A, C, I, reporter "
                "or role:<role>", near)
        if self.matrix is not None:
            rows = (activities,) if isinstance(activities, str) else activities
            cells = []
            for row in rows:
                if row in self.matrix.activities:
                    cells += [*self.matrix.activities[row].cells.values(),
                              self.matrix.unclassified[row]]
            if not any(cell.parties_with(who) for cell in cells):
                raise self.fail(
                    f"transition {trigger!r}: nobody holds {who} for activity {rows[0]!r} "
                    "on any layer, so nobody may fire it", near)

    def field(self, trigger: str, name: Any, attrs: Any, near: str) -> FieldSpec:
        attrs = attrs or {}
        ftype = str(attrs.get("type", "text"))
        if ftype not in FIELD_TYPES:
            raise self.fail(f"transition {trigger!r}: field {name!r} has unknown type {ftype!r}",
                            near)
        choices = tuple(str(c) for c in attrs.get("choices", ()))
        if ftype == "layer":
            choices = tuple(layer.value for layer in Layer)
        if ftype == "choice" and not choices:
            raise self.fail(f"transition {trigger!r}: choice field {name!r} has no choices", near)
        bounds = {key: attrs.get(key) for key in ("min", "max") if key in attrs}
        if bounds and ftype != "int":
            raise self.fail(f"transition {trigger!r}: field {name!r}: min and max are for int "
                            "fields", near)
        if any(isinstance(v, bool) or not isinstance(v, int) for v in bounds.values()):
            raise self.fail(f"transition {trigger!r}: field {name!r}: min and max must be whole "
                            "numbers", near)
        if "min" in bounds and "max" in bounds and bounds["min"] > bounds["max"]:
            raise self.fail(f"transition {trigger!r}: field {name!r}: min is above max", near)
        return FieldSpec(name=str(name), type=ftype, required=bool(attrs.get("required", False)),
                         label=str(attrs.get("label", str(name).replace("_", " ").capitalize())),
                         choices=choices, max_length=int(attrs.get("max_length", 10_000)),
                         minimum=bounds.get("min"), maximum=bounds.get("max"))

    def check_graph(self, states: dict[str, StateSpec], initial: str,
                    transitions: Iterable[TransitionSpec]) -> None:
        edges: dict[str, set[str]] = {s: set() for s in states}
        for t in transitions:
            for s in t.sources:
                if t.dest is not None:
                    edges[s].add(t.dest)
        reached, todo = {initial}, [initial]
        while todo:
            for nxt in edges[todo.pop()]:
                if nxt not in reached:
                    reached.add(nxt)
                    todo.append(nxt)
        for name, spec in states.items():
            if name not in reached:
                raise self.fail(f"state {name!r} cannot be reached from {initial!r}", f"{name}:")
            if not spec.final and not edges[name]:
                raise self.fail(f"state {name!r} is a dead end: not final and no way out",
                                f"{name}:")
            if spec.final and edges[name]:
                raise self.fail(f"state {name!r} is final but has transitions out", f"{name}:")
        if not any(s.final for s in states.values()):
            raise self.fail("no final state")

    def check_answers(self, states: dict[str, StateSpec],
                      transitions: tuple[TransitionSpec, ...]) -> None:
        """A state's ``answered_by`` trigger must leave it and be allowed for whom it waits for:
        the answer fires it as the one who answers, through the normal transition path."""
        for name, spec in states.items():
            trigger = spec.answered_by
            if trigger is None:
                continue
            near = f"answered_by: {trigger}"
            named = [t for t in transitions if t.trigger == trigger]
            if not named:
                raise self.fail(f"state {name!r}: answered_by {trigger!r} is not a trigger of "
                                "this workflow", near)
            leaving = [t for t in named if name in t.sources]
            if not leaving or any(t.dest in (None, name) for t in leaving):
                raise self.fail(f"state {name!r}: answered_by {trigger!r} must lead out of "
                                f"{name!r}", near)
            if any(spec.waits_for not in t.allowed for t in leaving):
                raise self.fail(f"state {name!r}: answered_by {trigger!r} must be allowed for "
                                f"{spec.waits_for!r}, whose answer fires it", near)


    def check_consultations(self, transitions: tuple[TransitionSpec, ...]) -> None:
        """A ``gate: consulted`` step opens only once its C parties have answered: the workflow
        must let the R ask them (``gate: consultable``) and them answer (``gate:
        open_consultation``) about its row, for the same tickets (compatible ``when``): a stage
        field whose choices name its ``activity``, or, for a step on the ticket's own row (no
        ``activity``), a consultation step without a stage field (it is about that row)."""
        for spec in transitions:
            if spec.gate != "consulted":
                continue
            for gate in sorted(CONSULTATION_GATES):
                if not any(t.gate == gate and _when_compatible(t.when, spec.when)
                           and _about(t, spec.activity) for t in transitions):
                    who = "the R ask the C parties" if gate == "consultable" else \
                        "the C parties answer"
                    row = repr(spec.activity) if spec.activity else "the ticket's own row"
                    raise self.fail(
                        f"transition {spec.trigger!r}: gate: consulted, but no transition with "
                        f"gate: {gate} lets {who} about {row} for the same tickets, so the "
                        "gate could never open", f"trigger: {spec.trigger}")


def _about(consulting: TransitionSpec, activity: str | None) -> bool:
    """Whether a consultation step can be about the row ``activity`` (None: the ticket's)."""
    stage = consulting.field("stage")  # without one, it is about the ticket's own row
    return stage is None if activity is None else stage is not None and activity in stage.choices


def _when_compatible(one: Mapping[str, tuple[str, ...]], other: Mapping[str, tuple[str, ...]]
                     ) -> bool:
    """Whether some ticket can meet both ``when`` guards."""
    return all(set(one[k]) & set(other[k]) for k in set(one) & set(other))


def load_workflow(path: str | Path, matrix: RaciMatrix | None = None) -> Workflow:
    """Load and validate one workflow file; faults raise ConfigError with file, line and reason."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return _Loader(path, text, matrix).load(data)


def load_workflows(directory: str | Path, matrix: RaciMatrix | None = None) -> dict[str, Workflow]:
    """Every ``*.yaml`` in ``directory``, keyed by ticket kind; kinds and prefixes must be unique."""
    workflows: dict[str, Workflow] = {}
    for path in sorted(Path(directory).glob("*.yaml")):
        wf = load_workflow(path, matrix)
        if wf.kind in workflows:
            raise ConfigError(f"{path}: kind {wf.kind!r} is already declared in "
                              f"{workflows[wf.kind].source}")
        if any(other.prefix == wf.prefix for other in workflows.values()):
            raise ConfigError(f"{path}: prefix {wf.prefix!r} is used twice")
        workflows[wf.kind] = wf
    if not workflows:
        raise ConfigError(f"{directory}: no workflow files (*.yaml)")
    return workflows
