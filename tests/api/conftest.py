"""API test fixtures: the usual world plus an API token per user, and a small client."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from itilflow.services import directory
from tests.conftest import WORK_TIME

EMAILS = ["admin@sit.test", "agent@sit.test", "agent2@sit.test", "boss@sit.test", "rep@gst.test",
          "agent@gst.test", "boss@gst.test", "rep@erst.test", "agent@erst.test",
          "boss@erst.test", "sup@supplier.test"]


class Api:
    """Calls /api/v1 through the Flask test client with a user's Bearer token."""

    def __init__(self, app, tokens: dict[str, str]) -> None:
        self.app = app
        self.client = app.test_client()
        self.tokens = tokens

    def headers(self, email: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[email]}"} if email else {}

    def call(self, method: str, path: str, email: str | None = None, json: Any = None, **kw):
        return self.client.open(f"/api/v1{path}", method=method, headers=self.headers(email),
                                json=json, **kw)

    def get(self, path, email=None, **kw):
        return self.call("GET", path, email, **kw)

    def post(self, path, email=None, json=None, **kw):
        return self.call("POST", path, email, json=json, **kw)

    def incident(self, email="rep@gst.test", **fields) -> dict[str, Any]:
        body = {"system": "kort", "environment": "production", "title": "Map tiles time out",
                "description": "GetMap requests time out.", "impact": 2, "urgency": 2, **fields}
        response = self.post("/incidents", email, body)
        assert response.status_code == 201, response.json
        return response.json

    def fire(self, email, ticket_id, trigger, **fields):
        return self.post(f"/tickets/{ticket_id}/transitions", email, {"trigger": trigger, **fields})


def make_tokens(rt) -> dict[str, str]:
    session = rt.session_factory()
    tokens = {email: directory.create_token(session, directory.user_by_email(session, email),
                                            now=WORK_TIME, name="tests") for email in EMAILS}
    session.commit()
    session.close()
    return tokens


@pytest.fixture
def api(app, rt, world) -> Api:
    return Api(app, make_tokens(rt))


@contextmanager
def statements(rt) -> Iterator[list[str]]:
    """The SQL statements the app's engine sends while the block runs."""
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(rt.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(rt.engine, "before_cursor_execute", count)


def api_error(response, status: int, field: str | None = None) -> dict:
    """The API's error answer: ``status``, the one error shape, naming ``field`` if given."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body = response.get_json()
    assert set(body) == {"status", "message", "errors"} and body["status"] == status
    if field is not None:
        assert field in body["errors"], body
    return body


def count_rows(rt, model) -> int:
    s = rt.session_factory()
    try:
        return s.query(model).count()
    finally:
        s.close()
