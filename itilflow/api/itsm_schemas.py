"""Schemas of the change, problem and service-request endpoints (itilflow.api.itsm)."""

from __future__ import annotations

from datetime import datetime

import marshmallow as ma
from marshmallow import fields, validate

from itilflow.api.schemas import LAYERS, PARTIES, Body, StrictBool, StrictInt, Text
from itilflow.services.requests import REQUEST_ACTIVITIES

#: instants outside these years are refused (422): nothing is planned in year 1 or 9999
YEARS = (1970, 2999)


def _sane_year(value: datetime) -> None:
    if not YEARS[0] <= value.year <= YEARS[1]:
        raise ma.ValidationError(f"The year must be between {YEARS[0]} and {YEARS[1]}.")


def Instant(**kwargs) -> fields.AwareDateTime:
    return fields.AwareDateTime(format="iso", validate=_sane_year, **kwargs)


# --- requests -------------------------------------------------------------------------------

class RequestIn(Body):
    system = Text(required=True, min_length=1, max_length=64, metadata={"description": "System key"})
    environment = Text(required=True, min_length=1, max_length=40)
    layer = fields.String(required=True, validate=validate.OneOf(LAYERS))
    activity = fields.String(required=True, validate=validate.OneOf(list(REQUEST_ACTIVITIES)),
                             metadata={"description": "The matrix row the request is for"})
    title = Text(required=True, min_length=1, max_length=200)
    description = Text(max_length=20_000)
    on_request = StrictBool(metadata={
        "description": "Ask the conditional R of the cell (footnote 7); 422 where there is none"})
    impact = StrictInt(validate=validate.Range(1, 3))
    urgency = StrictInt(validate=validate.Range(1, 3))


# --- changes: calendar, CAB, warnings -----------------------------------------------------

class RescheduleIn(Body):
    planned_start = Instant(required=True)
    planned_end = Instant(required=True)
    comment = Text(max_length=10_000, metadata={"description": "Why the window moves"})


class CalendarQuery(ma.Schema):
    """``from``/``to`` (or ``start``/``end``): ISO date-times with offset, at most 400 days."""

    start_from = Instant(data_key="from")
    end_to = Instant(data_key="to")
    start = Instant()
    end = Instant()
    system = Text(max_length=64, metadata={"description": "System key"})
    include_inactive = fields.Boolean(load_default=False, metadata={
        "description": "Also cancelled and rejected changes"})

    @ma.validates_schema
    def one_of_each(self, data, **_kwargs):
        errors = {}
        for new, old, name in (("start_from", "start", "from"), ("end_to", "end", "to")):
            if (data.get(new) is None) == (data.get(old) is None):
                errors[name] = ["Give exactly one of " + (
                    "from or start." if name == "from" else "to or end.")]
        if errors:
            raise ma.ValidationError(errors)


class CalendarItem(ma.Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    title = fields.String(required=True)
    state = fields.String(required=True)
    system = fields.String(required=True)
    environment = fields.String(required=True)
    layer = fields.String(required=True, allow_none=True)
    affected_layers = fields.List(fields.String(), required=True)
    activity = fields.String(required=True)
    change_type = fields.String(required=True, allow_none=True)
    template = fields.String(required=True, allow_none=True)
    planned_start = fields.String(required=True, allow_none=True)
    planned_end = fields.String(required=True, allow_none=True)
    responsible_party = fields.String(required=True)
    accountable_party = fields.String(required=True)
    risk = fields.Raw(required=True, allow_none=True)
    impact_assessment = fields.Raw(required=True, allow_none=True)
    outcome = fields.String(required=True, allow_none=True)
    warnings = fields.List(fields.Dict(), required=True)


class CalendarPage(ma.Schema):
    items = fields.List(fields.Nested(CalendarItem), required=True)


class CabItem(CalendarItem):
    awaiting = fields.String(required=True,
                             validate=validate.OneOf(["approval", "emergency_authorisation"]))
    pending_approvals = fields.List(fields.String(), required=True)
    approvals = fields.List(fields.Dict(), required=True)
    can_approve = fields.Boolean(required=True)


class CabPage(ma.Schema):
    items = fields.List(fields.Nested(CabItem), required=True)


class WarningsPage(ma.Schema):
    items = fields.List(fields.Dict(), required=True)


# --- consultations, waiting on whom ---------------------------------------------------------

class ConsultationOut(ma.Schema):
    id = fields.Integer(required=True)
    stage = fields.String(required=True, metadata={"description": "The activity consulted on"})
    party = fields.String(required=True, validate=validate.OneOf(PARTIES))
    question = fields.String(required=True, allow_none=True)
    asked_by = fields.String(required=True, allow_none=True)
    asked_at = fields.String(required=True)
    answer = fields.String(required=True, allow_none=True)
    answered_by = fields.String(required=True, allow_none=True)
    answered_at = fields.String(required=True, allow_none=True)
    open = fields.Boolean(required=True)


class ConsultationPage(ma.Schema):
    items = fields.List(fields.Nested(ConsultationOut), required=True)


class GateOut(ma.Schema):
    trigger = fields.String(required=True)
    label = fields.String(required=True, allow_none=True)
    activity = fields.String(required=True, allow_none=True)
    waiting_on = fields.List(fields.String(), required=True)


class ApprovalsOut(ma.Schema):
    required = fields.List(fields.String(), required=True)
    given = fields.List(fields.Dict(), required=True)
    pending = fields.List(fields.String(), required=True)


class WaitingOnOut(ma.Schema):
    ticket = fields.String(required=True)
    state = fields.String(required=True)
    responsible_party = fields.String(required=True)
    assignee = fields.String(required=True, allow_none=True)
    consultations = fields.List(fields.Nested(ConsultationOut), required=True)
    gates = fields.List(fields.Nested(GateOut), required=True)
    approvals = fields.Nested(ApprovalsOut, required=True, allow_none=True)
    waiting_on_parties = fields.List(fields.String(), required=True)


# --- templates and freezes --------------------------------------------------------------

class TemplateIn(Body):
    key = fields.String(required=True, validate=validate.Regexp(
        r"^[a-z0-9][a-z0-9_-]{0,63}$", error="Lower-case letters, digits, - and _, at most 64."))
    name = Text(required=True, min_length=1, max_length=200)
    activity = Text(required=True, min_length=1, max_length=60,
                    metadata={"description": "A matrix activity, e.g. patch_management"})
    layer = fields.String(required=True, validate=validate.OneOf(LAYERS))
    description = Text(max_length=20_000)


class TemplatePatch(Body):
    active = StrictBool(required=True)


class TemplateOut(ma.Schema):
    key = fields.String(required=True)
    name = fields.String(required=True)
    activity = fields.String(required=True)
    layer = fields.String(required=True)
    description = fields.String(required=True, allow_none=True)
    active = fields.Boolean(required=True)
    raci = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


class TemplatePage(ma.Schema):
    items = fields.List(fields.Nested(TemplateOut), required=True)


class TemplateQuery(ma.Schema):
    include_inactive = fields.Boolean(load_default=False)


class TemplatePath(ma.Schema):
    key = fields.String(required=True)


class FreezeIn(Body):
    name = Text(required=True, min_length=1, max_length=200)
    starts_at = Instant(required=True)
    ends_at = Instant(required=True)
    customer = Text(min_length=1, max_length=200, metadata={
        "description": "A customer's name: the freeze is that customer's (omit both: global)"})
    system = Text(min_length=1, max_length=64, metadata={"description": "A system key"})
    reason = Text(max_length=2_000)


class FreezeOut(ma.Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    reason = fields.String(required=True, allow_none=True)
    starts_at = fields.String(required=True)
    ends_at = fields.String(required=True)
    customer_id = fields.Integer(required=True, allow_none=True)
    system_id = fields.Integer(required=True, allow_none=True)


class FreezePage(ma.Schema):
    items = fields.List(fields.Nested(FreezeOut), required=True)


class FreezeQuery(ma.Schema):
    start = Instant()
    end = Instant()


# --- problems ----------------------------------------------------------------------------

class LinkIn(Body):
    incident = Text(required=True, min_length=1, max_length=20, metadata={
        "description": "The incident's id or number, as a string (`42` or `INC-000042`)"})


class ResolveIncidentsIn(Body):
    resolution = Text(max_length=20_000, metadata={
        "description": "Default: Resolved by PRB-...: <the problem's resolution>"})


class ResolveResult(ma.Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    result = fields.String(required=True, validate=validate.OneOf(
        ["resolved", "already_resolved", "not_permitted", "failed"]))
    state = fields.String(required=True)
    reason = fields.String()


class ResolvePage(ma.Schema):
    items = fields.List(fields.Nested(ResolveResult), required=True)


class TicketSummary(ma.Schema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    title = fields.String(required=True)
    state = fields.String(required=True)
    layer = fields.String(required=True, allow_none=True)
    system = fields.String(required=True)
    responsible_party = fields.String(required=True)


class LinkedIncident(TicketSummary):
    can_resolve = fields.Boolean(required=True)


class LinkedIncidentPage(ma.Schema):
    items = fields.List(fields.Nested(LinkedIncident), required=True)


class SummaryPage(ma.Schema):
    items = fields.List(fields.Nested(TicketSummary), required=True)


class KnownError(TicketSummary):
    workaround = fields.String(required=True)
    root_cause = fields.String(required=True, allow_none=True)
    matched_words = fields.List(fields.String(), required=True)
    score = fields.Integer(required=True)
    linked = fields.Boolean(metadata={"description": "Linked to the incident asked about"})


class KnownErrorPage(ma.Schema):
    items = fields.List(fields.Nested(KnownError), required=True)


class KnownErrorQuery(ma.Schema):
    q = Text(max_length=200, metadata={"description": "Words of the title or root cause"})
    system = Text(max_length=64, metadata={"description": "System key"})
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 50))


class IncidentPath(ma.Schema):
    ticket_id = fields.String(required=True)
    incident = fields.String(required=True)
