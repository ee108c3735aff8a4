"""SLA policy loading and SLA clocks in business time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from itilflow.domain.calendar import BusinessCalendar, parse_working_hours
from itilflow.domain.errors import ConfigError
from itilflow.domain.sla import (
    SlaClock,
    SlaPolicy,
    SlaStatus,
    SlaTargets,
    load_sla_policy,
    sla_status,
)

CPH = ZoneInfo("Europe/Copenhagen")
SLA_YAML = Path(__file__).resolve().parents[2] / "config" / "sla.yaml"
CALENDAR = BusinessCalendar()

HOUR = 3600


def local(*parts: int) -> datetime:
    """An instant given as Copenhagen wall-clock time."""
    return datetime(*parts, tzinfo=CPH)


@pytest.fixture(scope="module")
def policy() -> SlaPolicy:
    return load_sla_policy(SLA_YAML)


def status(
    policy: SlaPolicy,
    *,
    started_at: datetime,
    now: datetime,
    priority: str = "P3",
    vagtordning: bool = False,
    paused: list[tuple[datetime, datetime | None]] | None = None,
    responded_at: datetime | None = None,
    resolved_at: datetime | None = None,
    calendar: BusinessCalendar = CALENDAR,
) -> SlaStatus:
    return sla_status(
        policy,
        calendar,
        priority=priority,
        vagtordning=vagtordning,
        started_at=started_at,
        now=now,
        paused_intervals=paused or [],
        responded_at=responded_at,
        resolved_at=resolved_at,
    )


# -- the policy file ----------------------------------------------------------------------------


def test_shipped_policy(policy: SlaPolicy) -> None:
    assert policy.targets_for("P1") == SlaTargets(response_minutes=15, resolution_minutes=240)
    assert policy.targets_for("P3") == SlaTargets(response_minutes=120, resolution_minutes=1440)
    assert sorted(policy.targets) == ["P1", "P2", "P3", "P4", "P5"]
    for targets in policy.targets.values():
        assert 0 < targets.response_minutes <= targets.resolution_minutes
    assert policy.at_risk_fraction == 0.8
    assert policy.around_the_clock == {"P1", "P2"}
    with pytest.raises(ValueError, match="'P9'"):
        policy.targets_for("P9")


GOOD_TARGETS = """\
targets:
  P1: {response_minutes: 15, resolution_minutes: 240}
  P2: {response_minutes: 30, resolution_minutes: 480}
  P3: {response_minutes: 120, resolution_minutes: 1440}
  P4: {response_minutes: 480, resolution_minutes: 2400}
  P5: {response_minutes: 960, resolution_minutes: 4800}
"""
GOOD_REST = "at_risk_fraction: 0.8\naround_the_clock_priorities: [P1, P2]\n"


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (
            GOOD_TARGETS.replace("  P3: {response_minutes: 120, resolution_minutes: 1440}\n", ""),
            ":1:",
            "targets: missing priority P3",
        ),
        (
            GOOD_TARGETS.replace("response_minutes: 120", "response_minutes: -5"),
            ":4:",
            "targets.P3.response_minutes: must be a positive whole number of minutes, got -5",
        ),
        (
            GOOD_TARGETS.replace("resolution_minutes: 480", "resolution_minutes: 7.5"),
            ":3:",
            "targets.P2.resolution_minutes: must be a positive whole number",
        ),
        (
            GOOD_TARGETS.replace("resolution_minutes: 480", "resolution_minutes: true"),
            ":3:",
            "got True",
        ),
        (
            GOOD_TARGETS.replace("response_minutes: 960", "response_minutes: 9600"),
            ":6:",
            "targets.P5.response_minutes: must not exceed resolution_minutes",
        ),
        (
            GOOD_TARGETS.replace("response_minutes: 15, ", ""),
            ":2:",
            "targets.P1: missing response_minutes",
        ),
        (
            GOOD_TARGETS.replace("response_minutes: 15", "respons_minutes: 15"),
            ":2:",
            "targets.P1.respons_minutes: unknown key",
        ),
        (
            GOOD_TARGETS + "  P6: {response_minutes: 1, resolution_minutes: 2}\n",
            ":7:",
            "targets.P6: unknown priority",
        ),
    ],
)
def test_bad_targets_name_file_line_entry_and_reason(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    path = tmp_path / "sla.yaml"
    path.write_text(text + GOOD_REST)
    with pytest.raises(ConfigError) as raised:
        load_sla_policy(path)
    assert str(raised.value).startswith(f"{path}{where} ")
    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("rest", "message"),
    [
        ("at_risk_fraction: 1.0\naround_the_clock_priorities: []\n", "between 0 and 1, got 1.0"),
        ("at_risk_fraction: 0\naround_the_clock_priorities: []\n", "between 0 and 1, got 0"),
        ("at_risk_fraction: high\naround_the_clock_priorities: []\n", "got 'high'"),
        ("around_the_clock_priorities: [P1]\n", "missing 'at_risk_fraction'"),
        ("at_risk_fraction: 0.8\naround_the_clock_priorities: [P1, P7]\n", "P7"),
        ("at_risk_fraction: 0.8\naround_the_clock: [P1]\n", "around_the_clock: unknown key"),
        ("at_risk_fraction: 0.8\naround_the_clock_priorities: [P1\n", "not valid YAML"),
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, rest: str, message: str) -> None:
    path = tmp_path / "sla.yaml"
    path.write_text(GOOD_TARGETS + rest)
    with pytest.raises(ConfigError, match=str(path)) as raised:
        load_sla_policy(path)
    assert message in str(raised.value)


def test_missing_or_empty_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the SLA policy"):
        load_sla_policy(tmp_path / "nope.yaml")
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_sla_policy(tmp_path / "empty.yaml")


def test_policy_checks_its_own_values() -> None:
    targets = {"P1": SlaTargets(15, 240)}
    with pytest.raises(ConfigError, match="at_risk_fraction"):
        SlaPolicy(targets=targets, at_risk_fraction=1.5)
    with pytest.raises(ConfigError, match="P2"):
        SlaPolicy(targets=targets, at_risk_fraction=0.8, around_the_clock=frozenset({"P2"}))


# -- running clocks -----------------------------------------------------------------------------

WEDNESDAY_10 = local(2026, 3, 4, 10, 0)


def test_a_fresh_p3_ticket(policy: SlaPolicy) -> None:
    result = status(policy, started_at=WEDNESDAY_10, now=local(2026, 3, 4, 11, 0))
    assert result.response_due_at == local(2026, 3, 4, 12, 0)
    # 24 business hours: Wednesday 6 h, Thursday 8 h, Friday 8 h, Monday 2 h.
    assert result.resolution_due_at == local(2026, 3, 9, 10, 0)
    assert result.elapsed_business_seconds == HOUR
    assert result.clock == "business_hours"
    assert not (result.paused or result.at_risk)
    assert not (result.response_breached or result.resolution_breached)


def test_at_risk_from_the_fraction_of_the_target_used(policy: SlaPolicy) -> None:
    # 96 of 120 minutes is exactly the 0.8 threshold.
    assert not status(policy, started_at=WEDNESDAY_10, now=local(2026, 3, 4, 11, 35)).at_risk
    assert status(policy, started_at=WEDNESDAY_10, now=local(2026, 3, 4, 11, 36)).at_risk
    # Once responded, the response clock is no longer at risk.
    responded = status(
        policy,
        started_at=WEDNESDAY_10,
        now=local(2026, 3, 4, 11, 50),
        responded_at=local(2026, 3, 4, 11, 40),
    )
    assert not responded.at_risk and not responded.response_breached


def test_response_breached(policy: SlaPolicy) -> None:
    at_due = status(policy, started_at=WEDNESDAY_10, now=local(2026, 3, 4, 12, 0))
    assert not at_due.response_breached and at_due.at_risk
    late = status(policy, started_at=WEDNESDAY_10, now=local(2026, 3, 4, 12, 0, 1))
    assert late.response_breached and not late.resolution_breached
    assert not late.at_risk  # breached is not "at risk" any more; resolution is far off
    # A late response stays breached; a timely one never is.
    assert status(
        policy,
        started_at=WEDNESDAY_10,
        now=local(2026, 3, 6, 9, 0),
        responded_at=local(2026, 3, 4, 12, 30),
    ).response_breached
    assert not status(
        policy,
        started_at=WEDNESDAY_10,
        now=local(2026, 3, 6, 9, 0),
        responded_at=local(2026, 3, 4, 11, 59),
    ).response_breached


def test_resolution_breached_and_at_risk(policy: SlaPolicy) -> None:
    # 0.8 x 24 business hours = 19.2 h: reached on Friday at 13:12.
    friday = status(
        policy,
        started_at=WEDNESDAY_10,
        now=local(2026, 3, 6, 13, 12),
        responded_at=local(2026, 3, 4, 10, 5),
    )
    assert friday.at_risk and not friday.resolution_breached
    monday = status(
        policy,
        started_at=WEDNESDAY_10,
        now=local(2026, 3, 9, 10, 0, 1),
        responded_at=local(2026, 3, 4, 10, 5),
    )
    assert monday.resolution_breached and not monday.at_risk
    resolved_in_time = status(
        policy,
        started_at=WEDNESDAY_10,
        now=local(2026, 3, 20, 9, 0),
        responded_at=local(2026, 3, 4, 10, 5),
        resolved_at=local(2026, 3, 9, 9, 0),
    )
    assert not resolved_in_time.resolution_breached and not resolved_in_time.at_risk
    assert resolved_in_time.elapsed_business_seconds == 23 * HOUR  # stops at resolution


def test_time_outside_working_hours_does_not_count(policy: SlaPolicy) -> None:
    # Submitted on Friday evening: the clock starts on Monday morning.
    result = status(
        policy, started_at=local(2026, 3, 6, 18, 0), now=local(2026, 3, 9, 8, 30), priority="P2"
    )
    assert result.response_due_at == local(2026, 3, 9, 8, 30)
    assert result.elapsed_business_seconds == 30 * 60
    assert result.at_risk and not result.response_breached


# -- pauses -------------------------------------------------------------------------------------


def test_closed_pause_extends_due_times(policy: SlaPolicy) -> None:
    result = status(
        policy,
        started_at=WEDNESDAY_10,
        now=local(2026, 3, 4, 12, 30),
        paused=[(local(2026, 3, 4, 10, 30), local(2026, 3, 4, 11, 30))],
    )
    assert result.response_due_at == local(2026, 3, 4, 13, 0)
    assert result.resolution_due_at == local(2026, 3, 9, 11, 0)
    assert result.elapsed_business_seconds == 1.5 * HOUR
    assert not result.paused and not result.response_breached


def test_open_pause_gives_due_times_as_if_resumed_now(policy: SlaPolicy) -> None:
    result = status(
        policy,
        started_at=WEDNESDAY_10,
        now=local(2026, 3, 4, 14, 0),
        paused=[(local(2026, 3, 4, 10, 30), None)],
    )
    assert result.paused
    assert result.response_due_at == local(2026, 3, 4, 15, 30)
    assert result.elapsed_business_seconds == 0.5 * HOUR
    assert not result.response_breached and not result.at_risk
    # Paused over a weekend: resumed on Monday, the remaining 1.5 h count from then.
    monday = status(
        policy,
        started_at=WEDNESDAY_10,
        now=local(2026, 3, 9, 8, 0),
        paused=[(local(2026, 3, 4, 10, 30), None)],
    )
    assert monday.response_due_at == local(2026, 3, 9, 9, 30)


def test_a_pause_after_the_breach_does_not_undo_it(policy: SlaPolicy) -> None:
    result = status(
        policy,
        started_at=WEDNESDAY_10,
        now=local(2026, 3, 4, 15, 0),
        paused=[(local(2026, 3, 4, 12, 30), None)],
    )
    assert result.response_due_at == local(2026, 3, 4, 12, 0)
    assert result.response_breached and result.paused


def test_overlapping_pauses_count_once(policy: SlaPolicy) -> None:
    result = status(
        policy,
        started_at=WEDNESDAY_10,
        now=local(2026, 3, 4, 15, 0),
        paused=[
            (local(2026, 3, 4, 11, 0), local(2026, 3, 4, 12, 0)),
            (local(2026, 3, 4, 9, 0), local(2026, 3, 4, 10, 30)),  # before the start: clipped
            (local(2026, 3, 4, 11, 30), local(2026, 3, 4, 12, 30)),
        ],
    )
    assert result.response_due_at == local(2026, 3, 4, 14, 0)
    assert result.elapsed_business_seconds == 3 * HOUR


# -- vagtordning --------------------------------------------------------------------------------

SATURDAY_02 = local(2026, 3, 7, 2, 0)


def test_vagtordning_p1_counts_around_the_clock(policy: SlaPolicy) -> None:
    result = status(
        policy,
        started_at=SATURDAY_02,
        now=local(2026, 3, 7, 2, 10),
        priority="P1",
        vagtordning=True,
    )
    assert result.clock == "around_the_clock"
    assert result.response_due_at == local(2026, 3, 7, 2, 15)
    assert result.resolution_due_at == local(2026, 3, 7, 6, 0)
    assert result.elapsed_business_seconds == 600
    late = status(
        policy,
        started_at=SATURDAY_02,
        now=local(2026, 3, 7, 2, 16),
        priority="P1",
        vagtordning=True,
    )
    assert late.response_breached


def test_without_vagtordning_p1_waits_for_business_hours(policy: SlaPolicy) -> None:
    result = status(
        policy,
        started_at=SATURDAY_02,
        now=local(2026, 3, 7, 9, 0),
        priority="P1",
        vagtordning=False,
    )
    assert result.clock == "business_hours"
    assert result.response_due_at == local(2026, 3, 9, 8, 15)
    assert result.resolution_due_at == local(2026, 3, 9, 12, 0)
    assert result.elapsed_business_seconds == 0
    assert not result.response_breached


def test_vagtordning_p3_still_counts_business_hours(policy: SlaPolicy) -> None:
    result = status(
        policy,
        started_at=SATURDAY_02,
        now=local(2026, 3, 7, 9, 0),
        priority="P3",
        vagtordning=True,
    )
    assert result.clock == "business_hours"
    assert result.response_due_at == local(2026, 3, 9, 10, 0)


def test_around_the_clock_counts_real_time_across_dst(policy: SlaPolicy) -> None:
    # Started 01:30 CET on the spring-forward night; 03:30 CEST is one real hour later.
    result = status(
        policy,
        started_at=local(2026, 3, 29, 1, 30),
        now=local(2026, 3, 29, 3, 30),
        priority="P2",
        vagtordning=True,
    )
    assert result.resolution_due_at == local(2026, 3, 29, 10, 30)
    assert result.elapsed_business_seconds == HOUR
    assert result.resolution_due_at.tzinfo is UTC


def test_a_calendar_without_working_time_never_breaches(policy: SlaPolicy) -> None:
    never = BusinessCalendar(working_hours=parse_working_hours(""))
    result = status(
        policy, started_at=WEDNESDAY_10, now=WEDNESDAY_10 + timedelta(days=30), calendar=never
    )
    assert result.response_due_at is None and result.resolution_due_at is None
    assert not (result.response_breached or result.resolution_breached or result.at_risk)


# -- the JSON shape and the stored clock ---------------------------------------------------------


def test_as_dict_is_json_ready(policy: SlaPolicy) -> None:
    result = status(
        policy,
        started_at=WEDNESDAY_10,
        now=local(2026, 3, 4, 11, 0),
        paused=[(local(2026, 3, 4, 10, 30), None)],
    )
    assert result.as_dict() == {
        "response_due_at": "2026-03-04T11:30:00+00:00",
        "resolution_due_at": "2026-03-09T09:30:00+00:00",
        "paused": True,
        "response_breached": False,
        "resolution_breached": False,
        "at_risk": False,
        "elapsed_business_seconds": 1800.0,
        "clock": "business_hours",
    }


def test_sla_clock_records_pauses_and_answers_its_status(policy: SlaPolicy) -> None:
    clock = SlaClock(started_at=WEDNESDAY_10).pause(local(2026, 3, 4, 10, 30))
    assert clock.paused_since == local(2026, 3, 4, 10, 30)
    assert clock.pause(local(2026, 3, 4, 10, 45)) == clock
    clock = clock.resume(local(2026, 3, 4, 11, 30)).respond(local(2026, 3, 4, 12, 0))
    assert clock.paused_since is None and clock.resume(local(2026, 3, 4, 12, 0)) == clock
    assert clock.respond(local(2026, 3, 4, 13, 0)).responded_at == local(2026, 3, 4, 12, 0)
    clock = clock.resolve(local(2026, 3, 5, 9, 0))
    now = local(2026, 3, 6, 9, 0)
    result = clock.status(policy, CALENDAR, priority="P3", vagtordning=False, now=now)
    assert result == status(
        policy,
        started_at=WEDNESDAY_10,
        now=now,
        paused=[(local(2026, 3, 4, 10, 30), local(2026, 3, 4, 11, 30))],
        responded_at=local(2026, 3, 4, 12, 0),
        resolved_at=local(2026, 3, 5, 9, 0),
    )
    assert result.response_due_at == local(2026, 3, 4, 13, 0)
    assert result.elapsed_business_seconds == 6 * HOUR
    assert not (result.response_breached or result.resolution_breached or result.paused)


def test_naive_datetimes_are_refused(policy: SlaPolicy) -> None:
    with pytest.raises(ValueError, match="naive"):
        status(policy, started_at=datetime(2026, 3, 4, 10), now=local(2026, 3, 4, 11))
    with pytest.raises(ValueError, match="naive"):
        status(
            policy,
            started_at=WEDNESDAY_10,
            now=local(2026, 3, 4, 11),
            paused=[(datetime(2026, 3, 4, 10, 30), None)],
        )


def test_local_inputs_on_the_fall_back_night_are_real_instants(policy: SlaPolicy) -> None:
    # 02:30 CEST and, one real hour later, 02:30 CET: the same wall-clock time.
    first = datetime(2026, 10, 25, 2, 30, tzinfo=CPH)
    second = datetime(2026, 10, 25, 2, 30, fold=1, tzinfo=CPH)
    result = status(policy, started_at=first, now=second, priority="P1", vagtordning=True)
    assert result.elapsed_business_seconds == HOUR
    assert result.response_breached
    assert result.resolution_due_at == datetime(2026, 10, 25, 4, 30, tzinfo=UTC)  # 05:30 CET
    paused = status(
        policy,
        started_at=first,
        now=second,
        priority="P1",
        vagtordning=True,
        paused=[(first + timedelta(minutes=10), None)],
    )
    assert paused.paused and paused.elapsed_business_seconds == 10 * 60
    assert paused.response_due_at == second.astimezone(UTC) + timedelta(minutes=5)
