"""SLA clocks: response and resolution targets per priority, counted in business time.

Counted time is the business time of the calendar, or real time when the system's vagtordning
covers the ticket (``domain.paging.vagtordning_covers``: an incident of a paging priority on the
production environment of a system with vagtordning, the tickets on-call is called out for) and
the priority is one of the policy's around-the-clock priorities, minus the time inside paused
intervals. A due time is where the counted time reaches the target; while the clock
is paused the due time is given as if the clock resumed now.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml

from itilflow.domain.calendar import BusinessCalendar
from itilflow.domain.errors import ConfigError
from itilflow.domain.priority import PRIORITIES

ClockKind = Literal["business_hours", "around_the_clock"]
PausedInterval = tuple[datetime, datetime | None]


@dataclass(frozen=True)
class SlaTargets:
    """Targets of one priority, in minutes of counted time."""

    response_minutes: int
    resolution_minutes: int


@dataclass(frozen=True)
class SlaPolicy:
    """Targets per priority, the at-risk threshold, and the priorities that count around the
    clock on systems with vagtordning."""

    targets: Mapping[str, SlaTargets] = field(hash=False)
    at_risk_fraction: float
    around_the_clock: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not 0 < self.at_risk_fraction < 1:
            raise ConfigError(f"at_risk_fraction {self.at_risk_fraction} is not between 0 and 1")
        unknown = set(self.around_the_clock) - set(self.targets)
        if unknown:
            raise ConfigError(f"around-the-clock priorities without targets: {sorted(unknown)}")
        object.__setattr__(self, "around_the_clock", frozenset(self.around_the_clock))

    def targets_for(self, priority: str) -> SlaTargets:
        """The targets of ``priority``; ValueError for a priority without targets."""
        try:
            return self.targets[priority]
        except KeyError:
            raise ValueError(f"no SLA targets for priority {priority!r}") from None

    def clock_for(self, priority: str, *, vagtordning: bool) -> ClockKind:
        """Which time a ticket of ``priority`` counts; ``vagtordning``: whether the system's
        vagtordning covers the ticket (``domain.paging.vagtordning_covers``), not merely whether
        the system has one: a test environment's P1 nobody is called out for counts business
        time."""
        if vagtordning and priority in self.around_the_clock:
            return "around_the_clock"
        return "business_hours"


# -- loading ------------------------------------------------------------------------------------

_TOP_KEYS = ("targets", "at_risk_fraction", "around_the_clock_priorities")
_TARGET_KEYS = ("response_minutes", "resolution_minutes")


def _line_of(node: yaml.Node | None, path: Sequence[str]) -> int | None:
    """The 1-based line of the key at ``path`` (mapping keys) in a composed YAML tree, or of
    the deepest part of the path that exists."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in path:
        if not isinstance(node, yaml.MappingNode):
            break
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
                node, line = value_node, key_node.start_mark.line + 1
                break
        else:
            break
    return line


def _is_positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def load_sla_policy(path: str | Path) -> SlaPolicy:
    """Read and validate an SLA policy file (``config/sla.yaml``).

    Every priority P1..P5 needs positive whole ``response_minutes`` and ``resolution_minutes``
    (response no later than resolution), ``at_risk_fraction`` lies strictly between 0 and 1, and
    ``around_the_clock_priorities`` lists known priorities. Raises ConfigError naming the file,
    the line, the entry and what is wrong.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the SLA policy: {exc.strerror or exc}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: not valid YAML: {problem}") from None

    def fail(entry: Sequence[str], reason: str) -> ConfigError:
        line = _line_of(root, entry)
        where = f"{path}:{line}" if line is not None else str(path)
        return ConfigError(f"{where}: {'.'.join(entry) or 'file'}: {reason}")

    if not isinstance(data, dict):
        raise fail((), "must be a mapping with keys " + ", ".join(_TOP_KEYS))
    for key in data:
        if key not in _TOP_KEYS:
            raise fail((str(key),), f"unknown key; expected {', '.join(_TOP_KEYS)}")
    for key in _TOP_KEYS:
        if key not in data:
            raise fail((), f"missing {key!r}")

    raw_targets = data["targets"]
    if not isinstance(raw_targets, dict):
        raise fail(("targets",), "must map each priority P1..P5 to its targets")
    for priority in raw_targets:
        if priority not in PRIORITIES:
            raise fail(("targets", str(priority)), f"unknown priority; expected {PRIORITIES}")
    targets: dict[str, SlaTargets] = {}
    for priority in PRIORITIES:
        entry = raw_targets.get(priority)
        if entry is None:
            raise fail(("targets",), f"missing priority {priority}")
        if not isinstance(entry, dict):
            raise fail(("targets", priority), "must have response_minutes and resolution_minutes")
        for key in entry:
            if key not in _TARGET_KEYS:
                raise fail(("targets", priority, str(key)), "unknown key")
        for key in _TARGET_KEYS:
            if key not in entry:
                raise fail(("targets", priority), f"missing {key}")
            if not _is_positive_int(entry[key]):
                raise fail(
                    ("targets", priority, key),
                    f"must be a positive whole number of minutes, got {entry[key]!r}",
                )
        if entry["response_minutes"] > entry["resolution_minutes"]:
            raise fail(
                ("targets", priority, "response_minutes"),
                "must not exceed resolution_minutes",
            )
        targets[priority] = SlaTargets(entry["response_minutes"], entry["resolution_minutes"])

    fraction = data["at_risk_fraction"]
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction < 1:
        raise fail(("at_risk_fraction",), f"must be a number between 0 and 1, got {fraction!r}")

    around = data["around_the_clock_priorities"]
    if around is None:
        around = []
    if not isinstance(around, list) or any(p not in PRIORITIES for p in around):
        raise fail(
            ("around_the_clock_priorities",),
            f"must be a list of priorities from {PRIORITIES}, got {around!r}",
        )
    return SlaPolicy(
        targets=targets, at_risk_fraction=float(fraction), around_the_clock=frozenset(around)
    )


# -- clocks -------------------------------------------------------------------------------------


def _require_aware(name: str, instant: datetime | None) -> None:
    if instant is not None and (instant.tzinfo is None or instant.utcoffset() is None):
        raise ValueError(f"{name} is a naive datetime: pass a time-zone-aware instant")


def _as_utc(name: str, instant: datetime) -> datetime:
    # Aware datetimes sharing a ZoneInfo subtract and compare by wall clock (wrong across DST);
    # in UTC they subtract and compare as real instants.
    _require_aware(name, instant)
    return instant.astimezone(UTC)


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class SlaStatus:
    """Where a ticket stands against its targets at one instant.

    ``elapsed_business_seconds`` is the counted time (business or real, per ``clock``) from the
    start until resolution or now, paused time excluded. Due times are None only when the
    calendar never has working time.
    """

    response_due_at: datetime | None
    resolution_due_at: datetime | None
    paused: bool
    response_breached: bool
    resolution_breached: bool
    at_risk: bool
    elapsed_business_seconds: float
    clock: ClockKind

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: instants as ISO 8601 strings in UTC."""
        return {
            "response_due_at": _iso(self.response_due_at),
            "resolution_due_at": _iso(self.resolution_due_at),
            "paused": self.paused,
            "response_breached": self.response_breached,
            "resolution_breached": self.resolution_breached,
            "at_risk": self.at_risk,
            "elapsed_business_seconds": self.elapsed_business_seconds,
            "clock": self.clock,
        }


def _merged_pauses(
    paused_intervals: Iterable[PausedInterval], started_at: datetime, limit: datetime
) -> list[tuple[datetime, datetime]]:
    """Paused intervals clipped to [started_at, limit], open ones ending at ``limit``, sorted
    and with overlaps joined so no time is discounted twice."""
    clipped = []
    for pause_start, pause_end in paused_intervals:
        lo = max(_as_utc("paused interval start", pause_start), started_at)
        hi = limit if pause_end is None else min(_as_utc("paused interval end", pause_end), limit)
        if lo < hi:
            clipped.append((lo, hi))
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in sorted(clipped):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


@dataclass(frozen=True)
class _ClockRun:
    due_at: datetime | None
    elapsed_seconds: float


def _run_clock(
    target_seconds: int,
    started_at: datetime,
    stopped_at: datetime,
    pauses: list[tuple[datetime, datetime]],
    counted: Callable[[datetime, datetime], float],
    advance: Callable[[datetime, float], datetime | None],
) -> _ClockRun:
    """Walk the running stretches between pauses up to ``stopped_at``: the counted time, and
    where the target is reached (after the last stretch: as if running on from its start)."""
    remaining = float(target_seconds)
    due_at: datetime | None = None
    elapsed = 0.0
    cursor = started_at
    for pause_start, pause_end in pauses:
        counted_here = counted(cursor, pause_start)
        if due_at is None:
            if counted_here >= remaining:
                due_at = advance(cursor, remaining)
            else:
                remaining -= counted_here
        elapsed += counted_here
        cursor = pause_end
    if cursor < stopped_at:
        elapsed += counted(cursor, stopped_at)
    if due_at is None:
        due_at = advance(cursor, remaining)
    return _ClockRun(due_at=due_at, elapsed_seconds=elapsed)


def sla_status(
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    *,
    priority: str,
    vagtordning: bool,
    started_at: datetime,
    now: datetime,
    paused_intervals: Sequence[PausedInterval],
    responded_at: datetime | None,
    resolved_at: datetime | None,
) -> SlaStatus:
    """The SLA status at ``now`` of a ticket whose clock started at ``started_at``.

    ``vagtordning``: whether the system's vagtordning covers the ticket
    (``domain.paging.vagtordning_covers``). ``paused_intervals`` are (start, end) pairs, end
    None while still paused. The response
    clock stops at ``responded_at``, the resolution clock at ``resolved_at``; a clock is
    breached when it stopped (or, still running, ``now`` is) later than its due time, and at
    risk when still running, not breached, with at least ``at_risk_fraction`` of its target used.
    """
    started_at, now = _as_utc("started_at", started_at), _as_utc("now", now)
    if responded_at is not None:
        responded_at = _as_utc("responded_at", responded_at)
    if resolved_at is not None:
        resolved_at = _as_utc("resolved_at", resolved_at)
    targets = policy.targets_for(priority)
    clock = policy.clock_for(priority, vagtordning=vagtordning)

    seen: dict[tuple[datetime, datetime], float] = {}

    def counted(lo: datetime, hi: datetime) -> float:
        if clock == "around_the_clock":
            return max(0.0, (hi - lo).total_seconds())
        # both clocks usually count the same stretches (start to now): count each once
        found = seen.get((lo, hi))
        if found is None:
            found = seen[lo, hi] = calendar.working_seconds_between(lo, hi)
        return found

    def advance(lo: datetime, seconds: float) -> datetime | None:
        if clock == "around_the_clock":
            return lo + timedelta(seconds=seconds)
        return calendar.add_working_time(lo, seconds)

    def run(target_minutes: int, stopped_at: datetime | None) -> tuple[_ClockRun, bool, bool]:
        limit = min(stopped_at, now) if stopped_at is not None else now
        limit = max(limit, started_at)
        pauses = _merged_pauses(paused_intervals, started_at, limit)
        result = _run_clock(target_minutes * 60, started_at, limit, pauses, counted, advance)
        breached = result.due_at is not None and (stopped_at or now) > result.due_at
        at_risk = (
            stopped_at is None
            and not breached
            and result.due_at is not None
            and result.elapsed_seconds >= policy.at_risk_fraction * target_minutes * 60
        )
        return result, breached, at_risk

    response, response_breached, response_at_risk = run(targets.response_minutes, responded_at)
    resolution, resolution_breached, resolution_at_risk = run(
        targets.resolution_minutes, resolved_at
    )
    paused = any(
        pause_end is None and _as_utc("paused interval start", pause_start) <= now
        for pause_start, pause_end in paused_intervals
    )
    return SlaStatus(
        response_due_at=response.due_at,
        resolution_due_at=resolution.due_at,
        paused=paused,
        response_breached=response_breached,
        resolution_breached=resolution_breached,
        at_risk=response_at_risk or resolution_at_risk,
        elapsed_business_seconds=resolution.elapsed_seconds,
        clock=clock,
    )


@dataclass(frozen=True)
class SlaClock:
    """The SLA state kept on a ticket: when it started, its pauses, response and resolution.

    Pauses are kept as intervals rather than a running total so the counted time can be
    recomputed when the priority, vagtordning or the calendar changes.
    """

    started_at: datetime
    paused_intervals: tuple[PausedInterval, ...] = ()
    responded_at: datetime | None = None
    resolved_at: datetime | None = None

    @property
    def paused_since(self) -> datetime | None:
        """When the current pause began, or None while running."""
        if self.paused_intervals and self.paused_intervals[-1][1] is None:
            return self.paused_intervals[-1][0]
        return None

    def pause(self, at: datetime) -> SlaClock:
        """The clock paused from ``at`` (unchanged if already paused)."""
        _require_aware("at", at)
        if self.paused_since is not None:
            return self
        return replace(self, paused_intervals=(*self.paused_intervals, (at, None)))

    def resume(self, at: datetime) -> SlaClock:
        """The clock running again from ``at`` (unchanged if not paused)."""
        _require_aware("at", at)
        since = self.paused_since
        if since is None:
            return self
        return replace(self, paused_intervals=(*self.paused_intervals[:-1], (since, at)))

    def respond(self, at: datetime) -> SlaClock:
        """The first response recorded at ``at``; a later response does not move it."""
        _require_aware("at", at)
        return self if self.responded_at is not None else replace(self, responded_at=at)

    def resolve(self, at: datetime) -> SlaClock:
        """The resolution recorded at ``at``."""
        _require_aware("at", at)
        return replace(self, resolved_at=at)

    def status(
        self,
        policy: SlaPolicy,
        calendar: BusinessCalendar,
        *,
        priority: str,
        vagtordning: bool,
        now: datetime,
    ) -> SlaStatus:
        """``sla_status`` of this clock at ``now``."""
        return sla_status(
            policy,
            calendar,
            priority=priority,
            vagtordning=vagtordning,
            started_at=self.started_at,
            now=now,
            paused_intervals=list(self.paused_intervals),
            responded_at=self.responded_at,
            resolved_at=self.resolved_at,
        )
