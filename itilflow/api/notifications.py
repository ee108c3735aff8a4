"""The caller's notifications inbox over HTTP: what the organisation was told, and the team's
"read" mark. Thin: ``itilflow.services.notifications`` decides whose inbox it is."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields, validate

from itilflow.api.auth import authenticate_first, current_actor
from itilflow.api.errors import API_PREFIX, error_docs
from itilflow.api.schemas import Body, Query, QueryInt, StrictInt
from itilflow.models.paging import Notification
from itilflow.runtime import db, utcnow
from itilflow.services import notifications

blp = Blueprint("notifications", __name__, url_prefix=API_PREFIX,
                description="The notifications inbox of the caller's organisation")
authenticate_first(blp)
errors = error_docs(blp)


class NotificationOut(ma.Schema):
    id = fields.Integer(required=True)
    ticket_id = fields.Integer(required=True, allow_none=True,
                               metadata={"description": "null for a security alert (admins)"})
    party = fields.String(required=True)
    event = fields.String(required=True)
    message = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    read_at = fields.DateTime(required=True, allow_none=True)


class NotificationPage(ma.Schema):
    items = fields.List(fields.Nested(NotificationOut), required=True)
    next_before = fields.Integer(required=True, allow_none=True, metadata={
        "description": "pass as `before` for the next (older) page; null on the last"})


class InboxQuery(Query):
    before = QueryInt(validate=validate.Range(min=1, max=2**31 - 1), metadata={
        "description": "`next_before` of the previous page"})


class ReadIn(Body):
    ids = fields.List(StrictInt(validate=validate.Range(min=1, max=2**31 - 1)),
                      validate=validate.Length(max=500), metadata={
                          "description": "the notifications to mark read; omitted: all of them"})


class ReadOut(ma.Schema):
    marked = fields.Integer(required=True, metadata={"description": "how many were unread"})


def notification_view(note: Notification) -> dict[str, Any]:
    return {"id": note.id, "ticket_id": note.ticket_id, "party": note.party, "event": note.event,
            "message": note.message, "created_at": note.created_at, "read_at": note.read_at}


@blp.route("/notifications")
class Inbox(MethodView):
    @blp.arguments(InboxQuery, location="query", as_kwargs=True, unknown=ma.RAISE)
    @blp.response(200, NotificationPage)
    @errors(401, 403)
    def get(self, before: int | None = None):
        """The newest notifications of the caller's organisation (agents, managers, admins)"""
        _, actor = current_actor()
        rows, next_before = notifications.inbox(db(), actor, before=before)
        return {"items": [notification_view(n) for n in rows], "next_before": next_before}


@blp.route("/notifications/read")
class MarkRead(MethodView):
    @blp.arguments(ReadIn)
    @blp.response(200, ReadOut)
    @errors(400, 401, 403, 413)
    def post(self, data):
        """Mark notifications read for the whole team (all of them without ``ids``)"""
        _, actor = current_actor()
        return {"marked": notifications.mark_read(db(), actor, data.get("ids"), now=utcnow())}
