"""The page-or-wait decision table, retries and signatures: pure, no database, no clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from itilflow.domain import paging as p
from itilflow.domain.calendar import BusinessCalendar, parse_working_hours
from itilflow.domain.parties import Party

CAL = BusinessCalendar()  # mon-fri 08:00-16:00 Europe/Copenhagen, Danish holidays
EVERY_DAY = BusinessCalendar(working_hours=parse_working_hours("mon-sun 08:00-16:00"))


def utc(*args):
    return datetime(*args, tzinfo=UTC)


CASES = [
    # (label, calendar, instant UTC, pages when vagtordning)
    ("tuesday 10:00 working time", CAL, utc(2026, 11, 24, 9, 0), False),
    ("tuesday 20:00 evening", CAL, utc(2026, 11, 24, 19, 0), True),
    ("tuesday 06:00 early morning", CAL, utc(2026, 11, 24, 5, 0), True),
    ("saturday 11:00 weekend", CAL, utc(2026, 11, 28, 10, 0), True),
    ("christmas day 2026 11:00", CAL, utc(2026, 12, 25, 10, 0), True),
    ("ascension day 2026 11:00", CAL, utc(2026, 5, 14, 9, 0), True),
    ("former store bededag 2026 11:00 is a working day", CAL, utc(2026, 5, 1, 9, 0), False),
    ("15:59:59 last working second", CAL, utc(2026, 11, 24, 14, 59, 59), False),
    ("16:00:00 boundary minute", CAL, utc(2026, 11, 24, 15, 0), True),
    ("07:59:59 before opening", CAL, utc(2026, 11, 24, 6, 59, 59), True),
    ("08:00:00 opening", CAL, utc(2026, 11, 24, 7, 0), False),
    ("spring DST night 03:30 CEST", CAL, utc(2026, 3, 29, 1, 30), True),
    ("spring DST, every-day hours, 07:59 CEST", EVERY_DAY, utc(2026, 3, 29, 5, 59), True),
    ("spring DST, every-day hours, 08:00 CEST", EVERY_DAY, utc(2026, 3, 29, 6, 0), False),
    ("autumn DST night first 02:30", CAL, utc(2026, 10, 25, 0, 30), True),
    ("autumn DST night second 02:30", CAL, utc(2026, 10, 25, 1, 30), True),
    ("autumn DST, every-day hours, 15:59 CET", EVERY_DAY, utc(2026, 10, 25, 14, 59), False),
    ("autumn DST, every-day hours, 16:00 CET", EVERY_DAY, utc(2026, 10, 25, 15, 0), True),
]


@pytest.mark.parametrize("vagtordning", [True, False])
@pytest.mark.parametrize(("label", "calendar", "at", "pages"), CASES, ids=[c[0] for c in CASES])
def test_decision_table(label, calendar, at, pages, vagtordning):
    decision = p.decide_page(calendar, at=at, kind="incident", priority="P1",
                             environment="production", vagtordning=vagtordning, layer=None,
                             page_priorities={"P1", "P2"})
    assert decision.page is (pages and vagtordning), decision.reason
    assert decision.party is (Party.PROVIDER if decision.page else None)


EVENING = utc(2026, 11, 24, 19, 0)


@pytest.mark.parametrize(("change", "pages"), [
    ({}, True),
    ({"priority": "P2"}, True),
    ({"priority": "P3"}, False),
    ({"environment": "test"}, False),
    ({"kind": "change"}, False),
    ({"page_priorities": {"P1"}, "priority": "P2"}, False),
])
def test_other_conditions(change, pages):
    args = {"kind": "incident", "priority": "P1", "environment": "production",
            "vagtordning": True, "layer": "infrastructure", "page_priorities": {"P1", "P2"}}
    args.update(change)
    assert p.decide_page(CAL, at=EVENING, **args).page is pages


@pytest.mark.parametrize(("layer", "customer_levels", "party"), [
    (None, True, Party.PROVIDER),
    ("operating_system", True, Party.PROVIDER),
    ("infrastructure", False, Party.PROVIDER),
    ("application", True, Party.CUSTOMER),
    ("middleware", True, Party.CUSTOMER),
    ("application", False, Party.PROVIDER),
])
def test_whose_levels(layer, customer_levels, party):
    assert p.paging_party(layer, customer_has_levels=customer_levels) is party


@pytest.mark.parametrize(("status", "outcome"), [
    (200, p.DELIVERED), (202, p.DELIVERED), (None, p.RETRY), (500, p.RETRY), (503, p.RETRY),
    (429, p.RETRY), (408, p.RETRY), (400, p.DEAD), (401, p.DEAD), (404, p.DEAD),
    (301, p.DEAD), (302, p.DEAD)])
def test_classify(status, outcome):
    assert p.classify(status) == outcome


def test_backoff_grows_with_jitter_honours_retry_after_and_runs_out():
    policy = p.RetryPolicy(max_attempts=4, base_seconds=30, cap_seconds=100, jitter=0.2)
    now = EVENING
    assert p.retry_at(policy, attempts=1, now=now, retry_after=None, unit_random=0.5) \
        == now + timedelta(seconds=30)
    assert p.retry_at(policy, attempts=2, now=now, retry_after=None, unit_random=0.0) \
        == now + timedelta(seconds=48)
    assert p.retry_at(policy, attempts=3, now=now, retry_after=None, unit_random=0.5) \
        == now + timedelta(seconds=100)
    assert p.retry_at(policy, attempts=1, now=now, retry_after=600, unit_random=0.5) \
        == now + timedelta(seconds=600)
    assert p.retry_at(policy, attempts=4, now=now, retry_after=None, unit_random=0.5) is None


def test_retry_after_forms():
    assert p.parse_retry_after("120", EVENING) == 120
    assert p.parse_retry_after("Tue, 24 Nov 2026 19:01:00 GMT", EVENING) == 60
    assert p.parse_retry_after("soon", EVENING) is None
    assert p.parse_retry_after(None, EVENING) is None


SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_standard_webhooks_reference_vector():
    # the Standard Webhooks specification's example
    assert p.sign(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                  b'{"test": 2432232314}') == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_verify_refuses_unsigned_bad_and_stale():
    body = b'{"a":1}'
    headers = p.signed_headers(SECRET, "evt_1", EVENING, body)
    assert p.verify([SECRET], headers, body, EVENING + timedelta(minutes=4)) == "evt_1"
    for bad_headers, at in [
        ({}, EVENING),
        ({**headers, "webhook-signature": "v1,AAAA"}, EVENING),
        (headers, EVENING + timedelta(minutes=6)),
        (headers, EVENING - timedelta(minutes=6)),
    ]:
        with pytest.raises(p.Unauthenticated):
            p.verify([SECRET], bad_headers, body, at)
    with pytest.raises(p.Unauthenticated):
        p.verify([SECRET], headers, body + b" ", EVENING)
