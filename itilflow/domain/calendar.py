"""The business calendar: working hours in a time zone, public holidays and extra closed days.

Working hours are wall-clock windows in the calendar's time zone, half open ``[start, end)``:
08:00:00 is working time, 16:00:00 is not. An instant is working time when its local date is a
working day and its local wall-clock time lies inside one of that weekday's windows. Elapsed
business time is real elapsed time spent inside windows, so across DST a ``00:00-24:00`` day lasts
23 h (spring forward) or 25 h (fall back), and a window that falls into the skipped hour is short.

Closed: the public holidays of the ``holidays`` package for the country (its default category;
for DK that excludes the optional observances Christmas Eve, New Year's Eve, Constitution Day
and 1 May) plus the extra ``closed_days``. A customer that also closes on 24 and 31 December
adds them through ``ITILFLOW_CLOSED_DAYS``; a day closed from noon (Constitution Day, 5 June, at
a state employer) is ``2026-06-05 from 12:00`` there: its working time ends at 12:00.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as pyholidays

from itilflow.domain.errors import ConfigError

DEFAULT_TIMEZONE = "Europe/Copenhagen"
DEFAULT_WORKING_HOURS = "mon-fri 08:00-16:00"
DEFAULT_HOLIDAY_COUNTRY = "DK"

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_DAY = 24 * 60

# Working hours per weekday (0 = Monday): sorted, non-overlapping [start, end) in minutes.
WorkingHours = Mapping[int, Sequence[tuple[int, int]]]

_US = 1_000_000  # all internal arithmetic is in integer microseconds since the epoch: exact
_DAY_US = 86_400 * _US
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_ONE_DAY = timedelta(days=1)
# A schedule with windows finds one within a year unless closed_days lists a whole year of them.
_MAX_IDLE_DAYS = 400
# The per-day lookup tables below are dropped when they grow past this many days (they are
# only caches; a list page touches a few hundred days).
_CACHE_DAYS = 50_000

_ITEM = re.compile(
    r"^(?P<first>[a-z]+)(?:\s*-\s*(?P<last>[a-z]+))?\s+"
    r"(?P<windows>\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2}(?:\s+\d{1,2}:\d{2}\s*-\s*\d{1,2}:\d{2})*)$"
)
_WINDOW = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CLOSES_FROM = re.compile(r"^(?P<day>\d{4}-\d{2}-\d{2})\s+from\s+(?P<hour>\d{1,2}):(?P<minute>\d{2})$")


def _format_minutes(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _parse_clock(hours: str, minutes: str, *, item: str) -> int:
    h, m = int(hours), int(minutes)
    if m > 59 or h > 24 or (h == 24 and m != 0):
        raise ConfigError(f"working hours: {hours}:{minutes} in {item!r} is not a time of day")
    return h * 60 + m


def _weekday(name: str, *, item: str) -> int:
    try:
        return WEEKDAYS.index(name)
    except ValueError:
        raise ConfigError(
            f"working hours: unknown day {name!r} in {item!r}; use {', '.join(WEEKDAYS)}"
        ) from None


def parse_working_hours(spec: str) -> dict[int, list[tuple[int, int]]]:
    """Parse a working-hours spec into windows per weekday (0 = Monday), in minutes.

    ``"mon-thu 08:00-16:00, fri 08:00-15:30"``: a comma list of a day or day range followed by
    one or more ``HH:MM-HH:MM`` windows; ``24:00`` ends a day, so ``"mon-sun 00:00-24:00"`` is
    always. An empty spec means never. Windows of one day may touch (they are joined) but not
    overlap. Raises ConfigError naming the bad part.
    """
    week: dict[int, list[tuple[int, int]]] = {day: [] for day in range(7)}
    if not spec.strip():
        return week
    for raw_item in spec.split(","):
        item = " ".join(raw_item.split()).lower()
        if not item:
            raise ConfigError(f"working hours: empty entry in {spec!r}")
        match = _ITEM.match(item)
        if match is None:
            raise ConfigError(
                f"working hours: cannot read {raw_item.strip()!r}; "
                "expected e.g. 'mon-fri 08:00-16:00' or 'sat 09:00-12:00'"
            )
        first = _weekday(match["first"], item=item)
        last = _weekday(match["last"], item=item) if match["last"] else first
        if last < first:
            raise ConfigError(
                f"working hours: day range in {item!r} runs backwards (weeks run mon to sun)"
            )
        windows = []
        for start_h, start_m, end_h, end_m in _WINDOW.findall(match["windows"]):
            start = _parse_clock(start_h, start_m, item=item)
            end = _parse_clock(end_h, end_m, item=item)
            if start >= end:
                raise ConfigError(
                    f"working hours: window {_format_minutes(start)}-{_format_minutes(end)} "
                    f"in {item!r} must end after it starts (split overnight windows in two)"
                )
            windows.append((start, end))
        for day in range(first, last + 1):
            week[day].extend(windows)
    for day, windows in week.items():
        week[day] = _join_windows(windows, day_name=WEEKDAYS[day])
    return week


def _join_windows(windows: Sequence[tuple[int, int]], *, day_name: str) -> list[tuple[int, int]]:
    """Sort a day's windows, join touching ones, refuse overlapping ones."""
    joined: list[tuple[int, int]] = []
    for start, end in sorted(windows):
        if joined and start < joined[-1][1]:
            previous = joined[-1]
            raise ConfigError(
                f"working hours: {day_name} windows "
                f"{_format_minutes(previous[0])}-{_format_minutes(previous[1])} and "
                f"{_format_minutes(start)}-{_format_minutes(end)} overlap"
            )
        if joined and start == joined[-1][1]:
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    return joined


def parse_closures(spec: str) -> tuple[frozenset[date], Mapping[date, int]]:
    """Parse ``"2026-12-24, 2026-12-31, 2026-06-05 from 12:00"``: the dates closed all day, and
    the dates closed from a time of day (minutes after midnight). Empty means none. Raises
    ConfigError naming the item."""
    days: set[date] = set()
    from_time: dict[date, int] = {}
    for raw in spec.split(","):
        text = raw.strip()
        if not text:
            continue
        partial = _CLOSES_FROM.match(text)
        try:
            if partial is None and not _ISO_DATE.match(text):
                raise ValueError
            day = date.fromisoformat(partial["day"] if partial else text)
        except ValueError:
            raise ConfigError(f"closed days: {text!r} is not a date written YYYY-MM-DD, or "
                              "YYYY-MM-DD from HH:MM") from None
        if partial is None:
            days.add(day)
            continue
        hour, minute = int(partial["hour"]), int(partial["minute"])
        if hour > 23 or minute > 59:
            raise ConfigError(f"closed days: {text!r} has no time of day HH:MM")
        from_time[day] = min(from_time.get(day, MINUTES_PER_DAY), hour * 60 + minute)
    return frozenset(days), MappingProxyType(
        {day: minutes for day, minutes in from_time.items() if day not in days})


def parse_closed_days(spec: str) -> frozenset[date]:
    """The dates ``spec`` closes all day (see ``parse_closures``)."""
    return parse_closures(spec)[0]


def _to_us(instant: datetime) -> int:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"naive datetime {instant.isoformat()}: pass a time-zone-aware instant")
    return (instant - _EPOCH) // timedelta(microseconds=1)


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


@dataclass(frozen=True)
class BusinessCalendar:
    """When work happens: weekly wall-clock windows in ``timezone``, minus holidays and closed days.

    Holidays are the ``holidays`` package's public holidays for ``holiday_country`` (None or ""
    for none); extra closures such as 24 and 31 December go in ``closed_days``. All instants
    taken must be time-zone aware; instants returned are in UTC.
    """

    timezone: str = DEFAULT_TIMEZONE
    working_hours: WorkingHours = field(
        default_factory=lambda: parse_working_hours(DEFAULT_WORKING_HOURS), hash=False
    )
    holiday_country: str | None = DEFAULT_HOLIDAY_COUNTRY
    closed_days: frozenset[date] = frozenset()
    #: dates whose working time ends early: minutes after local midnight from which it is closed
    closes_early: Mapping[date, int] = field(default_factory=dict, hash=False)
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _windows_us: tuple[tuple[tuple[int, int], ...], ...] = field(
        init=False, repr=False, compare=False
    )
    _holidays_by_year: dict[int, Mapping[date, str]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    #: per year, the running total of working microseconds at the start of each local day
    _year_totals: dict[int, list[int]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    # Lookup tables filled as days are first met (a lost race only computes an entry twice):
    #: per UTC day number, (first instant of the new offset, offset before, offset after)
    _offsets: dict[int, tuple[int, int, int]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    #: per local day number, that day's working windows (empty on a day off)
    _day_windows: dict[int, tuple[tuple[int, int], ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    #: per local date, its working time as UTC intervals
    _day_intervals: dict[date, tuple[tuple[int, int], ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    #: per local date, its local midnight in microseconds since the epoch
    _midnights: dict[date, int] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        try:
            zone = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"timezone: unknown time zone {self.timezone!r}") from None
        week: dict[int, list[tuple[int, int]]] = {day: [] for day in range(7)}
        week |= {day: list(windows) for day, windows in self.working_hours.items()}
        if set(week) != set(range(7)):
            raise ConfigError("working hours: weekdays are numbered 0 (Monday) to 6 (Sunday)")
        for day, windows in week.items():
            for start, end in windows:
                if not 0 <= start < end <= MINUTES_PER_DAY:
                    raise ConfigError(f"working hours: bad window {(start, end)} on day {day}")
            week[day] = _join_windows(windows, day_name=WEEKDAYS[day])
        country = (self.holiday_country or "").strip().upper() or None
        if country is not None:
            try:
                pyholidays.country_holidays(country)
            except NotImplementedError:  # the holidays package's answer for an unknown country
                raise ConfigError(
                    f"holidays: no holiday calendar for country {country!r}"
                ) from None
        object.__setattr__(self, "holiday_country", country)
        object.__setattr__(self, "closed_days", frozenset(self.closed_days))
        object.__setattr__(self, "closes_early", MappingProxyType(dict(self.closes_early)))
        object.__setattr__(
            self,
            "working_hours",
            MappingProxyType({day: tuple(windows) for day, windows in week.items()}),
        )
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(
            self,
            "_windows_us",
            tuple(
                tuple((start * 60 * _US, end * 60 * _US) for start, end in week[day])
                for day in range(7)
            ),
        )

    @classmethod
    def from_settings(
        cls, timezone: str, working_hours: str, holidays: str, closed_days: str
    ) -> BusinessCalendar:
        """Build from the ``ITILFLOW_TIMEZONE``, ``_WORKING_HOURS``, ``_HOLIDAYS`` and
        ``_CLOSED_DAYS`` strings. Raises ConfigError naming the bad setting."""
        whole_days, closes_early = parse_closures(closed_days)
        return cls(
            timezone=timezone.strip(),
            working_hours=parse_working_hours(working_hours),
            holiday_country=holidays.strip().upper() or None,
            closed_days=whole_days,
            closes_early=closes_early,
        )

    @property
    def has_working_time(self) -> bool:
        """False when the schedule has no windows at all (always after hours)."""
        return any(self._windows_us)

    def holiday_name(self, d: date) -> str | None:
        """The public holiday's name (English) on ``d``, or None; closed_days are not named."""
        if self.holiday_country is None:
            return None
        by_date = self._holidays_by_year.get(d.year)
        if by_date is None:
            # One lookup table per year, filled once; a lost race only computes it twice.
            by_date = MappingProxyType(
                dict(
                    pyholidays.country_holidays(
                        self.holiday_country, years=d.year, language="en_US"
                    )
                )
            )
            self._holidays_by_year[d.year] = by_date
        return by_date.get(d)

    def is_working_day(self, d: date) -> bool:
        """True when ``d`` has working hours and is neither a public holiday nor closed."""
        return (
            bool(self._windows_us[d.weekday()])
            and d not in self.closed_days
            and self.holiday_name(d) is None
        )

    def is_working_time(self, instant: datetime) -> bool:
        """True when the aware ``instant`` falls inside a working window (local wall clock)."""
        _to_us(instant)
        local = instant.astimezone(self._zone)
        wall = (local.hour * 3600 + local.minute * 60 + local.second) * _US + local.microsecond
        windows = self._windows_of_day(local.date().toordinal() - _EPOCH_ORDINAL)
        return any(start <= wall < end for start, end in windows)

    def next_working_instant(self, instant: datetime) -> datetime | None:
        """``instant`` itself (in UTC) if it is working time, else the start of the next window;
        None if the calendar never has working time."""
        for start, _end in self._working_intervals(_to_us(instant), None):
            return _from_us(start)
        return None

    def working_time_ends(self, instant: datetime) -> datetime | None:
        """The end (UTC) of the working time ``instant`` falls in: the first instant after it
        that is not working time (windows that meet, e.g. one to midnight and the next day's
        from midnight, are one stretch). None when ``instant`` is not working time, or when
        working time does not end within ``_MAX_IDLE_DAYS`` (a calendar that is always open)."""
        start = _to_us(instant)
        limit = start + _MAX_IDLE_DAYS * _DAY_US
        end: int | None = None
        for lo, hi in self._working_intervals(start, limit):
            if end is None and lo > start:
                return None  # not working time now
            if end is not None and lo > end:
                break
            end = hi
        if end is None or end >= limit:
            return None
        return _from_us(end)

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        """Real seconds from ``start`` to ``end`` that fall in working time; 0 if end <= start."""
        return self._working_us_between(_to_us(start), _to_us(end)) / _US

    def add_working_time(self, start: datetime, seconds: float) -> datetime | None:
        """The instant (UTC) at which ``seconds`` of working time have passed since ``start``.

        Zero gives ``start`` itself; a target used up exactly at a window's end gives that end.
        None if the calendar never has working time. Inverse of ``working_seconds_between``.
        """
        if seconds < 0:
            raise ValueError("cannot add a negative amount of working time")
        start_us = _to_us(start)
        remaining = round(seconds * _US)
        if remaining == 0:
            return _from_us(start_us)
        found = self._add_us_by_totals(start_us, remaining)
        if found is None:
            found = self._add_us_by_walk(start_us, remaining)
        return None if found is None else _from_us(found)

    # -- internals --------------------------------------------------------------------------
    #
    # Two ways to the same answers: the walk (``_working_intervals``), which goes from chunk to
    # chunk of local time, and the tables built from it once per local day (its working
    # intervals) and once per year (running totals at each local midnight). The clocks of a
    # page of tickets read the tables; the walk stays the reference (the tests compare them).

    def _working_us_between(self, start: int, end: int) -> int:
        """Working microseconds in [start, end): the first and last local days from their
        interval tables, the whole days between from the per-year running totals, so a span
        of a year costs about what a span of two days does."""
        if end <= start:
            return 0
        first_day = self._day_of(start)
        last_day = self._day_of(end)
        if first_day is None or last_day is None:
            return self._walk_us(start, end)
        if first_day == last_day:
            return self._clipped_us(first_day, start, end)
        return (self._clipped_us(first_day, start, None)
                + self._whole_days_us(first_day + _ONE_DAY, last_day)
                + self._clipped_us(last_day, None, end))

    def _walk_us(self, start: int, end: int) -> int:
        return sum(hi - lo for lo, hi in self._working_intervals(start, end))

    def _add_us_by_walk(self, start: int, remaining: int) -> int | None:
        for lo, hi in self._working_intervals(start, None):
            if hi - lo >= remaining:
                return lo + remaining
            remaining -= hi - lo
        return None

    def _add_us_by_totals(self, start: int, remaining: int) -> int | None:
        """``_add_us_by_walk`` for targets reached within the rest of this year and the next:
        the first day from its table, the day the target falls on found by bisecting the
        per-year running totals, that day from its table. None when the target lies further
        out (or the day of ``start`` is not plain), for the walk to answer."""
        first_day = self._day_of(start)
        if first_day is None:
            return None
        for lo, hi in self._intervals_of_day(first_day):
            if hi <= start:
                continue
            lo = max(lo, start)
            if hi - lo >= remaining:
                return lo + remaining
            remaining -= hi - lo
        day = first_day + _ONE_DAY
        for _year in range(2):
            year_start = date(day.year, 1, 1)
            totals = self._totals_of_year(day.year)
            base = totals[(day - year_start).days]
            j = bisect_left(totals, base + remaining)
            if j < len(totals):
                # reached during the local day j - 1 (counted from 1 January)
                remaining = base + remaining - totals[j - 1]
                for lo, hi in self._intervals_of_day(year_start + timedelta(days=j - 1)):
                    if hi - lo >= remaining:
                        return lo + remaining
                    remaining -= hi - lo
                raise AssertionError("per-year totals disagree with the day tables")
            remaining -= totals[-1] - base
            day = date(day.year + 1, 1, 1)
        return None

    def _clipped_us(self, day: date, lo_limit: int | None, hi_limit: int | None) -> int:
        total = 0
        for lo, hi in self._intervals_of_day(day):
            if lo_limit is not None and lo < lo_limit:
                lo = lo_limit
            if hi_limit is not None and hi > hi_limit:
                hi = hi_limit
            if lo < hi:
                total += hi - lo
        return total

    def _intervals_of_day(self, day: date) -> tuple[tuple[int, int], ...]:
        """The working time of local ``day`` (local midnight to local midnight) as UTC
        [lo, hi) intervals, walked once and kept."""
        found = self._day_intervals.get(day)
        if found is None:
            if len(self._day_intervals) > _CACHE_DAYS:
                self._day_intervals.clear()
            found = tuple(self._working_intervals(self._local_midnight_us(day),
                                                  self._local_midnight_us(day + _ONE_DAY)))
            self._day_intervals[day] = found
        return found

    def _day_of(self, us: int) -> date | None:
        """The local date of ``us`` when ``us`` lies between that date's local midnight and the
        next one (always, but in zones whose clocks jump across midnight); else None."""
        day = date.fromordinal(_EPOCH_ORDINAL + (us + self._offset_us(us)) // _DAY_US)
        if self._local_midnight_us(day) <= us < self._local_midnight_us(day + _ONE_DAY):
            return day
        return None

    def _local_midnight_us(self, day: date) -> int:
        midnight = self._midnights.get(day)
        if midnight is None:
            if len(self._midnights) > _CACHE_DAYS:
                self._midnights.clear()
            midnight = _to_us(datetime(day.year, day.month, day.day, tzinfo=self._zone))
            self._midnights[day] = midnight
        return midnight

    def _whole_days_us(self, first: date, stop: date) -> int:
        """Working microseconds of the local days ``first`` .. ``stop`` (exclusive)."""
        total = 0
        day = first
        while day < stop:
            year_start = date(day.year, 1, 1)
            chunk_stop = min(stop, date(day.year + 1, 1, 1))
            totals = self._totals_of_year(day.year)
            total += totals[(chunk_stop - year_start).days] - totals[(day - year_start).days]
            day = chunk_stop
        return total

    def _totals_of_year(self, year: int) -> list[int]:
        totals = self._year_totals.get(year)
        if totals is None:
            # Filled once per year; a lost race only computes it twice.
            totals = [0]
            day = date(year, 1, 1)
            while day.year == year:
                totals.append(totals[-1] + sum(hi - lo for lo, hi in self._intervals_of_day(day)))
                day += _ONE_DAY
            self._year_totals[year] = totals
        return totals

    def _zone_offset_us(self, us: int) -> int:
        offset = _from_us(us).astimezone(self._zone).utcoffset()
        assert offset is not None
        return offset // timedelta(microseconds=1)

    def _offset_us(self, us: int) -> int:
        """The zone's UTC offset at ``us``, from a table per UTC day: like the day walk, it
        takes at most one offset change per day (true of every zone since 1970)."""
        utc_day = us // _DAY_US
        entry = self._offsets.get(utc_day)
        if entry is None:
            if len(self._offsets) > _CACHE_DAYS:
                self._offsets.clear()
            lo = utc_day * _DAY_US
            hi = lo + _DAY_US - 1
            before, after = self._zone_offset_us(lo), self._zone_offset_us(hi)
            if before == after:
                entry = (hi + 1, before, after)
            else:
                entry = (self._first_offset_change(lo, hi, before, self._zone_offset_us),
                         before, after)
            self._offsets[utc_day] = entry
        change, before, after = entry
        return before if us < change else after

    def _windows_of_day(self, day_number: int) -> tuple[tuple[int, int], ...]:
        """The working windows of local day ``day_number`` (days since 1970-01-01), or ()."""
        windows = self._day_windows.get(day_number)
        if windows is None:
            if len(self._day_windows) > _CACHE_DAYS:
                self._day_windows.clear()
            day = date.fromordinal(_EPOCH_ORDINAL + day_number)
            windows = self._windows_us[day.weekday()] if self.is_working_day(day) else ()
            closes = self.closes_early.get(day)
            if closes is not None:  # a day closed from a time of day: its windows end there
                limit = closes * 60 * _US
                windows = tuple((lo, min(hi, limit)) for lo, hi in windows if lo < limit)
            self._day_windows[day_number] = windows
        return windows

    def _working_intervals(self, start: int, end: int | None) -> Iterator[tuple[int, int]]:
        """Working time from ``start`` (to ``end`` if given) as ordered UTC [lo, hi) intervals.

        Walks the local days one chunk at a time; a chunk is a local day, or the part of it
        before or after a UTC-offset change, so inside it local time = UTC + one fixed offset.
        """
        if not self.has_working_time:
            return
        cursor = start
        last_found_day = (start + self._offset_us(start)) // _DAY_US
        while end is None or cursor < end:
            offset = self._offset_us(cursor)
            local = cursor + offset
            day_number = local // _DAY_US
            chunk_end = (day_number + 1) * _DAY_US - offset
            if self._offset_us(chunk_end - 1) != offset:
                chunk_end = self._first_offset_change(cursor, chunk_end - 1, offset)
            if end is not None:
                chunk_end = min(chunk_end, end)
            day_base = day_number * _DAY_US
            for window_start, window_end in self._windows_of_day(day_number):
                lo = max(day_base + window_start - offset, cursor)
                hi = min(day_base + window_end - offset, chunk_end)
                if lo < hi:
                    last_found_day = day_number
                    yield lo, hi
            if end is None and day_number - last_found_day > _MAX_IDLE_DAYS:
                return
            cursor = chunk_end

    def _first_offset_change(self, lo: int, hi: int, offset: int, probe=None) -> int:
        """The first microsecond in (lo, hi] whose UTC offset differs from ``offset``
        (at ``lo`` it is ``offset``, at ``hi`` it is not), asking ``probe`` (default: the
        cached offsets) for the offset at an instant."""
        probe = probe or self._offset_us
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if probe(mid) == offset:
                lo = mid
            else:
                hi = mid
        return hi
