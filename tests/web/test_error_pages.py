"""The app's own error pages for addresses no view answers (404, 405, 413, 400), in the reader's
language and with the navigation; /api/v1 keeps its JSON shape. The oversized form is also sent
to a real gunicorn, whose keep-alive connection must serve the next request."""

from __future__ import annotations

import io
import socket

import pytest

from tests.served import itilflow_serve, read_response
from tests.web.conftest import csrf_of


def _html(response) -> str:
    assert response.mimetype == "text/html", response.mimetype
    return response.get_data(as_text=True)


def test_unknown_address_is_the_apps_own_page(app, world, login):
    anonymous = app.test_client().get("/nope")
    assert anonymous.status_code == 404
    page = _html(anonymous)
    assert "Not found" in page and 'class="status-code">404' in page and "app.css" in page
    agent = login("agent@sit.test")
    page = _html(agent.get("/nope/deeper?x=1"))
    assert 'aria-label="Main"' in page and "/agent" in page  # the navigation of a signed-in user
    danish = agent.get("/nope", headers={"Accept-Language": "da"})
    assert danish.status_code == 404 and "Ikke fundet" in _html(danish)
    assert "Not Found" not in _html(danish)  # werkzeug's page is gone


def test_api_addresses_keep_the_json_shape(app, world):
    client = app.test_client()
    for method, path, status in [("get", "/api/v1/nope", 404), ("delete", "/api/v1/tickets", 405)]:
        answer = getattr(client, method)(path, headers={"Accept-Language": "da"})
        assert answer.status_code == status and answer.is_json, (path, answer.data[:200])
        assert set(answer.json) == {"status", "message", "errors"} and answer.json["status"] == status


def test_wrong_method_names_what_the_address_takes(app, world, login):
    agent = login("agent@sit.test")
    answer = agent.get("/tickets/INC-000001/transitions/resolve")
    assert answer.status_code == 405 and "POST" in answer.headers["Allow"]
    page = _html(answer)
    assert "Method not allowed" in page and 'aria-label="Main"' in page
    assert 'href="/tickets/INC-000001"' in page  # the page the action belongs to
    answer = agent.delete("/agent", headers={"Accept-Language": "da"})
    assert answer.status_code == 405 and "Metoden er ikke tilladt" in _html(answer)


def test_logout_typed_in_the_address_bar_offers_the_button_and_signs_out_nobody(app, world,
                                                                                login):
    agent = login("agent@sit.test")
    page = agent.get("/logout")
    assert page.status_code == 200 and 'action="/logout"' in _html(page)
    assert agent.get("/agent").status_code == 200          # a GET alone signs nobody out
    assert agent.post("/logout", data={"csrf_token": csrf_of(_html(page))}).status_code == 302
    assert agent.get("/agent").status_code == 302


def test_oversized_form_is_a_page_and_its_body_is_read(app, world, login):
    limit = app.config["MAX_CONTENT_LENGTH"]
    client = login("rep@gst.test")
    body = b"title=" + b"x" * (limit + 10)
    stream = io.BytesIO(body)
    answer = client.post("/portal/incidents/new", input_stream=stream, content_length=len(body),
                         content_type="application/x-www-form-urlencoded",
                         headers={"Accept-Language": "da"})
    assert answer.status_code == 413 and "For stor" in _html(answer)
    assert stream.tell() == len(body) and "Connection" not in answer.headers
    # beyond what is worth reading the connection is closed instead
    huge = 9 * limit
    stream = io.BytesIO(b"a" * huge)
    answer = client.post("/portal/incidents/new", input_stream=stream, content_length=huge,
                         content_type="application/x-www-form-urlencoded")
    assert answer.status_code == 413 and answer.headers["Connection"] == "close"
    assert stream.tell() == 0


def test_nul_in_a_form_explains_how_to_keep_the_input(app, world, login):
    client = login("rep@gst.test")
    token = csrf_of(client.get("/portal/incidents/new").get_data(as_text=True))
    answer = client.post("/portal/incidents/new", data={"csrf_token": token, "title": "a\x00b",
                                                        "description": "kept"})
    assert answer.status_code == 400
    page = _html(answer)
    assert "NUL" in page and "Back" in page and 'aria-label="Main"' in page
    danish = client.post("/portal/incidents/new", data={"csrf_token": token, "title": "a\x00b"},
                         headers={"Accept-Language": "da"})
    assert danish.status_code == 400 and "NUL-tegn" in _html(danish)


@pytest.fixture
def gunicorn_url(app, database_url, tmp_path):
    with itilflow_serve(database_url, tmp_path) as port:
        yield port


def test_keep_alive_connection_survives_an_oversized_form(app, gunicorn_url):
    body = b"email=" + b"a" * (2 * app.config["MAX_CONTENT_LENGTH"])
    with socket.create_connection(("127.0.0.1", gunicorn_url), timeout=10) as sock:
        sock.sendall(b"POST /login HTTP/1.1\r\nHost: t\r\nAccept-Language: da\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n"
                     b"Content-Length: %d\r\n\r\n" % len(body) + body)
        assert read_response(sock)[0].startswith(b"HTTP/1.1 413")
        sock.sendall(b"GET /login HTTP/1.1\r\nHost: t\r\n\r\n")
        assert read_response(sock)[0].startswith(b"HTTP/1.1 200")
