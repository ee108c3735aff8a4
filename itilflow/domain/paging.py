"""Paging rules, pure: whether a ticket pages on-call, whose levels, how a delivery is retried,
what a pager receives and how a Standard Webhooks signature is made and checked.

Nothing here reads the clock, the network or the database: instants and answers are passed in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from itilflow.domain.calendar import BusinessCalendar
from itilflow.domain.errors import Conflict, DomainError
from itilflow.domain.parties import LAYER_OWNER, Layer, Party

PAGE_ENVIRONMENT = "production"
HOOK_FORMATS = ("pagerduty", "generic")
SECRET_PREFIX = "whsec_"
#: inbound calls older or newer than this are refused (Standard Webhooks' tolerance)
SIGNATURE_TOLERANCE = timedelta(minutes=5)
#: one HTTP attempt may take this long before it counts as a timeout
DELIVERY_TIMEOUT_SECONDS = 15.0


class Unauthenticated(DomainError):
    """No, or bad, credentials (HTTP 401)."""

    status = 401


# --- the decision table -------------------------------------------------------------------

@dataclass(frozen=True)
class PageDecision:
    page: bool
    #: whose escalation levels are paged (None when nothing is paged)
    party: Party | None
    reason: str


def paging_party(layer: Layer | str | None, *,
                 customer_has_levels: bool | Callable[[], bool]) -> Party:
    """Whose levels are paged: the provider's for operating system, infrastructure and an unknown
    layer; the customer's own for application and middleware where it has set some, else the
    provider's (SIT's vagtordning covers the whole system). ``customer_has_levels`` may be a
    function, asked only when the answer matters (it costs the caller a query)."""
    owner = LAYER_OWNER[Layer(layer)] if layer else Party.PROVIDER
    if owner is Party.CUSTOMER and (customer_has_levels() if callable(customer_has_levels)
                                    else customer_has_levels):
        return Party.CUSTOMER
    return Party.PROVIDER


def not_covered_because(*, kind: str, priority: str, environment: str, vagtordning: bool,
                        page_priorities: frozenset[str] | set[str]) -> str | None:
    """Why the system's vagtordning (after-hours on-call) does not cover a ticket, or None when
    it does: an incident of a paging priority on the production environment of a system with
    vagtordning. One rule for both uses: such a ticket pages on-call after hours
    (``decide_page``), and only such a ticket counts its SLA around the clock (the SLA clock's
    ``vagtordning`` is this answer): a ticket nobody is called out for waits for the next
    working day, its clock with it."""
    if kind != "incident":
        return "only incidents page"
    if priority not in page_priorities:
        return f"{priority} does not page"
    if environment != PAGE_ENVIRONMENT:
        return f"{environment} is not production"
    if not vagtordning:
        return "no vagtordning: waits for the next working day"
    return None


def vagtordning_covers(*, kind: str, priority: str, environment: str, vagtordning: bool,
                       page_priorities: frozenset[str] | set[str]) -> bool:
    """Whether on-call covers the ticket after hours (see ``not_covered_because``)."""
    return not_covered_because(kind=kind, priority=priority, environment=environment,
                               vagtordning=vagtordning, page_priorities=page_priorities) is None


def decide_page(calendar: BusinessCalendar, *, at: datetime, kind: str, priority: str,
                environment: str, vagtordning: bool, layer: Layer | str | None,
                page_priorities: frozenset[str] | set[str],
                customer_has_levels: bool | Callable[[], bool] = False) -> PageDecision:
    """Page or wait, for a ticket as it stands at the instant ``at``."""
    reason = not_covered_because(kind=kind, priority=priority, environment=environment,
                                 vagtordning=vagtordning, page_priorities=page_priorities)
    if reason is not None:
        return PageDecision(False, None, reason)
    if calendar.is_working_time(at):
        return PageDecision(False, None, "working time: the queue has it")
    party = paging_party(layer, customer_has_levels=customer_has_levels)
    return PageDecision(True, party, f"after hours: paging the on-call of the {party.value}")


# --- escalation ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Level:
    position: int  # 1-based
    hook: str
    delay_seconds: int


def next_escalation_at(paged_at: datetime, level: Level, levels_total: int) -> datetime | None:
    """When the level after ``level`` is paged if nobody acknowledges: ``delay_seconds`` after
    ``level`` was paged; None after the last level."""
    if level.position >= levels_total:
        return None
    return paged_at + timedelta(seconds=level.delay_seconds)


# --- retries ------------------------------------------------------------------------------

@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_seconds: float = 30.0
    cap_seconds: float = 900.0
    jitter: float = 0.2
    #: an answer's Retry-After is honoured up to this long
    max_retry_after_seconds: float = 3600.0


DELIVERED, RETRY, DEAD = "delivered", "retry", "dead"


def classify(status: int | None) -> str:
    """``delivered`` for 2xx; ``retry`` for no answer (timeout, connection), 5xx, 408 and 429;
    ``dead`` for any other answer (other 4xx, and 3xx since redirects are not followed)."""
    if status is None or status >= 500 or status in (408, 429):
        return RETRY
    if 200 <= status < 300:
        return DELIVERED
    return DEAD


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdecimal():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


def retry_at(policy: RetryPolicy, *, attempts: int, now: datetime, retry_after: float | None,
             unit_random: float) -> datetime | None:
    """When to try again after ``attempts`` failed attempts, or None when they have run out.

    Exponential back-off with +-``jitter`` (``unit_random`` in [0, 1) is the caller's random
    draw); a Retry-After is honoured when it asks for longer."""
    if attempts >= policy.max_attempts:
        return None
    delay = min(policy.cap_seconds, policy.base_seconds * 2 ** (attempts - 1))
    delay *= 1 + policy.jitter * (2 * unit_random - 1)
    if retry_after is not None:
        delay = max(delay, min(retry_after, policy.max_retry_after_seconds))
    return now + timedelta(seconds=delay)


# --- formats ------------------------------------------------------------------------------

SEVERITY = {"P1": "critical", "P2": "error", "P3": "warning", "P4": "info", "P5": "info"}


def dedup_key(number: str) -> str:
    """Stable per ticket: every page, acknowledge and resolve of a ticket carries it."""
    return f"itilflow-{number}"


def pagerduty_body(*, routing_key: str, action: str, ticket: Mapping[str, Any], level: int,
                   at: datetime, link: str | None, on_call: str | None = None) -> dict[str, Any]:
    """A PagerDuty Events API v2 event; acknowledge and resolve carry only what PD reads. A
    trigger names the person on call (from the level's schedule) in the summary and details."""
    body: dict[str, Any] = {"routing_key": routing_key, "event_action": action,
                            "dedup_key": dedup_key(ticket["number"])}
    if action == "trigger":
        summary = f"{ticket['number']} {ticket['priority']} {ticket['title']}"
        if on_call:
            summary = f"{summary} (on call: {on_call})"
        body["payload"] = {
            "summary": summary[:1024],
            "source": f"{ticket['system']}/{ticket['environment']}",
            "severity": SEVERITY.get(ticket["priority"], "info"),
            "timestamp": at.isoformat(),
            "component": ticket["system"],
            "group": ticket.get("layer") or "unknown",
            "class": ticket["kind"],
            "custom_details": {"level": level, **ticket},
        }
        if on_call:
            body["payload"]["custom_details"]["on_call"] = on_call
        body["links"] = [{"href": link, "text": ticket["number"]}] if link else []
    return body


def generic_body(*, message_id: str, action: str, ticket: Mapping[str, Any], level: int,
                 on_call: str | None = None) -> dict[str, Any]:
    body = {"type": f"incident.{action}", "id": message_id, "dedup_key": dedup_key(ticket["number"]),
            "level": level, "ticket": dict(ticket)}
    if on_call:
        body["on_call"] = on_call
    return body


# --- Standard Webhooks --------------------------------------------------------------------

def secret_bytes(secret: str) -> bytes:
    """The key of a ``whsec_`` + base64 secret; ValueError when it is not one."""
    if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
        raise ValueError("a secret is 'whsec_' followed by base64")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX):], validate=True)
    except ValueError:
        raise ValueError("a secret is 'whsec_' followed by base64") from None
    if not 16 <= len(key) <= 128:
        raise ValueError("a secret's key is 16 to 128 bytes")
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value: ``v1,`` + base64 HMAC-SHA256 of
    ``id.timestamp.body``."""
    mac = hmac.new(secret_bytes(secret), f"{message_id}.{timestamp}.".encode() + body,
                   hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signed_headers(secret: str | list[str], message_id: str, at: datetime, body: bytes
                   ) -> dict[str, str]:
    """The Standard Webhooks headers; with several secrets (a rotation's overlap) one ``v1,``
    signature per secret, space-separated, so a receiver that knows either accepts it."""
    timestamp = int(at.timestamp())
    keys = [secret] if isinstance(secret, str) else secret
    return {"webhook-id": message_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": " ".join(sign(k, message_id, timestamp, body) for k in keys)}


def live_secrets(current: str, previous: str | None, previous_expires_at: datetime | None,
                 now: datetime) -> list[str]:
    """The secrets a hook signs and verifies with at ``now``: its current one, and the one a
    rotation replaced until the overlap window ends (so neither the receiver nor a pager calling
    back has to switch at the same instant as the admin)."""
    if previous and previous_expires_at is not None and now < previous_expires_at:
        return [current, previous]
    return [current]


def rotated_secret(current: str, new: str, *, now: datetime, overlap: timedelta,
                   previous: str | None = None, previous_expires_at: datetime | None = None
                   ) -> tuple[str, str | None, datetime | None]:
    """(secret, previous secret, when it stops counting) after ``current`` is replaced by
    ``new``: the replaced one overlaps for ``overlap``; no overlap keeps none.

    A rotation during an overlap keeps the older previous secret and its end, and drops
    ``current``: the receiver still uses the older one (a double click on "New secret", or a
    second rotation minutes after the first, must not stop its pages), while ``current`` was
    shown only moments ago and is replaced before it went anywhere. One previous secret only,
    so a pager holds at most two and the older one never outlives its first window."""
    if overlap <= timedelta(0):
        return new, None, None
    if previous and previous_expires_at is not None and now < previous_expires_at:
        return new, previous, previous_expires_at
    return new, current, now + overlap


def hook_removal(*, used_by: list[str], escalating: int, paged: bool) -> str:
    """How a pager hook is removed: refused (Conflict) while escalation levels of the systems
    ``used_by`` name it or ``escalating`` escalations in progress may still page it or expect
    its acknowledgement; ``retired`` (kept, inactive) when it ever paged, because pages, their
    history and dead letters refer to it; ``deleted`` when it never paged."""
    if used_by:
        raise Conflict("The pager hook is used by the escalation levels of "
                       + ", ".join(used_by) + ": remove it from them first.")
    if escalating:
        raise Conflict(f"The pager hook is in {escalating} escalation(s) in progress: try again "
                       "once they are acknowledged or resolved.")
    return "retired" if paged else "deleted"


def verify(secrets_: list[str], headers: Mapping[str, str], body: bytes, now: datetime) -> str:
    """The ``webhook-id`` of a call signed with one of ``secrets_`` within the tolerance;
    Unauthenticated otherwise. (Replays are the caller's check: it remembers the ids.)"""
    message_id = headers.get("webhook-id") or ""
    stamp = headers.get("webhook-timestamp") or ""
    signatures = (headers.get("webhook-signature") or "").split()
    if not message_id or not stamp or not signatures:
        raise Unauthenticated("The call is not signed.")
    if not stamp.isdecimal() or len(stamp) > 12:
        raise Unauthenticated("Bad webhook-timestamp.")
    sent = datetime.fromtimestamp(int(stamp), tz=now.tzinfo)
    if abs(now - sent) > SIGNATURE_TOLERANCE:
        raise Unauthenticated("The call is too old or from the future.")
    for secret in secrets_:
        try:
            expected = sign(secret, message_id, int(stamp), body)
        except ValueError:
            continue
        if any(hmac.compare_digest(expected, given) for given in signatures):
            return message_id
    raise Unauthenticated("Bad signature.")
