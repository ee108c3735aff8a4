"""The compiled dump gives exactly what the marshmallow schema's dump gives."""

from __future__ import annotations

from datetime import UTC, datetime

import marshmallow as ma
from marshmallow import fields
from sqlalchemy import select

from itilflow.api import fast_dump
from itilflow.api import schemas as s
from itilflow.api.tickets import links_of, ticket_view
from itilflow.models import Ticket
from itilflow.services import ticket_pages
from itilflow.services.paging_view import paging_of_many
from tests.conftest import WORK_TIME
from tests.services.test_ticket_pages import _mixed_page


class Inner(ma.Schema):
    n = fields.Integer()
    label = fields.String(data_key="name")


class Outer(ma.Schema):
    id = fields.Integer()
    text = fields.String(allow_none=True)
    when = fields.DateTime(allow_none=True)
    flag = fields.Boolean()
    codes = fields.Dict(keys=fields.String(), values=fields.String())
    raw = fields.Dict()
    words = fields.List(fields.String())
    one = fields.Nested(Inner, allow_none=True)
    many = fields.List(fields.Nested(Inner))
    nested_many = fields.Nested(Inner, many=True)
    fallback = fields.String(dump_default="none given")
    computed = fields.Function(lambda obj: len(obj))


class Hooked(ma.Schema):
    x = fields.Integer()

    @ma.post_dump
    def double(self, data, **_kwargs):
        return {"x": data["x"] * 2}


def test_compiled_dump_equals_the_schemas():
    rows = [
        {"id": "7", "text": 12, "when": datetime(2026, 3, 29, 1, 30, tzinfo=UTC), "flag": 0,
         "codes": {"a": 1}, "raw": {"k": [1, 2]}, "words": ["x", 3], "one": {"n": 1.0,
         "label": b"bytes"}, "many": [{"n": 2}, {"label": "l"}], "nested_many": [{}],
         "ignored": "not declared"},
        {"id": None, "text": None, "when": None, "one": None, "many": None, "fallback": "set"},
        {},
    ]
    for row in rows:
        assert fast_dump.compile_dump(Outer())(row) == Outer().dump(row)
    assert fast_dump.compile_dump(Outer(many=True))(rows) == Outer(many=True).dump(rows)
    assert fast_dump.compile_dump(Hooked())({"x": 2}) == {"x": 4}

    class Obj:
        n = 5
        label = "object, not dict"
    assert fast_dump.compile_dump(Inner())(Obj()) == Inner().dump(Obj())


def test_a_ticket_page_dumps_as_the_schema_dumps_it(session, rules, world):
    _mixed_page(session, rules, world)
    rows = list(session.scalars(select(Ticket).options(*ticket_pages.PAGE_LOADING)))
    ticket_pages.attach_related(session, rows)
    _, ctx = world.actor(session, "agent@sit.test")
    links = links_of(session, rules, [t.id for t in rows])
    paging = paging_of_many(session, rows)
    page = {"items": [ticket_view(session, rules, ctx, t, WORK_TIME, links, paging[t.id])
                      for t in rows], "next_cursor": "abc"}
    dumped = fast_dump.dump(s.TicketPage, page)
    assert dumped == s.TicketPage().dump(page)
    assert len(dumped["items"]) == 8 and any(i["sla"] for i in dumped["items"])
