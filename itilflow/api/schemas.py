"""The API's marshmallow schemas: request bodies are strict (unknown fields are refused with 422,
types are never coerced), responses describe exactly what the views return. The OpenAPI document
is generated from these."""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from itilflow.domain.parties import Layer, OrgKind, Role
from itilflow.services import access_log
from itilflow.services.directory import MAX_ENVIRONMENTS

#: any character but the C0 controls (tab, newline and carriage return allowed) and DEL
NO_CONTROL = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]*$"
LAYERS = [layer.value for layer in Layer]
ROLES = [role.value for role in Role]
ORG_KINDS = [kind.value for kind in OrgKind]
PRIORITIES = ["P1", "P2", "P3", "P4", "P5"]
PARTIES = ["customer", "provider"]


class Text(fields.String):
    """A string without control characters (422 otherwise); documented with a pattern."""

    def __init__(self, *args: Any, max_length: int | None = None, min_length: int | None = None,
                 **kwargs: Any) -> None:
        validators = list(kwargs.pop("validate", []) or [])
        validators.append(validate.Regexp(NO_CONTROL, error="Control characters are not allowed."))
        if max_length is not None or min_length is not None:
            validators.append(validate.Length(min=min_length, max=max_length))
        super().__init__(*args, validate=validators, **kwargs)


class StrictInt(fields.Integer):
    """An integer given as a JSON number, never a string, float or boolean."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


#: a whole number as a query string writes it: ASCII digits, an optional minus, no spaces
QUERY_INT = re.compile(r"-?[0-9]{1,19}")


class QueryInt(fields.Integer):
    """A whole number in a query string: ASCII digits only. Not `` 5``, ``+5``, ``5.0`` or
    another script's digits (``\u0663``), all of which ``int()`` would take."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str) or not QUERY_INT.fullmatch(value):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBool(fields.Boolean):
    """``true`` or ``false``, nothing truthy."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class Body(ma.Schema):
    """Request bodies: unknown fields are refused (422), consistently."""

    class Meta:
        unknown = ma.RAISE


# --- errors -------------------------------------------------------------------------------

class ErrorSchema(ma.Schema):
    status = fields.Integer(required=True, metadata={"description": "The HTTP status code"})
    message = fields.String(required=True, metadata={"description": "What went wrong"})
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()), required=True,
                         metadata={"description": "Per field: the reasons it was refused"})


# --- directory ------------------------------------------------------------------------------

class OrganisationIn(Body):
    name = Text(required=True, min_length=1, max_length=200)
    kind = fields.String(required=True, validate=validate.OneOf(ORG_KINDS))


class OrganisationOut(ma.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(ORG_KINDS))
    created_at = fields.DateTime(required=True)


class UserIn(Body):
    email = Text(required=True, min_length=3, max_length=254)
    name = Text(max_length=200)
    organisation = Text(required=True, min_length=1, max_length=200)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=10, max=1024))


class UserPatch(Body):
    name = Text(min_length=1, max_length=200)
    role = fields.String(validate=validate.OneOf(ROLES),
                         metadata={"description": "Must fit the user's organisation's kind"})
    active = StrictBool(metadata={
        "description": "false: the user cannot sign in; their sessions end and their API "
                       "tokens are revoked at once"})
    password = fields.String(load_only=True, validate=validate.Length(min=10, max=1024))


class UserOut(ma.Schema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)
    name = fields.String(required=True)
    organisation = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    active = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)


class SystemOptions(Body):
    load_balancer = StrictBool()
    dedicated_physical = StrictBool()


class SystemOptionsOut(ma.Schema):
    load_balancer = fields.Boolean(required=True)
    dedicated_physical = fields.Boolean(required=True)


ENV_FIELD = Text(min_length=1, max_length=40)


class SystemIn(Body):
    key = fields.String(required=True, validate=validate.Regexp(
        r"^[a-z0-9][a-z0-9_-]{0,63}$", error="Lower-case letters, digits, - and _, at most 64."))
    name = Text(required=True, min_length=1, max_length=200)
    customer = Text(required=True, min_length=1, max_length=200)
    environments = fields.List(Text(min_length=1, max_length=40), required=True,
                               validate=validate.Length(min=1, max=MAX_ENVIRONMENTS))
    vagtordning = StrictBool(load_default=False)
    options = fields.Nested(SystemOptions)
    suppliers = fields.List(Text(min_length=1, max_length=200), validate=validate.Length(max=50))


class SystemPatch(Body):
    name = Text(min_length=1, max_length=200)
    environments = fields.List(Text(min_length=1, max_length=40),
                               validate=validate.Length(min=1, max=MAX_ENVIRONMENTS))
    vagtordning = StrictBool()
    options = fields.Nested(SystemOptions)
    suppliers = fields.List(Text(min_length=1, max_length=200), validate=validate.Length(max=50))


class SystemOut(ma.Schema):
    key = fields.String(required=True)
    name = fields.String(required=True)
    customer = fields.String(required=True)
    environments = fields.List(fields.String(), required=True)
    vagtordning = fields.Boolean(required=True)
    options = fields.Nested(SystemOptionsOut, required=True)
    suppliers = fields.List(fields.String(), required=True)


class SystemPath(ma.Schema):
    key = fields.String(required=True)


# --- tokens ---------------------------------------------------------------------------------

class TokenIn(Body):
    name = Text(max_length=100, load_default="api",
                metadata={"description": "A label to recognise the token by"})


class TokenOut(ma.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    prefix = fields.String(required=True, metadata={"description": "The token's first characters"})
    created_at = fields.DateTime(required=True)
    last_used_at = fields.DateTime(required=True, allow_none=True)
    revoked_at = fields.DateTime(required=True, allow_none=True)


class NewTokenOut(TokenOut):
    token = fields.String(required=True, metadata={
        "description": "The secret, shown this once; send it as `Authorization: Bearer <token>`"})


# --- tickets --------------------------------------------------------------------------------

class IncidentIn(Body):
    system = Text(required=True, min_length=1, max_length=64, metadata={"description": "System key"})
    environment = Text(required=True, min_length=1, max_length=40)
    layer = fields.String(allow_none=True, validate=validate.OneOf(LAYERS), metadata={
        "description": "Omitted or null: unknown, the ticket goes to SIT's service desk for triage"})
    title = Text(required=True, min_length=1, max_length=200)
    description = Text(max_length=20_000)
    impact = StrictInt(required=True, validate=validate.Range(1, 3))
    urgency = StrictInt(required=True, validate=validate.Range(1, 3))
    outage = StrictBool()
    reporter = Text(max_length=254, metadata={
        "description": "Agents and managers: the email of the caller the incident is logged for "
                       "(a user of the system's customer, or of SIT); omitted: the caller"})


class ProblemIn(Body):
    system = Text(required=True, min_length=1, max_length=64)
    layer = fields.String(required=True, validate=validate.OneOf(LAYERS))
    title = Text(required=True, min_length=1, max_length=200)
    description = Text(max_length=20_000)
    incidents = fields.List(StrictInt(validate=validate.Range(1, 2**31 - 1)),
                            validate=validate.Length(max=200),
                            metadata={"description": "Ids of the incidents this problem explains"})


class ChangeIn(Body):
    """With ``template``, ``layer``, ``title`` and ``change_type`` come from the template (a
    standard change); without one they are required (422 from the service otherwise)."""

    system = Text(required=True, min_length=1, max_length=64)
    environment = Text(required=True, min_length=1, max_length=40)
    layer = fields.String(validate=validate.OneOf(LAYERS))
    change_type = fields.String(validate=validate.OneOf(["standard", "normal", "emergency"]))
    title = Text(min_length=1, max_length=200)
    template = Text(min_length=1, max_length=64, metadata={"description": "A change template's key"})
    affected_layers = fields.List(fields.String(validate=validate.OneOf(LAYERS)),
                                  validate=validate.Length(max=len(LAYERS)), metadata={
                                      "description": "Other layers the change touches: their A "
                                                     "must approve too"})
    description = Text(max_length=20_000)
    planned_start = fields.AwareDateTime(required=True, format="iso")
    planned_end = fields.AwareDateTime(required=True, format="iso")


class TransitionIn(ma.Schema):
    """``trigger`` and ``version`` plus the trigger's own fields; a field the trigger does not
    take is refused with 422 by the engine, which knows each trigger's fields."""

    class Meta:
        unknown = ma.INCLUDE

    trigger = fields.String(required=True, validate=[validate.Length(min=1, max=60),
                                                     validate.Regexp(r"^[a-z_]+$")])
    comment = Text(max_length=10_000)
    version = StrictInt(validate=validate.Range(1, 2**31 - 1), metadata={
        "description": "The version you read; a stale version is refused with 409"})


class CommentIn(Body):
    body = Text(required=True, min_length=1, max_length=20_000)


class TicketLink(ma.Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)


class PagingOut(ma.Schema):
    class Meta:
        unknown = ma.INCLUDE

    pages = fields.List(fields.Dict(), required=True)
    acknowledged_at = fields.DateTime(required=True, allow_none=True)
    party = fields.String(required=True, allow_none=True, validate=validate.OneOf(PARTIES),
                          metadata={"description": "Whose on-call is being escalated, if any"})
    levels = fields.Integer(required=True, metadata={"description": "Escalation levels configured"})
    escalating = fields.Boolean(required=True, metadata={
        "description": "The escalation is running (not acknowledged or stopped)"})
    acknowledged_by = fields.String(required=True, allow_none=True)


class TicketOut(ma.Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True, metadata={"example": "INC-000042"})
    kind = fields.String(required=True)
    state = fields.String(required=True)
    title = fields.String(required=True)
    description = fields.String(required=True)
    system = fields.String(required=True, metadata={"description": "System key"})
    environment = fields.String(required=True)
    layer = fields.String(required=True, allow_none=True, validate=validate.OneOf(LAYERS))
    activity = fields.String(required=True)
    impact = fields.Integer(required=True)
    urgency = fields.Integer(required=True)
    priority = fields.String(required=True, validate=validate.OneOf(PRIORITIES))
    raci = fields.Dict(keys=fields.String(), values=fields.String(), required=True,
                       metadata={"example": {"customer": "I", "provider": "AR"}})
    responsible_party = fields.String(required=True, validate=validate.OneOf(PARTIES))
    accountable_party = fields.String(required=True, validate=validate.OneOf(PARTIES))
    assignee = fields.String(required=True, allow_none=True, metadata={"description": "Email"})
    reporter = fields.String(required=True, allow_none=True, metadata={"description": "Email"})
    available_transitions = fields.List(fields.String(), required=True)
    after_hours = fields.Boolean(required=True)
    sla = fields.Dict(required=True, allow_none=True)
    paging = fields.Nested(PagingOut, required=True)
    outage = fields.Boolean(required=True)
    resolution = fields.String(required=True, allow_none=True)
    details = fields.Dict(required=True)
    incidents = fields.List(fields.Nested(TicketLink), required=True)
    problems = fields.List(fields.Nested(TicketLink), required=True)
    version = fields.Integer(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class TicketPage(ma.Schema):
    items = fields.List(fields.Nested(TicketOut), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class Query(ma.Schema):
    """Query parameters. Unknown ones are refused (422), like unknown body fields; so is a
    single-valued one given twice, which would otherwise silently be its first value."""

    @ma.pre_load
    def _once(self, data: Any, **_kwargs: Any) -> Any:
        getlist = getattr(getattr(data, "data", None), "getlist", None)  # webargs' proxy
        if getlist is not None:
            # named as the client wrote them (``from``, not the attribute ``start_from``)
            twice = {field.data_key or name: ["Give this parameter once."]
                     for name, field in self.fields.items()
                     if not isinstance(field, fields.List)
                     and len(getlist(field.data_key or name)) > 1}
            if twice:
                raise ma.ValidationError(twice)
        return data


#: a filter takes at most this many values
MAX_FILTER_VALUES = 20


class Repeated(fields.List):
    """A query parameter given once or more; a bad value is an error of the parameter (not of
    ``name.0``, its position), as when it is given once."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        try:
            return super()._deserialize(value, attr, data, **kwargs)
        except ma.ValidationError as exc:
            messages = exc.messages.values() if isinstance(exc.messages, dict) else [exc.messages]
            raise ma.ValidationError(list(dict.fromkeys(
                m for inner in messages for m in (inner if isinstance(inner, list) else [inner])
            ))) from None


def any_of(value: fields.Field, what: str) -> fields.List:
    """A filter that takes several values (the parameter repeated): a ticket matches any."""
    return Repeated(value, validate=validate.Length(max=MAX_FILTER_VALUES), metadata={
        "description": f"{what}. Repeat the parameter for several (a ticket matches any of "
                       f"them, e.g. `kind=incident&kind=change`); at most {MAX_FILTER_VALUES}."})


class TicketQuery(Query):
    """A value no ticket can have (an unknown kind, state or system) is refused by the service
    (422), as the choices of the other filters are here."""

    kind = any_of(Text(min_length=1, max_length=40),
                  "incident, problem, change or request (the kinds of the loaded workflows)")
    state = any_of(Text(max_length=40), "A state of the kinds asked for (of any kind without "
                                        "`kind`)")
    party = any_of(fields.String(validate=validate.OneOf(PARTIES)), "The responsible party")
    layer = any_of(fields.String(validate=validate.OneOf([*LAYERS, "unknown"])),
                   "A layer; `unknown`: not yet classified")
    system = any_of(Text(min_length=1, max_length=64), "A system key the caller may see")
    priority = any_of(fields.String(validate=validate.OneOf(PRIORITIES)), "A priority")
    q = Text(max_length=200, metadata={"description": "Words of the title, or a ticket number"})
    cursor = Text(max_length=100, metadata={"description": "next_cursor of the previous page"})
    limit = QueryInt(load_default=50, validate=validate.Range(1, 200))


class EventQuery(Query):
    cursor = Text(max_length=100, metadata={
        "description": "next_cursor of the previous page (implies paging)"})
    limit = QueryInt(validate=validate.Range(1, 200), metadata={
        "description": "Page size. Given (or `cursor`): the answer is a page `{items, "
                       "next_cursor}`; omitted: the whole history as a list"})


class NoQuery(Query):
    """An operation without query parameters: any is refused (422)."""


class TicketPath(ma.Schema):
    ticket_id = fields.String(required=True)


class EventOut(ma.Schema):
    seq = fields.Integer(required=True)
    kind = fields.String(required=True, metadata={
        "description": "created, transition, handover, comment, linked, page, ..."})
    trigger = fields.String(required=True, allow_none=True)
    from_state = fields.String(required=True, allow_none=True)
    to_state = fields.String(required=True, allow_none=True)
    actor = fields.String(required=True, allow_none=True, metadata={"description": "Email"})
    actor_label = fields.String(required=True)
    data = fields.Dict(required=True)
    created_at = fields.DateTime(required=True)


class EventPage(ma.Schema):
    items = fields.List(fields.Nested(EventOut), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


# --- the monthly report, outage corrections and the access log ---------------------------

FORMAT = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]),
                       metadata={"description": "`json` (default) or `csv`"})


class MonthlyQuery(Query):
    customer = Text(max_length=200, metadata={
        "description": "The customer's name; omitted (or `all`): SIT staff get all customers, "
                       "a customer's staff their own organisation"})
    month = Text(required=True, max_length=20, metadata={"description": "YYYY-MM",
                                                          "example": "2026-10"})
    format = FORMAT


#: the monthly report's two shapes: JSON (its sections as in docs/reports.md) or CSV
MONTHLY_ANSWER = {"description": "The report: JSON, or CSV with `format=csv`", "content": {
    "application/json": {"schema": {"type": "object"}},
    "text/csv": {"schema": {"type": "string"}}}}


class OutageIn(Body):
    start = Text(required=True, max_length=64, metadata={
        "description": "ISO 8601 date-time with offset: when the outage began"})
    end = Text(allow_none=True, max_length=64, metadata={
        "description": "ISO 8601 date-time with offset; null (or omitted) while it lasts"})
    reason = Text(required=True, max_length=2000, metadata={"description": "Why it is corrected"})


class OutageOut(ma.Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    outage = fields.Boolean(required=True)
    outage_start = fields.String(required=True, allow_none=True)
    outage_end = fields.String(required=True, allow_none=True)
    version = fields.Integer(required=True)


class AccessQuery(Query):
    actor = Text(min_length=1, max_length=254, metadata={"description": "The actor's email"})
    action = fields.String(validate=validate.OneOf(access_log.ACTIONS))
    since = Text(min_length=1, max_length=64, metadata={
        "description": "ISO 8601 date or date-time (UTC without an offset): at or after"})
    until = Text(min_length=1, max_length=64, metadata={
        "description": "ISO 8601 date or date-time (UTC without an offset): before"})
    target = Text(min_length=1, max_length=200, metadata={
        "description": "e.g. a ticket number"})
    before = QueryInt(validate=validate.Range(1, 2**31 - 1), metadata={
        "description": "`next_before` of the previous page"})
    limit = QueryInt(load_default=100, validate=validate.Range(1, access_log.PAGE_MAX))
    format = FORMAT


class AccessEntryOut(ma.Schema):
    seq = fields.Integer(required=True)
    at = fields.String(required=True, metadata={"description": "ISO 8601, UTC"})
    action = fields.String(required=True)
    actor = fields.String(required=True, allow_none=True, metadata={"description": "Email"})
    remote_addr = fields.String(required=True, allow_none=True)
    method = fields.String(required=True, allow_none=True)
    path = fields.String(required=True, allow_none=True)
    status = fields.Integer(required=True, allow_none=True)
    target = fields.String(required=True, allow_none=True)
    data = fields.Dict(required=True)


class AccessPage(ma.Schema):
    items = fields.List(fields.Nested(AccessEntryOut), required=True)
    next_before = fields.Integer(required=True, allow_none=True, metadata={
        "description": "pass as `before` for the next (older) page; null on the last"})


#: the access log: a page of JSON, or with ``format=csv`` everything that matches, oldest first
ACCESS_ANSWER = {"description": "A page of the log; with `format=csv` all that matches",
                 "content": {"application/json": {"schema": AccessPage},
                             "text/csv": {"schema": {"type": "string"}}}}
