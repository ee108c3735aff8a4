"""The figures of the monthly standard report: pure functions over instants and durations.

Availability of a system is measured against its service window: around the clock for systems
with vagtordning, the working time of the business calendar for the others. Outages are clipped
to the report period and to the window, and overlapping outages of one system count once.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from statistics import median
from zoneinfo import ZoneInfo

from itilflow.domain.calendar import BusinessCalendar
from itilflow.domain.errors import ValidationError

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = 1_000_000

Interval = tuple[datetime, datetime]


#: the years a report may cover
YEARS = (1970, 2999)


def parse_month(text: object) -> tuple[int, int]:
    """``"YYYY-MM"`` as (year, month); anything else is a ValidationError."""
    match = _MONTH.match(text) if isinstance(text, str) else None
    if match is None or not 1 <= int(match[2]) <= 12:
        raise ValidationError("month must be written YYYY-MM.", {"month": ["A month such as 2026-10."]})
    if not YEARS[0] <= int(match[1]) <= YEARS[1]:  # 9999-12 would end in the year 10000
        raise ValidationError("month is out of range.",
                              {"month": [f"A month from {YEARS[0]}-01 to {YEARS[1]}-12."]})
    return int(match[1]), int(match[2])


def month_bounds(year: int, month: int, timezone: str) -> Interval:
    """The calendar month in ``timezone`` as a half-open UTC interval [start, end)."""
    zone = ZoneInfo(timezone)
    start = datetime(year, month, 1, tzinfo=zone)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def previous_month(now: datetime, timezone: str) -> tuple[int, int]:
    """The calendar month before the one ``now`` falls in, locally."""
    local = now.astimezone(ZoneInfo(timezone))
    return (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)


def merge_intervals(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, with overlapping or touching intervals joined; empty ones dropped."""
    merged: list[Interval] = []
    for lo, hi in sorted(i for i in intervals if i[0] < i[1]):
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def clip_intervals(intervals: Iterable[Interval], lo: datetime, hi: datetime) -> list[Interval]:
    return merge_intervals((max(a, lo), min(b, hi)) for a, b in intervals)


@dataclass(frozen=True)
class Availability:
    window_seconds: float
    downtime_seconds: float
    outages: int

    @property
    def percent(self) -> float | None:
        """Share of the service window the system was up; None when the window is empty."""
        if self.window_seconds <= 0:
            return None
        return round(100.0 * (self.window_seconds - self.downtime_seconds) / self.window_seconds, 4)


def availability(calendar: BusinessCalendar, start: datetime, end: datetime,
                 outages: Iterable[Interval], *, around_the_clock: bool) -> Availability:
    """Availability over [start, end) of one system: outages clipped to the period, joined where
    they overlap, and counted only where they fall inside the service window."""
    merged = clip_intervals(outages, start, end)
    if around_the_clock:
        window = max(0.0, (end - start).total_seconds())
        down = sum((b - a).total_seconds() for a, b in merged)
    else:
        window = calendar.working_seconds_between(start, end)
        down = sum(calendar.working_seconds_between(a, b) for a, b in merged)
    return Availability(window_seconds=window, downtime_seconds=down, outages=len(merged))


def summary(seconds: Sequence[float]) -> dict[str, float | int | None]:
    """Count, mean and median of durations in seconds (None when there are none)."""
    if not seconds:
        return {"count": 0, "mean_seconds": None, "median_seconds": None}
    return {"count": len(seconds), "mean_seconds": round(sum(seconds) / len(seconds), 3),
            "median_seconds": round(float(median(seconds)), 3)}


def percent(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(100.0 * part / whole, 2)


def _us(instant: datetime) -> int:
    delta = instant - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds


class WorkingTimeIndex:
    """The calendar's working intervals over a span, with running totals, so that the working
    time between two instants is two binary searches instead of a walk over the days.

    Answers exactly what ``BusinessCalendar.working_seconds_between`` and ``add_working_time``
    answer for instants inside the span; outside it, it asks the calendar.
    """

    def __init__(self, calendar: BusinessCalendar, start: datetime, end: datetime) -> None:
        self.calendar = calendar
        self._lo, self._hi = _us(start), _us(end)
        # The calendar's own interval walk keeps DST days and short windows exact.
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._cum: list[int] = []  # working time before each interval's start
        total = 0
        for lo, hi in calendar._working_intervals(self._lo, self._hi):
            self._starts.append(lo)
            self._ends.append(hi)
            self._cum.append(total)
            total += hi - lo
        self._ends_cum = [c + e - s for c, s, e in zip(self._cum, self._starts, self._ends,
                                                       strict=True)]

    def _covers(self, *instants_us: int) -> bool:
        return all(self._lo <= t <= self._hi for t in instants_us)

    def _before(self, t: int) -> int:
        """Working microseconds in [span start, t)."""
        i = bisect_right(self._starts, t) - 1
        if i < 0:
            return 0
        return self._cum[i] + min(t, self._ends[i]) - self._starts[i]

    # -- integer microseconds since the epoch, for tight loops over many tickets -----------

    @staticmethod
    def to_us(instant: datetime) -> int:
        return _us(instant)

    def covers_us(self, t: int) -> bool:
        return self._lo <= t <= self._hi

    def before_us(self, t: int) -> int:
        """Working microseconds from the span's start to ``t`` (``t`` inside the span)."""
        return self._before(t)

    def due_us(self, start_before: int, target_us: int) -> int | None:
        """The instant (µs) at which ``target_us`` of working time has passed since the instant
        whose ``before_us`` is ``start_before``; None if beyond the span."""
        target = start_before + target_us
        i = bisect_left(self._ends_cum, target)
        if i >= len(self._ends_cum):
            return None
        return self._ends[i] - (self._ends_cum[i] - target)

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        a, b = _us(start), _us(end)
        if b <= a:
            return 0.0
        if not self._covers(a, b):
            return self.calendar.working_seconds_between(start, end)
        return (self._before(b) - self._before(a)) / _US

    def add_working_time(self, start: datetime, seconds: float) -> datetime | None:
        a = _us(start)
        remaining = round(seconds * _US)
        if remaining == 0:
            return start.astimezone(UTC)
        if self._covers(a) and self._starts:
            target = self._before(a) + remaining
            i = bisect_left(self._ends_cum, target)
            if i < len(self._ends_cum):
                return _EPOCH + timedelta(microseconds=self._ends[i] - (self._ends_cum[i] - target))
        return self.calendar.add_working_time(start, seconds)


def breached(due_at: datetime | None, stopped_at: datetime | None, as_of: datetime) -> bool:
    """The domain's breach rule: the clock stopped (or, still running, ``as_of`` is) after due."""
    return due_at is not None and (stopped_at or as_of) > due_at
