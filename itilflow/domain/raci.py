"""The RACI matrix as data: which party is Responsible, Accountable, Consulted and Informed for
each activity on each layer. Loaded once from ``config/raci.yaml`` and validated."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from itilflow.domain.errors import ConfigError
from itilflow.domain.parties import Layer, Party

LETTERS = frozenset("RACI")
_PARTY_ATTRS = frozenset({"letters", "only_on_deviations", "on_request", "r_elsewhere", "notes"})
_ACTIVITY_KEYS = frozenset({"label", "group", "notes"}) | {layer.value for layer in Layer}


@dataclass(frozen=True)
class Role:
    """One party's letters in one cell, with the seed's footnote attributes."""

    letters: frozenset[str] = frozenset()
    only_on_deviations: bool = False  # footnote 5
    on_request: bool = False  # footnote 7: R only when the customer asks for it
    r_elsewhere: str | None = None  # footnote 6: the work is done through another layer
    notes: tuple[int, ...] = ()

    def has(self, letter: str) -> bool:
        return letter in self.letters

    @property
    def code(self) -> str:
        """The letters in the seed's order (A before R, C before I), e.g. ``AR``, ``CI``."""
        return "".join(letter for letter in "ARCI" if letter in self.letters)


_NO_ROLE = Role()


@dataclass(frozen=True)
class Cell:
    """The matrix cell of one activity and layer (layer ``None``: not yet classified)."""

    activity: str
    layer: Layer | None
    roles: dict[Party, Role] = field(default_factory=dict)

    def role(self, party: Party) -> Role:
        return self.roles.get(party, _NO_ROLE)

    # The answers below are asked for every ticket shown or changed: worked out once per cell
    # (the matrix is loaded once and never changes).

    @cached_property
    def _parties(self) -> dict[str, tuple[Party, ...]]:
        return {letter: tuple(p for p in Party if self.role(p).has(letter)) for letter in LETTERS}

    def parties_with(self, letter: str) -> tuple[Party, ...]:
        return self._parties.get(letter, ())

    @property
    def accountable(self) -> Party:
        return self.parties_with("A")[0]

    @cached_property
    def _responsible(self) -> tuple[Party, Party | None]:
        plain = [p for p in Party if self.role(p).has("R") and not self.role(p).on_request]
        conditional = [p for p in Party if self.role(p).has("R") and self.role(p).on_request]
        return (plain[0] if plain else self.accountable), (conditional[0] if conditional else None)

    def responsible(self, *, on_request: bool = False) -> Party:
        """The party whose queue works the ticket. A conditional R (footnote 7) takes over only
        when the request asks for it; a cell whose work is done elsewhere (footnote 6) falls to A."""
        plain, conditional = self._responsible
        if on_request and conditional is not None:
            return conditional
        return plain

    @property
    def consulted(self) -> tuple[Party, ...]:
        return self.parties_with("C")

    @property
    def informed(self) -> tuple[Party, ...]:
        return self.parties_with("I")

    @cached_property
    def _codes(self) -> dict[str, str]:
        return {p.value: self.role(p).code for p in Party}

    def as_codes(self) -> dict[str, str]:
        """``{"customer": "I", "provider": "AR"}``: the shape of ``raci`` in the API."""
        return dict(self._codes)


@dataclass(frozen=True)
class Activity:
    key: str
    label: str
    group: str
    notes: tuple[int, ...]
    cells: dict[Layer, Cell]


@dataclass(frozen=True)
class RaciMatrix:
    activities: dict[str, Activity]
    unclassified: dict[str, Cell]

    def cell(self, activity: str, layer: Layer | str | None) -> Cell:
        """The cell for an activity and layer; ``layer=None`` gives the triage cell."""
        if activity not in self.activities:
            raise KeyError(f"unknown activity {activity!r}")
        if layer is None:
            return self.unclassified[activity]
        return self.activities[activity].cells[Layer(layer)]


def _parse_role(raw: Any, where: str) -> Role:
    if isinstance(raw, str):
        raw = {"letters": raw}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected letters such as 'AR' or a mapping, got {raw!r}")
    unknown = set(raw) - _PARTY_ATTRS
    if unknown:
        raise ConfigError(f"{where}: unknown attribute(s) {', '.join(sorted(unknown))}")
    letters = str(raw.get("letters", "")).replace(" ", "").upper()
    bad = set(letters) - LETTERS
    if bad or not letters:
        raise ConfigError(f"{where}: letters must be some of R, A, C, I, got {letters or 'none'!r}")
    if len(set(letters)) != len(letters):
        raise ConfigError(f"{where}: letter repeated in {letters!r}")
    role = Role(
        letters=frozenset(letters),
        only_on_deviations=bool(raw.get("only_on_deviations", False)),
        on_request=bool(raw.get("on_request", False)),
        r_elsewhere=raw.get("r_elsewhere"),
        notes=tuple(int(n) for n in raw.get("notes", ())),
    )
    if role.only_on_deviations and "I" not in role.letters:
        raise ConfigError(f"{where}: only_on_deviations needs the letter I")
    if role.on_request and "R" not in role.letters:
        raise ConfigError(f"{where}: on_request needs the letter R")
    return role


def _parse_cell(activity: str, layer: Layer | None, raw: Any, where: str) -> Cell:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of party to letters")
    roles: dict[Party, Role] = {}
    for party_name, value in raw.items():
        try:
            party = Party(party_name)
        except ValueError:
            raise ConfigError(
                f"{where}: unknown party {party_name!r} (known: customer, provider)"
            ) from None
        roles[party] = _parse_role(value, f"{where}.{party_name}")
    cell = Cell(activity=activity, layer=layer, roles=roles)
    accountable = cell.parties_with("A")
    if len(accountable) != 1:
        raise ConfigError(f"{where}: exactly one A is required, found {len(accountable)}")
    has_r = any(role.has("R") and not role.on_request for role in roles.values())
    if not has_r and not any(role.r_elsewhere for role in roles.values()):
        raise ConfigError(f"{where}: at least one R (not only on request) is required")
    return cell


def load_matrix(path: str | Path) -> RaciMatrix:
    """Load and validate the matrix; any fault raises ConfigError naming file, entry and reason."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return parse_matrix(data, str(path))


def parse_matrix(data: Any, source: str = "raci") -> RaciMatrix:
    if not isinstance(data, dict) or not isinstance(data.get("activities"), dict):
        raise ConfigError(f"{source}: expected a mapping with 'activities'")
    activities: dict[str, Activity] = {}
    for key, raw in data["activities"].items():
        where = f"{source}: activities.{key}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: expected a mapping")
        unknown = set(raw) - _ACTIVITY_KEYS
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        cells = {}
        for layer in Layer:
            if layer.value not in raw:
                raise ConfigError(f"{where}: no entry for layer {layer.value}")
            cells[layer] = _parse_cell(key, layer, raw[layer.value], f"{where}.{layer.value}")
        activities[key] = Activity(
            key=key,
            label=str(raw.get("label", key)),
            group=str(raw.get("group", "")),
            notes=tuple(int(n) for n in raw.get("notes", ())),
            cells=cells,
        )
    if not activities:
        raise ConfigError(f"{source}: no activities")
    raw_unclassified = data.get("unclassified")
    if raw_unclassified is None:
        raise ConfigError(f"{source}: no 'unclassified' entry (who triages tickets of unknown layer)")
    unclassified = {
        key: _parse_cell(key, None, raw_unclassified, f"{source}: unclassified")
        for key in activities
    }
    return RaciMatrix(activities=activities, unclassified=unclassified)
