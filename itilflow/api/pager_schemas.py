"""Schemas of the pager endpoints (itilflow.api.pager): pager hooks, escalation policies, on-call
schedules, dead letters and the inbound pager call.

Request bodies check types and shapes only (unknown fields: 422, as everywhere in the API); the
values (URLs, secrets, names, time zones, people, instants) are checked by
``itilflow.services.paging`` and ``itilflow.services.oncall``, which report every bad field of a
body at once. Strings are not transformed on load: the services get the body as sent. Responses
describe exactly what ``paging.hook_json``, ``escalation_json``, ``page_json``,
``inbound_event`` and ``oncall.schedule_json``, ``now_json`` return (instants as ISO 8601
strings with an offset).
"""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from itilflow.api.schemas import PARTIES, Body, StrictInt
from itilflow.domain.oncall import MAX_PEOPLE, MAX_WEEKS
from itilflow.domain.paging import HOOK_FORMATS
from itilflow.services.oncall import DEFAULT_TIMEZONE, MAX_OVERRIDES
from itilflow.services.paging import MAX_DELAY_SECONDS, MAX_LEVELS

PAGE_ACTIONS = ["trigger", "acknowledge", "resolve"]
PAGE_STATUSES = ["pending", "delivered", "dead", "cancelled"]
INBOUND_ACTIONS = ["acknowledge", "resolve"]
HOOK_REMOVAL_OUTCOMES = ["deleted", "retired"]
ONCALL_SOURCES = ["override", "ical", "rotation"]


def Instant(**kwargs) -> fields.String:
    """An instant the service formatted already (``datetime.isoformat()``, with an offset)."""
    metadata = {"format": "date-time", **kwargs.pop("metadata", {})}
    return fields.String(required=True, metadata=metadata, **kwargs)


# --- pager hooks ----------------------------------------------------------------------------

class PagerHookIn(Body):
    name = fields.String(required=True, metadata={
        "description": "Unique; at most 100 characters (surrounding spaces are trimmed), no "
                       "control characters"})
    url = fields.String(required=True, metadata={
        "description": "An HTTP or HTTPS URL of at most 2000 characters; loopback and private "
                       "addresses are allowed (on-premises pager gateways)"})
    format = fields.String(required=True, validate=validate.OneOf(HOOK_FORMATS))
    secret = fields.String(allow_none=True, metadata={
        "description": "A Standard Webhooks secret: `whsec_` + base64 of a 16 to 128 byte key. "
                       "Omitted or null: one is generated and returned once"})
    routing_key = fields.String(allow_none=True, validate=validate.Length(min=1, max=200), metadata={
        "description": "The PagerDuty integration key; required for the `pagerduty` format"})


class PagerHookPatch(Body):
    url = fields.String(metadata={"description": "As for a new hook"})
    format = fields.String(validate=validate.OneOf(HOOK_FORMATS))
    routing_key = fields.String(allow_none=True, validate=validate.Length(min=1, max=200))
    secret = fields.String(allow_none=True, metadata={
        "description": "A new Standard Webhooks secret; null: one is generated and returned once. "
                       "The replaced secret keeps signing and verifying until "
                       "`previous_secret_expires_at`, so the receiver can switch in that time"})


class PagerHookOut(ma.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    url = fields.String(required=True)
    format = fields.String(required=True, validate=validate.OneOf(HOOK_FORMATS))
    routing_key = fields.String(required=True, allow_none=True)
    created_at = Instant()
    active = fields.Boolean(required=True, metadata={
        "description": "False once retired (removed after it paged): kept for its pages' "
                       "history, not selectable for escalation levels"})
    previous_secret_expires_at = Instant(allow_none=True, metadata={
        "description": "After a rotation: until when the replaced secret still signs pages and "
                       "verifies pager calls (a past instant: it no longer does); null when "
                       "none is kept. The replaced secret itself is never shown"})
    secret = fields.String(metadata={
        "description": "Only in the answer to the POST or PATCH that generated it (the secret "
                       "was omitted or null); never listed"})


class PagerHookRemovedOut(ma.Schema):
    name = fields.String(required=True)
    outcome = fields.String(required=True, validate=validate.OneOf(HOOK_REMOVAL_OUTCOMES),
                            metadata={"description": "`deleted` when the hook never paged, "
                                                     "`retired` when it did"})


# --- escalation policies ----------------------------------------------------------------------

class EscalationLevelIn(Body):
    hook = fields.String(required=True, metadata={"description": "A pager hook's name"})
    delay_seconds = StrictInt(required=True, validate=validate.Range(0, MAX_DELAY_SECONDS), metadata={
        "description": "How long this level is left unacknowledged before the next is paged"})
    schedule = fields.String(allow_none=True, metadata={
        "description": "An on-call schedule's name: the page names the person on call then"})


class EscalationIn(Body):
    party = fields.String(required=True, validate=validate.OneOf(PARTIES),
                          metadata={"description": "Whose on-call these levels are"})
    levels = fields.List(fields.Nested(EscalationLevelIn), required=True,
                         validate=validate.Length(max=MAX_LEVELS), metadata={
                             "description": "Level 1 first; replaces the party's levels "
                                            "(an empty list removes them)"})


class EscalationLevelOut(ma.Schema):
    position = fields.Integer(required=True, metadata={"description": "1 for the first level"})
    hook = fields.String(required=True)
    delay_seconds = fields.Integer(required=True)
    schedule = fields.String(metadata={"description": "Only on a level with an on-call schedule"})


class EscalationOut(ma.Schema):
    system = fields.String(required=True, metadata={"description": "System key"})
    party = fields.String(required=True, validate=validate.OneOf(PARTIES))
    levels = fields.List(fields.Nested(EscalationLevelOut), required=True)


# --- on-call schedules ------------------------------------------------------------------------

class RotationIn(Body):
    people = fields.List(fields.String(), required=True,
                         validate=validate.Length(min=1, max=MAX_PEOPLE), metadata={
                             "description": "Email addresses or names, in rotation order"})
    handover = fields.String(metadata={
        "description": "Weekday and local time of the handover; default `mon 08:00`"})
    weeks = StrictInt(validate=validate.Range(1, MAX_WEEKS),
                      metadata={"description": "Weeks per turn; default 1"})
    start = fields.String(allow_none=True, metadata={
        "description": "A date, YYYY-MM-DD, when the first person's turn starts; default today"})


class OverrideIn(Body):
    person = fields.String(required=True, metadata={"description": "An email address or a name"})
    start = fields.String(required=True, metadata={"description": "ISO 8601 with an offset"})
    end = fields.String(required=True, metadata={"description": "ISO 8601 with an offset, after start"})


class ScheduleIn(Body):
    """At least one of ``rotation``, ``ical`` and ``overrides`` (422 from the service otherwise)."""

    name = fields.String(required=True, metadata={
        "description": "Unique; at most 100 characters (surrounding spaces are trimmed)"})
    timezone = fields.String(validate=validate.Length(min=1, max=64), metadata={
        "description": f"An IANA time zone; default {DEFAULT_TIMEZONE}"})
    rotation = fields.Nested(RotationIn, allow_none=True)
    overrides = fields.List(fields.Nested(OverrideIn), allow_none=True,
                            validate=validate.Length(max=MAX_OVERRIDES),
                            metadata={"description": "Who is on call instead, and when"})
    ical = fields.String(allow_none=True, metadata={
        "description": "An iCalendar text (BEGIN:VCALENDAR ...): each event names the person on "
                       "call (SUMMARY or an ATTENDEE mailto)"})


class SchedulePatch(Body):
    """The fields given replace the schedule's; ``rotation: null`` or ``ical: null`` removes
    it (the schedule must still name someone: 422 otherwise)."""

    name = fields.String(metadata={"description": "A new unique name (409 when taken)"})
    timezone = fields.String(validate=validate.Length(min=1, max=64),
                             metadata={"description": "An IANA time zone"})
    rotation = fields.Nested(RotationIn, allow_none=True)
    overrides = fields.List(fields.Nested(OverrideIn), allow_none=True,
                            validate=validate.Length(max=MAX_OVERRIDES),
                            metadata={"description": "Replaces the whole list"})
    ical = fields.String(allow_none=True, metadata={"description": "As for a new schedule"})


class RotationOut(ma.Schema):
    people = fields.List(fields.String(), required=True)
    handover = fields.String(required=True, metadata={"example": "mon 08:00"})
    weeks = fields.Integer(required=True)
    start = fields.String(required=True, metadata={"format": "date"})


class OverrideOut(ma.Schema):
    person = fields.String(required=True)
    start = Instant()
    end = Instant()


class ScheduleOut(ma.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    timezone = fields.String(required=True)
    rotation = fields.Nested(RotationOut, required=True, allow_none=True)
    overrides = fields.List(fields.Nested(OverrideOut), required=True)
    ical = fields.Boolean(required=True, metadata={"description": "Whether it has an iCalendar"})
    created_at = Instant()
    updated_at = Instant()


class OnCallQuery(ma.Schema):
    at = fields.String(metadata={
        "description": "ISO 8601 date-time with an offset (e.g. `2026-11-24T19:00:00Z`); "
                       "default now"})


class OnCallNowOut(ma.Schema):
    schedule = fields.String(required=True)
    at = Instant(metadata={"description": "The instant asked about, in UTC"})
    on_call = fields.String(required=True, allow_none=True,
                            metadata={"description": "The person on call; null when nobody"})
    source = fields.String(required=True, allow_none=True, validate=validate.OneOf(ONCALL_SOURCES))
    since = Instant(allow_none=True)
    until = Instant(allow_none=True, metadata={"description": "Null when open-ended"})


# --- dead letters -----------------------------------------------------------------------------

class PageOut(ma.Schema):
    id = fields.Integer(required=True)
    ticket = fields.String(required=True, allow_none=True, metadata={"example": "INC-000042"})
    level = fields.Integer(required=True)
    hook = fields.String(required=True)
    action = fields.String(required=True, validate=validate.OneOf(PAGE_ACTIONS))
    dedup_key = fields.String(required=True)
    webhook_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(PAGE_STATUSES))
    attempts = fields.Integer(required=True)
    last_status_code = fields.Integer(required=True, allow_none=True)
    last_error = fields.String(required=True, allow_none=True)
    created_at = Instant()
    delivered_at = Instant(allow_none=True)


# --- inbound ----------------------------------------------------------------------------------

class PagerEventIn(ma.Schema):
    """Documentation only: the view hands the raw body to ``paging.inbound_event``, which checks
    the signature before it reads any field (an unsigned call is a 401 whatever its body)."""

    class Meta:
        unknown = ma.INCLUDE

    dedup_key = fields.String(required=True, validate=validate.Length(max=100), metadata={
        "description": "The dedup_key of the page being answered"})
    action = fields.String(required=True, validate=validate.OneOf(INBOUND_ACTIONS))
    resolution = fields.String(metadata={
        "description": "With `resolve`: the resolution text (at most 2000 characters kept)"})


class PagerEventOut(ma.Schema):
    dedup_key = fields.String(required=True)
    action = fields.String(required=True, validate=validate.OneOf(INBOUND_ACTIONS))
    ticket = fields.String(required=True, metadata={"example": "INC-000042"})
    state = fields.String(required=True, metadata={"description": "The ticket's state after the call"})
    applied = fields.Boolean(required=True, metadata={
        "description": "False when the workflow does not allow the action in the ticket's state "
                       "(the history says so)"})
