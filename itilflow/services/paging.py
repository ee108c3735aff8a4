"""Paging use cases: pager hooks, escalation policies, starting and stopping escalations on
ticket changes, escalation timers, recording deliveries, inbound pager events, SLA breaches.

Everything here takes a session and ``now`` and only flushes; the outbox rows it writes are sent
only if the caller's transaction commits. Importing this module registers ``on_ticket_change``
in ``tickets.after_change_hooks``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from itilflow.domain import paging as rules_of_paging
from itilflow.domain.access import Actor
from itilflow.domain.errors import Conflict, InvalidTransition, NotFound, ValidationError
from itilflow.domain.paging import Unauthenticated
from itilflow.domain.parties import Party
from itilflow.models import OutboxMessage, System, Ticket, TicketEvent
from itilflow.models.paging import (
    Escalation,
    EscalationLevel,
    InboundWebhook,
    Page,
    PagerHook,
)
from itilflow.services import directory, known, locks, names, oncall, tickets
from itilflow.services.history import append_event
from itilflow.services.outbox import enqueue, enqueue_once
from itilflow.services.rules import Rules
from itilflow.services.sla import covered_by_vagtordning, refresh_due, sla_of
from itilflow.services.sql import id_in

NAME_MAX = 100
URL_MAX = 2000
MAX_LEVELS = 10
MAX_DELAY_SECONDS = 7 * 86_400
STOP_TRIGGERS = frozenset({"resolve", "close", "cancel", "confirm"})
#: the changes on which paging is decided as on creation (and leaving an SLA-paused state)
DECIDE_TRIGGERS = frozenset({"created", "reclassify", "reprioritise"})
#: the outbox topic of the decision again at the end of the working window (``end_of_window``)
PAGE_DECISION = "page_decision"
#: why a covered incident waiting in an SLA-paused state (for the customer, a supplier) is not
#: paged: nobody on call can act on it; paging is decided when it leaves that state
WAITING_NOT_PAGED = "waiting (SLA paused): paging is decided when work resumes"


# --- hooks --------------------------------------------------------------------------------

def generate_secret() -> str:
    return rules_of_paging.SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _clean_url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError("url is required.", {"url": ["Missing data for required field."]})
    value = value.strip()
    if len(value) > URL_MAX:
        raise ValidationError("url is too long.", {"url": [f"At most {URL_MAX} characters."]})
    try:
        parts = urlsplit(value)
        hostname = parts.hostname
    except ValueError:  # e.g. an unclosed "[" of an IPv6 address
        parts, hostname = None, None
    if parts is None or parts.scheme not in ("http", "https") or not hostname \
            or any(ord(c) <= 32 for c in value):
        raise ValidationError("url is not an http(s) URL.", {"url": ["An http:// or https:// URL."]})
    if "@" in parts.netloc:
        # the hooks table shows the address to every admin, and pages log it: a password
        # in it would be out in the open
        raise ValidationError("url has a user name or password in it.", {"url": [
            "No user name or password in the address: put secrets in the hook's signing "
            "secret or routing key."]})
    return value


HOOK_FIELDS = frozenset({"name", "url", "format", "secret", "routing_key"})


def _hook_values(data: dict[str, Any], *, allowed: frozenset[str], current: PagerHook | None
                 ) -> tuple[dict[str, Any], str | None]:
    """The checked fields of a new hook (``current`` None: all required) or of a change to one
    (only those given). ``secret`` null, or absent on a new hook: one is generated (returned
    second, to show once). ValidationError names every bad field."""
    if not isinstance(data, dict):
        raise ValidationError("The body must be an object.", {"_schema": ["A JSON object."]})
    errors: dict[str, list[str]] = {k: ["Unknown field."] for k in sorted(set(data) - allowed)}
    values: dict[str, Any] = {}
    for name, check in (
        ("name", lambda: directory.refuse_invisible(names.clean_path_name(
            data.get("name"), "name", max_length=NAME_MAX), "name")),
        ("url", lambda: _clean_url(data.get("url"))),
    ):
        if name in allowed and (current is None or name in data):
            try:
                values[name] = check()
            except ValidationError as exc:
                errors.update(exc.errors)
    if current is None or "format" in data:
        values["format"] = data.get("format")
        if values["format"] not in rules_of_paging.HOOK_FORMATS:
            errors["format"] = ["Must be one of: pagerduty, generic."]
    if current is None or "routing_key" in data:
        routing_key = data.get("routing_key")
        if routing_key is not None and (not isinstance(routing_key, str)
                                        or not routing_key.strip() or len(routing_key) > 200):
            errors["routing_key"] = ["A non-empty string of at most 200 characters."]
        values["routing_key"] = routing_key.strip() if isinstance(routing_key, str) else None
    fmt = values.get("format", current.format if current else None)
    key = values.get("routing_key", current.routing_key if current else None)
    if fmt == "pagerduty" and not key and "routing_key" not in errors:
        errors["routing_key"] = ["Required for the pagerduty format."]
    generated = None
    if data.get("secret") is None and (current is None or "secret" in data):
        values["secret"] = generated = generate_secret()
    elif "secret" in data:
        try:
            rules_of_paging.secret_bytes(data["secret"])
            values["secret"] = data["secret"]
        except (ValueError, TypeError) as exc:
            errors["secret"] = [str(exc) + "."]
    if errors:
        raise ValidationError("The pager hook has invalid fields.", errors)
    return values, generated


def create_hook(session: Session, actor: Actor, data: dict[str, Any], *, now: datetime
                ) -> tuple[PagerHook, str | None]:
    """Create a pager hook (admin). Returns the hook and, when the secret was generated, the
    secret (shown once)."""
    directory.require_admin(actor)
    values, generated = _hook_values(data, allowed=HOOK_FIELDS, current=None)
    # "KORT-L1" beside "kort-l1" would be two hooks nobody tells apart in a picker
    taken = directory.same_name(session, PagerHook.name, values["name"], lock_key="pager_hooks")
    if taken is not None:
        raise Conflict(f"A pager hook named {taken!r} exists.")
    hook = PagerHook(**values, active=True, created_at=now)
    session.add(hook)
    session.flush()
    return hook, generated


def _hook_named(session: Session, name: Any, *, lock: bool = False) -> PagerHook:
    """The hook by name; ``lock``: its row locked (SQLite: the write lock) until the end."""
    query = select(PagerHook).where(PagerHook.name == name)
    if lock:
        locks.sqlite_write_lock(session)
        query = query.execution_options(populate_existing=True)
    hook = session.scalar(query.with_for_update() if lock else query) \
        if isinstance(name, str) and "\x00" not in name else None
    if hook is None:
        raise NotFound("No such pager hook.")
    return hook


def update_hook(session: Session, actor: Actor, name: Any, data: dict[str, Any], *,
                now: datetime, overlap: timedelta) -> tuple[PagerHook, str | None]:
    """Change a pager hook's url, format, routing key or secret (admin); ``secret: null``
    rotates it (the new one is returned to show once). Pages not yet sent go out to the new url;
    a new secret signs them at once, and the replaced one signs them too and still verifies
    inbound calls for ``overlap``, so the receiver and the pager can switch within it."""
    directory.require_admin(actor)
    hook = _hook_named(session, name, lock=True)  # rotations one after the other
    values, generated = _hook_values(data, allowed=HOOK_FIELDS - {"name"}, current=hook)
    secret = values.pop("secret", hook.secret)
    if secret != hook.secret:
        hook.secret, hook.previous_secret, hook.previous_secret_expires_at = \
            rules_of_paging.rotated_secret(hook.secret, secret, now=now, overlap=overlap,
                                           previous=hook.previous_secret,
                                           previous_expires_at=hook.previous_secret_expires_at)
    elif hook.previous_secret_expires_at is not None and hook.previous_secret_expires_at <= now:
        hook.previous_secret = hook.previous_secret_expires_at = None  # out of its window
    for field, value in values.items():
        setattr(hook, field, value)
    session.flush()
    return hook, generated


def remove_hook(session: Session, actor: Actor, name: Any) -> str:
    """Remove a pager hook (admin): ``deleted`` when it never paged, ``retired`` when it did
    (kept for its pages and their history, inactive); refused (409) while escalation levels name
    it or an escalation in progress may page it or expect its acknowledgement. A retired hook's
    secret verifies nothing: nothing still waits for its answer, and a secret nobody rotates any
    more must not stay able to acknowledge or resolve tickets."""
    directory.require_admin(actor)
    hook = _hook_named(session, name, lock=True)
    used_by = list(session.scalars(
        select(System.key).join(EscalationLevel, EscalationLevel.system_id == System.id)
        .where(EscalationLevel.hook_id == hook.id).distinct().order_by(System.key)))
    escalating = sum(
        any(level.get("hook_id") == hook.id for level in levels)
        for levels in session.scalars(select(Escalation.levels)
                                      .where(Escalation.stopped_at.is_(None))))
    paged = session.scalar(select(Page.id).where(Page.hook_id == hook.id).limit(1)) is not None
    outcome = rules_of_paging.hook_removal(used_by=used_by, escalating=escalating, paged=paged)
    if outcome == "deleted":
        session.delete(hook)
    else:
        hook.active = False
        hook.previous_secret = hook.previous_secret_expires_at = None
    session.flush()
    return outcome


def list_hooks(session: Session, actor: Actor) -> list[PagerHook]:
    """Every hook, the retired ones too (they are shown as such)."""
    directory.require_admin(actor)
    return list(session.scalars(select(PagerHook).order_by(PagerHook.name)))


def selectable_hooks(session: Session, actor: Actor) -> list[PagerHook]:
    """The hooks an escalation level may name: the active ones."""
    return [hook for hook in list_hooks(session, actor) if hook.active]


def _live_secrets(hook: PagerHook, now: datetime) -> list[str]:
    return rules_of_paging.live_secrets(hook.secret, hook.previous_secret,
                                        hook.previous_secret_expires_at, now)


def hook_json(hook: PagerHook, *, secret: str | None = None) -> dict[str, Any]:
    expires = hook.previous_secret_expires_at
    out = {"id": hook.id, "name": hook.name, "url": hook.url, "format": hook.format,
           "routing_key": hook.routing_key, "created_at": hook.created_at.isoformat(),
           "active": hook.active,
           "previous_secret_expires_at": expires.isoformat() if expires else None}
    if secret is not None:
        out["secret"] = secret
    return out


# --- escalation policies ------------------------------------------------------------------

def escalation_fingerprint(levels: list[EscalationLevel]) -> str:
    """A short digest of one party's levels as they are (hook, delay, schedule of each): the
    escalation form carries the one it was drawn with (``set_escalation``'s ``expected``)."""
    state = [[lv.hook.name, lv.delay_seconds, lv.schedule.name if lv.schedule else None]
             for lv in levels]
    return hashlib.sha256(json.dumps(state).encode()).hexdigest()[:20]


#: what a save of an escalation form drawn before another admin's save is told (409)
ESCALATION_CHANGED = ("Another admin saved these levels after you opened the form. The form "
                      "now shows the saved levels: make your change again.")


def set_escalation(session: Session, actor: Actor, system_key: Any, data: dict[str, Any],
                   *, expected: str | None = None) -> tuple[System, str, list[EscalationLevel]]:
    """Replace a system's escalation levels for one party (admin). ``expected``: the
    ``escalation_fingerprint`` of the party's levels the form was drawn with; when they have
    changed since (another admin saved), nothing is replaced: 409 (``Conflict``). Saves of one
    system's levels take turns on its row lock."""
    directory.require_admin(actor)
    system = directory.system_for(session, actor, system_key)
    locks.sqlite_write_lock(session)
    session.scalar(select(System.id).where(System.id == system.id).with_for_update())
    errors: dict[str, list[str]] = {}
    for name in sorted(set(data) - {"party", "levels"}):
        errors[name] = ["Unknown field."]
    party = data.get("party")
    if party not in ("provider", "customer"):
        errors["party"] = ["Must be provider or customer."]
    elif expected is not None and \
            expected != escalation_fingerprint(levels_of(session, system.id, party)):
        raise Conflict(ESCALATION_CHANGED)
    raw_levels = data.get("levels")
    levels: list[tuple[PagerHook, int, int | None]] = []
    if not isinstance(raw_levels, list) or len(raw_levels) > MAX_LEVELS:
        errors["levels"] = [f"A list of at most {MAX_LEVELS} levels."]
        raw_levels = []
    for i, raw in enumerate(raw_levels):
        where = f"levels.{i}"
        if not isinstance(raw, dict) or set(raw) - {"hook", "delay_seconds", "schedule"}:
            errors[where] = ["An object {hook, delay_seconds, schedule?}."]
            continue
        schedule_id = None
        if raw.get("schedule") is not None:
            schedule = oncall.schedule_by_name(session, raw["schedule"])
            if schedule is None:
                errors[f"{where}.schedule"] = ["No on-call schedule by that name."]
            else:
                schedule_id = schedule.id
        # FOR SHARE: a hook being removed at the same time is either still there when the
        # removal looks at the levels, or seen retired (or gone) here
        hook = session.scalar(select(PagerHook).where(PagerHook.name == raw.get("hook"))
                              .with_for_update(read=True)) \
            if isinstance(raw.get("hook"), str) else None
        if hook is None:
            errors[f"{where}.hook"] = ["No pager hook by that name."]
        elif not hook.active:
            errors[f"{where}.hook"] = ["This pager hook is retired."]
            hook = None
        delay = raw.get("delay_seconds")
        if isinstance(delay, bool) or not isinstance(delay, int) or not \
                0 <= delay <= MAX_DELAY_SECONDS:
            errors[f"{where}.delay_seconds"] = [
                f"A whole number of seconds from 0 to {MAX_DELAY_SECONDS} (7 days)."]
        if hook is not None and f"{where}.delay_seconds" not in errors:
            levels.append((hook, delay, schedule_id))
    if errors:
        raise ValidationError("The escalation policy has invalid fields.", errors)
    session.execute(delete(EscalationLevel).where(EscalationLevel.system_id == system.id,
                                                  EscalationLevel.party == party))
    rows = [EscalationLevel(system_id=system.id, party=party, position=i + 1, hook_id=hook.id,
                            delay_seconds=delay, schedule_id=schedule_id)
            for i, (hook, delay, schedule_id) in enumerate(levels)]
    session.add_all(rows)
    session.flush()
    return system, party, levels_of(session, system.id, party)


def levels_of(session: Session, system_id: int, party: str) -> list[EscalationLevel]:
    return list(session.scalars(
        select(EscalationLevel).where(EscalationLevel.system_id == system_id,
                                      EscalationLevel.party == party)
        .order_by(EscalationLevel.position)))


def escalation_json(system: System, party: str, levels: list[EscalationLevel]) -> dict[str, Any]:
    return {"system": system.key, "party": party,
            "levels": [{"position": lv.position, "hook": lv.hook.name,
                        "delay_seconds": lv.delay_seconds,
                        **({"schedule": lv.schedule.name} if lv.schedule else {})}
                       for lv in levels]}


# --- the ticket hook ----------------------------------------------------------------------

def ticket_view(rules: Rules, ticket: Ticket) -> dict[str, Any]:
    """What a pager is told of a ticket."""
    return {"id": ticket.id, "number": tickets.number_of(rules, ticket), "kind": ticket.kind,
            "title": ticket.title, "priority": ticket.priority, "state": ticket.state,
            "system": ticket.system.key, "environment": ticket.environment,
            "layer": ticket.layer, "responsible_party": ticket.responsible_party,
            "outage": ticket.outage}


def decide(session: Session, rules: Rules, ticket: Ticket, now: datetime
           ) -> rules_of_paging.PageDecision:
    return rules_of_paging.decide_page(
        rules.calendar, at=now, kind=ticket.kind, priority=ticket.priority,
        environment=ticket.environment, vagtordning=ticket.system.vagtordning,
        layer=ticket.layer, page_priorities=rules.page_priorities,
        customer_has_levels=lambda: bool(levels_of(session, ticket.system_id,
                                                   Party.CUSTOMER.value)))


def active_escalation(session: Session, ticket_id: int) -> Escalation | None:
    return session.scalar(select(Escalation).where(Escalation.ticket_id == ticket_id,
                                                   Escalation.stopped_at.is_(None))
                          .order_by(Escalation.id.desc()).limit(1))


def on_ticket_change(session: Session, rules: Rules, ticket: Ticket, now: datetime, what: str
                     ) -> None:
    """The after-change hook: start, follow and stop escalations; schedule the SLA check.
    Writes only paging and outbox rows (never the ticket's own columns)."""
    if ticket.kind != "incident":
        return
    _schedule_sla_check(session, ticket, now, new=what == "created")
    # a ticket just created, or one known not to be escalating, has no escalation to follow:
    # spare the query on the hot submit and transition paths
    seen = known.get(session, ticket.id)
    active = None if what == "created" or (seen is not None and not seen.escalating) \
        else active_escalation(session, ticket.id)
    if what == "acknowledge":
        if active is not None:
            _stop(session, rules, ticket, active, now, reason="acknowledged", follow="acknowledge",
                  by=ticket.acknowledged_by)
        return
    if what in STOP_TRIGGERS:
        if active is not None:
            _stop(session, rules, ticket, active, now, reason=what, follow="resolve", by=None)
        elif seen is None or seen.paged:
            _resolve_acknowledged(session, rules, ticket, now)
        return
    resumed = what not in DECIDE_TRIGGERS and _left_pause(rules, ticket, now)
    if what not in DECIDE_TRIGGERS and not resumed:
        return
    if resumed and active is not None:
        return  # an escalation runs already: nothing to decide
    # decided again as on creation: a hand-over (reclassify), a new priority (reprioritise),
    # or work resuming after a wait in which the ticket was not paged (resume, the answer)
    decision = decide(session, rules, ticket, now)
    if active is not None:
        if decision.page and decision.party.value == active.party:
            return
        _stop(session, rules, ticket, active, now,
              reason="handover" if what == "reclassify" else what, follow="resolve", by=None)
    elif what != "created" and ticket.acknowledged_at is not None:
        return  # the party's on-call has it
    elif what != "created" and (seen is None or seen.paged):
        # not acknowledged (any more): a hand-over cleared the old party's acknowledgement
        # (services.tickets), so the hooks of the run it acknowledged are told the ticket is
        # not theirs any more (once), before the new party's levels are decided
        _resolve_acknowledged(session, rules, ticket, now)
    _page_or_wait(session, rules, ticket, decision, now)


def _page_or_wait(session: Session, rules: Rules, ticket: Ticket,
                  decision: rules_of_paging.PageDecision, now: datetime, *,
                  because: str | None = None) -> None:
    """Act on a decision for a ticket no escalation runs for: page, or not while it waits in an
    SLA-paused state (the history says why; decided again when it leaves it), or, where the
    only reason not to page is working time, decide again when the working window ends."""
    if decision.page and _sla_paused(rules, ticket):
        append_event(session, ticket, kind="paging", actor=None, now=now,
                     data={"party": decision.party.value, "paged": False,
                           "state": ticket.state, "reason": WAITING_NOT_PAGED})
    elif decision.page:
        start_escalation(session, rules, ticket, decision.party.value, now, because=because)
    elif not _sla_paused(rules, ticket):
        _decide_at_end_of_window(session, rules, ticket, now)


def _sla_paused(rules: Rules, ticket: Ticket) -> bool:
    return rules.workflow(ticket.kind).sla_paused(ticket.state)


def _left_pause(rules: Rules, ticket: Ticket, now: datetime) -> bool:
    """Whether the change just made took the ticket out of an SLA-paused state (the pause
    ``tickets._apply_state`` ended at this instant)."""
    pauses = ticket.sla_pauses or []
    return bool(pauses) and pauses[-1][1] == now.isoformat() and not _sla_paused(rules, ticket)


def _decide_at_end_of_window(session: Session, rules: Rules, ticket: Ticket, now: datetime
                             ) -> None:
    """A covered incident not paged because it is working time: decide again when the working
    window ends (16:00, or a closure from noon), in case nobody has acknowledged it by then.
    One outbox row per ticket and window end (the message id says which)."""
    if not covered_by_vagtordning(rules, ticket):
        return
    ends = rules.calendar.working_time_ends(now)
    if ends is None:
        return
    enqueue_once(session, PAGE_DECISION, {"ticket_id": ticket.id}, now=now, due_at=ends,
                 ticket_id=ticket.id,
                 message_id=f"pagedecision_{ticket.id}_{int(ends.timestamp())}")


#: why a ticket raised in working time is paged when it ends
WINDOW_ENDED = "working time ended, nobody acknowledged"


def end_of_window(session: Session, rules: Rules, ticket_id: Any, now: datetime) -> str:
    """The decision again at the end of a working window (a ``page_decision`` row): under the
    ticket's row lock, page as on creation if it is still open, unacknowledged and covered and
    no escalation runs; a ticket acknowledged, resolved, handed over or reprioritised
    meanwhile is decided as it stands now (nothing, or the new party's levels)."""
    ticket = tickets.locked_ticket(session, ticket_id)
    if ticket is None or ticket.kind != "incident":
        return "gone"
    category = rules.workflow(ticket.kind).states[ticket.state].category
    if category in ("resolved", "done") or ticket.closed_at is not None or \
            ticket.resolved_at is not None:
        return "closed"
    if ticket.acknowledged_at is not None:
        return "acknowledged"
    if active_escalation(session, ticket.id) is not None:
        return "escalating"
    decision = decide(session, rules, ticket, now)
    _page_or_wait(session, rules, ticket, decision, now, because=WINDOW_ENDED)
    if not decision.page:
        return "not paged"
    return "waiting" if _sla_paused(rules, ticket) else "paged"


def start_escalation(session: Session, rules: Rules, ticket: Ticket, party: str, now: datetime,
                     *, because: str | None = None) -> Escalation | None:
    """Page the party's level 1 and set the timer for the next; the history says why
    (``because``: after hours, unless said otherwise)."""
    levels = levels_of(session, ticket.system_id, party)
    if not levels:
        append_event(session, ticket, kind="paging", actor=None, now=now,
                     data={"party": party, "paged": False,
                           "reason": f"the {party} has no escalation levels for this system"})
        return None
    escalation = Escalation(
        ticket_id=ticket.id, party=party, token=ticket.escalation_token, started_at=now,
        levels=[{"position": lv.position, "hook_id": lv.hook_id, "hook": lv.hook.name,
                 "delay_seconds": lv.delay_seconds, "schedule_id": lv.schedule_id,
                 "schedule": lv.schedule.name if lv.schedule else None} for lv in levels])
    session.add(escalation)
    session.flush()
    known.mark_paged(session, ticket.id, escalating=True)
    append_event(session, ticket, kind="paging", actor=None, now=now,
                 data={"party": party, "paged": True, "levels": len(levels),
                       "reason": f"{because or 'after hours'}: paging the on-call of the {party}"})
    page_level(session, rules, ticket, escalation, 1, now)
    return escalation


def _level(escalation: Escalation, position: int) -> dict[str, Any] | None:
    return next((lv for lv in escalation.levels if lv["position"] == position), None)


def page_level(session: Session, rules: Rules, ticket: Ticket, escalation: Escalation,
               position: int, now: datetime) -> Page | None:
    """Page one level now (once per escalation) and set the timer for the next. A level with an
    on-call schedule names the person on call now in its page; nobody on call pages the next
    level at once (and the history says so)."""
    level = _level(escalation, position)
    if level is None:
        return None
    already = session.scalar(select(Page.id).where(
        Page.escalation_id == escalation.id, Page.level == position, Page.action == "trigger"))
    if already is not None:
        return None
    hook = session.get(PagerHook, level["hook_id"])
    if hook is None:
        return None
    person = None
    if level.get("schedule_id") is not None:
        found = oncall.on_call(session, level["schedule_id"], now)
        if found is None:
            last = position >= len(escalation.levels)
            append_event(session, ticket, kind="nobody_on_call", actor=None, now=now, data={
                "level": position, "party": escalation.party, "schedule": level.get("schedule"),
                "message": f"nobody on call at level {position}: "
                           + ("no further level" if last else "escalated")})
            if last:
                return None
            nxt_page = page_level(session, rules, ticket, escalation, position + 1, now)
            if nxt_page is not None and nxt_page.level == position + 1:
                append_event(session, ticket, kind="escalated", actor=None, now=now,
                             data={"level": position + 1, "party": escalation.party,
                                   "because": f"nobody on call at level {position}"})
            return nxt_page
        person = found.person
    page = _page(session, rules, ticket, escalation, hook, position, "trigger", now,
                 on_call=person)
    nxt = rules_of_paging.next_escalation_at(
        now, rules_of_paging.Level(position, level["hook"], level["delay_seconds"]),
        len(escalation.levels))
    if nxt is not None:
        enqueue(session, "escalate", {"escalation_id": escalation.id, "token": escalation.token,
                                      "level": position + 1}, now=now, due_at=nxt,
                ticket_id=ticket.id)
    return page


def _page(session: Session, rules: Rules, ticket: Ticket, escalation: Escalation,
          hook: PagerHook, level: int, action: str, now: datetime, *, on_call: str | None = None
          ) -> Page:
    message_id = f"msg_{uuid.uuid4().hex}"
    page = Page(escalation_id=escalation.id, ticket_id=ticket.id, level=level, hook_id=hook.id,
                action=action, dedup_key=rules_of_paging.dedup_key(tickets.number_of(rules, ticket)),
                message_id=message_id, status="pending", attempts=0, created_at=now,
                on_call=on_call)
    session.add(page)
    session.flush()
    enqueue(session, "page", {"page_id": page.id}, now=now, ticket_id=ticket.id,
            message_id=message_id)
    return page


def _stop(session: Session, rules: Rules, ticket: Ticket, escalation: Escalation, now: datetime,
          *, reason: str, follow: str, by: str | None) -> None:
    """Stop an escalation; tell every hook that was paged (acknowledge or resolve)."""
    escalation.stopped_at = now
    escalation.stopped_reason = reason
    known.mark_paged(session, ticket.id, escalating=False)
    if reason == "acknowledged":
        escalation.acknowledged_at = now
        escalation.acknowledged_by = by
    _follow_up(session, rules, ticket, escalation, follow, now)
    session.flush()


def _follow_up(session: Session, rules: Rules, ticket: Ticket, escalation: Escalation,
               action: str, now: datetime) -> None:
    """Send ``action`` (acknowledge or resolve) to every hook the escalation paged, at the
    highest level it paged that hook."""
    paged = session.execute(
        select(Page.hook_id, func.max(Page.level)).where(
            Page.escalation_id == escalation.id, Page.action == "trigger",
            Page.status.in_(("pending", "delivered")))
        .group_by(Page.hook_id)).all()
    for hook_id, level in paged:
        hook = session.get(PagerHook, hook_id)
        if hook is not None:
            _page(session, rules, ticket, escalation, hook, level, action, now)


def _resolve_acknowledged(session: Session, rules: Rules, ticket: Ticket, now: datetime) -> None:
    """An acknowledged escalation's pagers are told when the ticket is resolved (once)."""
    last = session.scalar(select(Escalation).where(Escalation.ticket_id == ticket.id)
                          .order_by(Escalation.id.desc()).limit(1))
    if last is None or last.stopped_reason != "acknowledged":
        return
    if session.scalar(select(Page.id).where(Page.escalation_id == last.id,
                                            Page.action == "resolve").limit(1)) is not None:
        return
    _follow_up(session, rules, ticket, last, "resolve", now)


# --- the worker's side --------------------------------------------------------------------

def run_escalation_timer(session: Session, rules: Rules, payload: dict[str, Any], now: datetime
                         ) -> str:
    """An escalation deadline: page the next level unless acknowledged, stopped or stale."""
    escalation = session.get(Escalation, payload.get("escalation_id"))
    if escalation is None:
        return "gone"
    ticket = session.get(Ticket, escalation.ticket_id)
    if ticket is None or escalation.stopped_at is not None or ticket.acknowledged_at is not None:
        return "stopped"
    if payload.get("token") != ticket.escalation_token or escalation.token != ticket.escalation_token:
        return "stale"
    if rules.workflow(ticket.kind).states[ticket.state].category in ("resolved", "done") or \
            ticket.closed_at is not None or ticket.resolved_at is not None:
        return "stopped"
    level = int(payload.get("level", 0))
    page = page_level(session, rules, ticket, escalation, level, now)
    if page is None:
        return "nothing"
    if page.level == level:  # else the skip past a level without anybody on call said it
        append_event(session, ticket, kind="escalated", actor=None, now=now,
                     data={"level": level, "party": escalation.party,
                           "hook": (_level(escalation, level) or {}).get("hook")})
    return "paged"


def page_message(session: Session, rules: Rules, page: Page, now: datetime
                 ) -> tuple[str, bytes, dict[str, str]] | None:
    """The HTTP request of a page: (url, body, headers); None when it no longer needs sending
    (a trigger whose escalation was acknowledged or stopped before it went out)."""
    import json

    escalation = session.get(Escalation, page.escalation_id)
    ticket = session.get(Ticket, page.ticket_id)
    hook = page.hook
    if ticket is None or escalation is None:
        return None
    if page.action == "trigger" and escalation.stopped_at is not None:
        return None
    view = ticket_view(rules, ticket)
    if hook.format == "pagerduty":
        body = rules_of_paging.pagerduty_body(routing_key=hook.routing_key or "",
                                              action=page.action, ticket=view, level=page.level,
                                              at=now, link=None, on_call=page.on_call)
    else:
        body = rules_of_paging.generic_body(message_id=page.message_id, action=page.action,
                                            ticket=view, level=page.level, on_call=page.on_call)
    raw = json.dumps(body, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "itilflow-pager/1"}
    headers.update(rules_of_paging.signed_headers(_live_secrets(hook, now), page.message_id, now,
                                                  raw))
    return hook.url, raw, headers


def record_page_outcome(session: Session, rules: Rules, page: Page, *, outcome: str,
                        status_code: int | None, error: str | None, now: datetime) -> None:
    """After one attempt: delivered (history), retry (nothing more), dead (history, next level)."""
    page.attempts += 1
    page.last_status_code = status_code
    page.last_error = error
    ticket = session.get(Ticket, page.ticket_id)
    data = {"level": page.level, "hook": page.hook.name, "action": page.action,
            "webhook_id": page.message_id, "attempts": page.attempts}
    if page.on_call:
        data["on_call"] = page.on_call
    if outcome == rules_of_paging.DELIVERED:
        page.status = "delivered"
        page.delivered_at = now
        if ticket is not None:
            append_event(session, ticket, kind="page", actor=None, now=now, data=data)
    elif outcome == rules_of_paging.DEAD:
        page.status = "dead"
        if ticket is None:
            return
        append_event(session, ticket, kind="page_failed", actor=None, now=now,
                     data={**data, "status_code": status_code, "error": (error or "")[:300]})
        escalation = session.get(Escalation, page.escalation_id)
        if page.action == "trigger" and escalation is not None and escalation.stopped_at is None \
                and escalation.token == ticket.escalation_token:
            nxt = page_level(session, rules, ticket, escalation, page.level + 1, now)
            if nxt is not None and nxt.level == page.level + 1:
                append_event(session, ticket, kind="escalated", actor=None, now=now,
                             data={"level": page.level + 1, "party": escalation.party,
                                   "because": "the previous level could not be paged"})
    session.flush()


def cancel_page(session: Session, page: Page) -> None:
    page.status = "cancelled"
    session.flush()


def dead_letters(session: Session, actor: Actor, *, limit: int = 100) -> list[Page]:
    directory.require_admin(actor)
    return list(session.scalars(select(Page).where(Page.status == "dead")
                                .order_by(Page.id.desc()).limit(limit)))


def page_json(rules: Rules, session: Session, page: Page) -> dict[str, Any]:
    ticket = session.get(Ticket, page.ticket_id)
    return {"id": page.id, "ticket": tickets.number_of(rules, ticket) if ticket else None,
            "level": page.level, "hook": page.hook.name, "action": page.action,
            "dedup_key": page.dedup_key, "webhook_id": page.message_id, "status": page.status,
            "attempts": page.attempts, "last_status_code": page.last_status_code,
            "last_error": page.last_error, "created_at": page.created_at.isoformat(),
            "delivered_at": page.delivered_at.isoformat() if page.delivered_at else None}


def resend(session: Session, actor: Actor, page_id: Any, *, now: datetime) -> Page:
    """Send a dead-lettered page again, with the same webhook-id (admin)."""
    directory.require_admin(actor)
    page = session.get(Page, page_id) if isinstance(page_id, int) and 0 < page_id < 2**31 else None
    if page is None:
        raise NotFound("No such page.")
    if page.status != "dead":
        raise Conflict("Only a dead-lettered page can be sent again.")
    message = session.scalar(select(OutboxMessage).where(OutboxMessage.message_id ==
                                                         page.message_id))
    if message is None:
        raise NotFound("No such page.")
    page.status = "pending"
    message.status = "pending"
    message.due_at = now
    message.claimed_until = None
    message.done_at = None
    session.flush()
    return page


# --- inbound ------------------------------------------------------------------------------

#: why a pager call of the party that had the ticket before a hand-over changes nothing
HANDED_OVER = "The ticket was handed over: this pager's party no longer has it."


def inbound_event(session: Session, rules: Rules, headers: dict[str, str], body: bytes,
                  data: Any, *, now: datetime) -> dict[str, Any]:
    """POST /pager/events: verify against the hooks that paged for the dedup_key, refuse
    replays, then acknowledge (stop escalation) or resolve."""
    key = data.get("dedup_key") if isinstance(data, dict) else None
    action = data.get("action") if isinstance(data, dict) else None
    hook_ids = list(session.scalars(select(Page.hook_id).where(Page.dedup_key == key).distinct())) \
        if isinstance(key, str) and len(key) <= 100 else []
    # a retired hook is trusted no more (see remove_hook)
    hooks = [hook for hook in (session.get(PagerHook, i) for i in hook_ids) if hook.active]
    if not hooks:
        # the same answer as a bad signature: an unknown key tells a caller nothing
        raise Unauthenticated("The call is not signed by a hook that paged for this dedup_key.")
    webhook_id = None
    for hook in hooks:
        try:
            webhook_id = rules_of_paging.verify(_live_secrets(hook, now), headers, body, now)
        except Unauthenticated:
            continue
        signer = hook
        break
    if webhook_id is None:
        rules_of_paging.verify([], headers, body, now)  # raises with the precise reason
        raise Unauthenticated("Bad signature.")
    if len(webhook_id) > 200 or session.get(InboundWebhook, webhook_id) is not None:
        raise Unauthenticated("This webhook-id was seen before (replay).")
    session.add(InboundWebhook(webhook_id=webhook_id, hook_id=signer.id, received_at=now))
    session.flush()
    if action not in ("acknowledge", "resolve"):
        raise ValidationError("Unknown action.", {"action": ["Must be acknowledge or resolve."]})
    ticket_id = session.scalar(select(Page.ticket_id).where(Page.dedup_key == key).limit(1))
    ticket = tickets.locked_ticket(session, ticket_id)
    by = f"pager hook {signer.name}"
    paged_for = set(session.scalars(
        select(Escalation.party).join(Page, Page.escalation_id == Escalation.id)
        .where(Page.dedup_key == key, Page.hook_id == signer.id).distinct()))
    if ticket.responsible_party not in paged_for:
        # a late call from the pager of the party that had the ticket before a hand-over: that
        # party's on-call no longer acknowledges or resolves it (the new party's does)
        append_event(session, ticket, kind="pager_event", actor=None, now=now,
                     data={"via": "pager", "hook": signer.name, "action": action,
                           "applied": False, "reason": HANDED_OVER})
        done = False
    elif action == "acknowledge":
        done = _system_fire(session, rules, ticket, "acknowledge", now, by=by,
                            extra={"via": "pager", "hook": signer.name})
    else:
        resolution = data.get("resolution") if isinstance(data.get("resolution"), str) else None
        done = _system_fire(session, rules, ticket, "resolve", now, by=by,
                            extra={"via": "pager", "hook": signer.name},
                            resolution=(resolution or f"Resolved from the pager ({signer.name}).")
                            [:2000])
    return {"dedup_key": key, "action": action, "ticket": tickets.number_of(rules, ticket),
            "state": ticket.state, "applied": done}


def _system_fire(session: Session, rules: Rules, ticket: Ticket, trigger: str, now: datetime, *,
                 by: str, extra: dict[str, Any], resolution: str | None = None) -> bool:
    """Fire ``trigger`` on behalf of a pager (no user): the workflow decides if it applies in
    the state; the history records it. False (and a 'pager_event' history row) if it does not."""
    workflow = rules.workflow(ticket.kind)
    if trigger == "acknowledge" and ticket.acknowledged_at is not None:
        # someone has it already (in the UI, or an earlier pager call): the workflow's
        # ``unacknowledged`` gate, which a person meets as a 409
        append_event(session, ticket, kind="pager_event", actor=None, now=now,
                     data={**extra, "action": trigger, "applied": False,
                           "reason": "already acknowledged"})
        return False
    try:
        to_state = workflow.next_state(ticket.state, trigger, {})
    except InvalidTransition:
        append_event(session, ticket, kind="pager_event", actor=None, now=now,
                     data={**extra, "action": trigger, "applied": False,
                           "reason": f"not possible in state {ticket.state}"})
        return False
    from_state = ticket.state
    if trigger == "acknowledge":
        ticket.acknowledged_at, ticket.acknowledged_by = now, by  # not acknowledged: see above
        ticket.escalation_token += 1
    if resolution:
        ticket.resolution = resolution
    tickets._apply_state(workflow, ticket, from_state, to_state, now)
    if trigger in tickets.RESPONSE_TRIGGERS and ticket.responded_at is None:
        ticket.responded_at = now
    ticket.updated_at = now
    refresh_due(rules, ticket, now)
    session.flush()
    append_event(session, ticket, kind="transition", actor=None, now=now, trigger=trigger,
                 from_state=from_state, to_state=to_state,
                 data={**extra, "by": by, **({"resolution": resolution} if resolution else {})})
    if trigger == "resolve":
        tickets._notify_informed(session, rules, ticket, event=trigger, now=now, deviation=False,
                                 actor=None, data={"from_state": from_state, "to_state": to_state})
    active = active_escalation(session, ticket.id)
    if active is not None:
        _stop(session, rules, ticket, active, now,
              reason="acknowledged" if trigger == "acknowledge" else trigger,
              follow="acknowledge" if trigger == "acknowledge" else "resolve", by=by)
    tickets._after_change(session, rules, ticket, now, trigger)
    session.flush()
    return True


# --- SLA breaches -------------------------------------------------------------------------

def _schedule_sla_check(session: Session, ticket: Ticket, now: datetime, *, new: bool = False
                        ) -> None:
    """One check per ticket and due instant (the message id says which): a new ticket cannot
    have one yet; otherwise the insert is skipped when the check is scheduled already."""
    due = ticket.sla_due_at
    if due is None:
        return
    message_id = f"sla_{ticket.id}_{int(due.timestamp())}"
    (enqueue if new else enqueue_once)(session, "sla_check", {"ticket_id": ticket.id}, now=now,
                                       due_at=max(due, now), ticket_id=ticket.id,
                                       message_id=message_id)


def check_sla(session: Session, rules: Rules, ticket_id: int, now: datetime) -> list[str]:
    """Record each newly breached target as a history event and notify the ticket's A.

    Under the ticket's row lock, as every writer of it: two checks of one ticket falling due
    together (on PostgreSQL each in its own transaction) then read the breaches recorded one
    after the other, and the second finds the first's."""
    ticket = tickets.locked_ticket(session, ticket_id)
    if ticket is None:
        return []
    status = sla_of(rules, ticket, now)
    if status is None:
        return []
    recorded = {e.data.get("target") for e in session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket.id,
                                  TicketEvent.kind == "sla_breach"))}
    breached = []
    for target, flag in (("response", status.response_breached),
                         ("resolution", status.resolution_breached)):
        if flag and target not in recorded:
            breached.append(target)
            due = status.response_due_at if target == "response" else status.resolution_due_at
            append_event(session, ticket, kind="sla_breach", actor=None, now=now,
                         data={"target": target, "due_at": due.isoformat() if due else None,
                               "priority": ticket.priority})
            enqueue(session, "notify", {
                "ticket_id": ticket.id, "party": ticket.accountable_party, "event": "sla_breach",
                "number": tickets.number_of(rules, ticket), "title": ticket.title,
                "state": ticket.state, "actor": None, "deviation": True, "target": target,
            }, now=now, ticket_id=ticket.id)
    if not breached and ticket.sla_due_at is not None and ticket.sla_due_at > now:
        _schedule_sla_check(session, ticket, now)
    return breached


# --- read side for the ticket JSON --------------------------------------------------------

def paging_summary(session: Session, ticket: Ticket) -> dict[str, Any]:
    seen = known.get(session, ticket.id)
    if seen is not None and not seen.paged:
        return _summary(ticket, [], None)  # never paged: nothing to read
    return paging_summaries(session, [ticket])[ticket.id]


def paging_summaries(session: Session, tickets_: list[Ticket]) -> dict[int, dict[str, Any]]:
    """The paging of several tickets in at most two queries (a list page must not cost two per
    row; one when none of them was ever paged)."""
    ids = [t.id for t in tickets_]
    pages_of: dict[int, list[Page]] = {i: [] for i in ids}
    latest: dict[int, Escalation] = {}
    if ids:
        for escalation in session.scalars(select(Escalation).where(id_in(session, Escalation.ticket_id, ids))
                                          .order_by(Escalation.id)):
            latest[escalation.ticket_id] = escalation
    if latest:  # pages belong to escalations: none, no pages to read
        for page in session.scalars(select(Page).where(id_in(session, Page.ticket_id, latest))
                                    .order_by(Page.id)):
            pages_of[page.ticket_id].append(page)
    return {t.id: _summary(t, pages_of[t.id], latest.get(t.id)) for t in tickets_}


def _summary(ticket: Ticket, pages: list[Page], escalation: Escalation | None) -> dict[str, Any]:
    return {
        "pages": [{"level": p.level, "hook": p.hook.name, "action": p.action,
                   "status": p.status, "webhook_id": p.message_id, "attempts": p.attempts,
                   "on_call": p.on_call,
                   "sent_at": p.created_at.isoformat(),
                   "delivered_at": p.delivered_at.isoformat() if p.delivered_at else None}
                  for p in pages],
        "acknowledged_at": ticket.acknowledged_at,
        "party": escalation.party if escalation else None,
        "levels": len(escalation.levels) if escalation else 0,
        "escalating": bool(escalation and escalation.stopped_at is None),
        "acknowledged_by": ticket.acknowledged_by,
    }


def outbox_lag_seconds(session: Session, now: datetime) -> float:
    """How far the oldest due pending outbox row is behind (0 when none is due)."""
    oldest = session.scalar(select(func.min(OutboxMessage.due_at)).where(
        OutboxMessage.status == "pending", OutboxMessage.due_at <= now))
    return max(0.0, (now - oldest).total_seconds()) if oldest else 0.0


if on_ticket_change not in tickets.after_change_hooks:
    tickets.after_change_hooks.append(on_ticket_change)
