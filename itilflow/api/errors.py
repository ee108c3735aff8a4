"""One error shape for everything under /api/v1: ``{status, message, errors}``.

DomainErrors map to their status, HTTP errors (routing 404/405, 413, webargs' 422) keep theirs,
bad or non-object JSON bodies are 400, and anything unexpected is logged and answered with a
JSON 500 as the last resort. Outside /api/v1 the web UI's own handling applies.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, current_app, jsonify, request
from flask.json.provider import DefaultJSONProvider
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError

from itilflow.domain.errors import DomainError

API_PREFIX = "/api/v1"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_api_request() -> bool:
    return request.path == API_PREFIX or request.path.startswith(API_PREFIX + "/")


def error_response(status: int, message: str, errors: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None):
    response = jsonify(status=status, message=message, errors=errors or {})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _flatten(messages: Any) -> dict[str, list[str]]:
    """webargs' ``{location: {field: [...]}}`` -> ``{field: [reasons]}`` (nested fields dotted)."""
    out: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list | tuple):
            if all(isinstance(v, str) for v in value):
                out.setdefault(prefix or "_schema", []).extend(value)
            else:
                for inner in value:
                    walk(prefix, inner)
        else:
            out.setdefault(prefix or "_schema", []).append(str(value))

    if isinstance(messages, dict):
        for location, inner in messages.items():
            if location in ("json", "query", "querystring", "path", "view_args", "headers",
                            "form", "files", "cookies"):
                walk("", inner)
            else:
                walk(str(location), inner)
    else:
        walk("", messages)
    return out


def handle_domain_error(exc: DomainError):
    if not is_api_request():
        return exc.message, exc.status
    headers = {"WWW-Authenticate": 'Bearer realm="itilflow"'} if exc.status == 401 else None
    return error_response(exc.status, exc.message, exc.errors, headers)


def handle_http_exception(exc: HTTPException):
    if not is_api_request():
        return exc
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    errors = _flatten(data.get("errors") or data.get("messages") or {})
    message = data.get("message") or exc.description or exc.name
    if status == 422:
        message = data.get("message") or "The request has invalid fields."
    elif status == 400 and isinstance(exc, BadRequest) and errors:
        message = "The request body is not valid JSON."
    headers = {k: v for k, v in exc.get_headers() if k.lower() not in ("content-type", "content-length")}
    headers.update(data.get("headers") or {})
    if status == 413 and not _drain_body():
        headers["Connection"] = "close"
    return error_response(status, message, errors, headers)


def _drain_body() -> bool:
    """The oversized body read and dropped, as for the web's forms, so the client's keep-alive
    connection serves its next request; False when it is too large to be worth reading."""
    from itilflow.web.errors import _drain_body as drain

    return drain()


CONFLICT_MESSAGE = "Someone else saved the same thing meanwhile. Reload and try again."


def handle_integrity_error(_exc: Exception):
    """A unique key taken by a concurrent request between the service's check and its write
    (or its commit): a 409, on a page as in the API, never a 500. The request boundary rolls
    the transaction back (status >= 400); it is rolled back here already, so that drawing the
    page (the user's language, the navigation) can read again."""
    from flask import g

    session = g.get("db_session")
    if session is not None:
        session.rollback()
    if is_api_request():
        return error_response(409, CONFLICT_MESSAGE, {})
    from itilflow.web.common import error_page
    from itilflow.web.i18n import _

    return error_page(409, _("Conflict"), _(CONFLICT_MESSAGE))


def handle_unexpected(exc: Exception):
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)
    if not is_api_request():
        raise exc
    current_app.logger.exception("Unexpected error in %s %s", request.method, request.path)
    return error_response(500, InternalServerError.description)


#: no body of the API nests deeper than 3; what does is refused before any code walks it (the
#: parser, the schemas and the NUL check recurse: 100,000 brackets were a RecursionError)
MAX_DEPTH = 32
#: the JSON escape of a UTF-16 surrogate: text only as the pair of an astral character
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
SURROGATE = re.compile("[\ud800-\udfff]")


def check_json_body():
    """Bodies of API calls must be a JSON object of text, sent as JSON: anything else is a 400
    before any view runs. Cheap for the usual body: the walks run only when a scan of the bytes
    finds what they look for (more brackets than MAX_DEPTH, a surrogate escape)."""
    if not is_api_request() or request.method not in BODY_METHODS:
        return None
    raw = request.get_data(cache=True)  # 413 above MAX_CONTENT_LENGTH
    if not raw:
        return None
    if not request.is_json:
        # the views would read such a body as no body at all ("Missing data" for each field)
        return error_response(400, "The request body must be sent as JSON.", {"_headers": [
            "Content-Type must be application/json (or a +json type)."]})
    if _not_utf8(raw):
        return _not_text("Invalid UTF-8.")
    try:
        data = request.get_json(force=True, silent=True, cache=True)
    except RecursionError:
        return _too_deep()
    if data is None:
        repeated = _repeated_key(raw)
        if repeated is not None:
            return error_response(400, f"The request body gives the key {repeated!r} more "
                                       "than once.", {repeated: ["Given more than once."]})
        return error_response(400, "The request body is not valid JSON.",
                              {"_schema": ["Invalid JSON body."]})
    if not isinstance(data, dict):
        return error_response(400, "The request body must be a JSON object.",
                              {"_schema": ["Expected a JSON object."]})
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _deeper_than(data, MAX_DEPTH):
        return _too_deep()
    if SURROGATE_ESCAPE.search(raw) and any(SURROGATE.search(s) for s in _strings(data)):
        return _not_text("Lone surrogates (\\ud800 to \\udfff) are not text.")
    return None


class RepeatedKey(ValueError):
    """A JSON object that gives a key twice (``{"body": "a", "body": "b"}``)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"repeated key {key!r}")
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook``: an object as a dict, refusing a key given twice. Python's parser
    keeps the last value; a proxy or WAF in front may read the first, so the two could
    disagree on what was sent (the same reason a single-valued parameter given twice is
    refused)."""
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise RepeatedKey(key)
            seen.add(key)
    return data


class StrictJSONProvider(DefaultJSONProvider):
    """The app's JSON: as Flask's, but a request body that repeats a key is not valid JSON
    (``check_json_body`` answers 400 naming the key)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("object_pairs_hook", _unique_keys)
        return json.loads(s, **kwargs)


def _repeated_key(raw: bytes) -> str | None:
    """The key a body that failed to parse gives twice, if that was why (the error path only)."""
    try:
        json.loads(raw, object_pairs_hook=_unique_keys)
    except RepeatedKey as exc:
        return exc.key[:200]
    except (ValueError, RecursionError):
        return None
    return None


def install_json_provider(app: Flask) -> None:
    """Use StrictJSONProvider, keeping the settings of the provider it replaces."""
    if isinstance(app.json, StrictJSONProvider):
        return
    old, new = app.json, StrictJSONProvider(app)
    for name in ("default", "ensure_ascii", "sort_keys", "compact", "mimetype"):
        if hasattr(old, name):
            setattr(new, name, getattr(old, name))
    app.json = new


def _not_text(reason: str):
    return error_response(400, "The request body is not valid UTF-8 text.",
                          {"_schema": [reason]})


def _too_deep():
    return error_response(400, "The request body is nested too deeply.",
                          {"_schema": [f"At most {MAX_DEPTH} levels of arrays and objects."]})


def _not_utf8(raw: bytes) -> bool:
    """Bytes that are not UTF-8 (the JSON parser would let encoded surrogates through)."""
    if raw.isascii():
        return False
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        inner = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in inner if isinstance(child, dict | list))
    return False


def _strings(value: Any):
    """Every string in a JSON value, keys included, without recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


NUL = "\x00"


def _nul_paths(value: Any, prefix: str = "") -> list[str]:
    """The dotted paths of the strings (values or keys) in a JSON value that contain NUL."""
    found: list[str] = []
    if isinstance(value, str):
        if NUL in value:
            found.append(prefix or "_schema")
    elif isinstance(value, dict):
        for key, inner in value.items():
            name = str(key).replace(NUL, "\\u0000")
            path = f"{prefix}.{name}" if prefix else name
            if NUL in str(key):
                found.append(path)
            found.extend(_nul_paths(inner, path))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found.extend(_nul_paths(inner, f"{prefix}.{index}" if prefix else str(index)))
    return found


NUL_REASON = "NUL characters (\\u0000) are not allowed."


def reject_nul():
    """PostgreSQL refuses NUL in text: no NUL in a path, query parameter, header, form field or
    JSON string reaches the database. API calls get 404 (path), 400 (header) or 422 naming the
    field; web pages a 400 (or 404 for a path)."""
    from flask import abort

    api = is_api_request()
    if NUL in request.path or any(NUL in str(v) for v in (request.view_args or {}).values()):
        return error_response(404, "Not found.") if api else abort(404)
    fields = sorted({key.replace(NUL, "\\u0000") for key, value in request.args.items(multi=True)
                     if NUL in key or NUL in value})
    if request.method in BODY_METHODS and request.mimetype in (
            "application/x-www-form-urlencoded", "multipart/form-data"):
        fields += sorted({key.replace(NUL, "\\u0000") for key, value in request.form.items(multi=True)
                          if NUL in key or NUL in value})
    if not api:
        return abort(400) if fields else None
    if any(NUL in value for _name, value in request.headers.items()):
        return error_response(400, "NUL characters are not allowed in headers.",
                              {"_headers": [NUL_REASON]})
    # in JSON text a NUL can only be this escape (a raw one is not valid JSON): the usual body
    # is not walked
    if request.method in BODY_METHODS and b"\\u0000" in request.get_data(cache=True):
        data = request.get_json(force=True, silent=True, cache=True)
        if data is not None:
            fields += _nul_paths(data)
    if fields:
        return error_response(422, "The request has invalid fields.",
                              {name: [NUL_REASON] for name in fields})
    return None


_DESCRIPTIONS = {
    400: "Bad JSON, a body that is not a JSON object, or one not sent as application/json",
    401: "No or bad credentials",
    403: "The caller may not do this",
    404: "Unknown, or not visible to the caller",
    409: "Conflict: exists already, stale version, or not valid in the ticket's state",
    413: "Request body too large",
}


def error_docs(blp):
    """A decorator factory for a blueprint: ``@errors(401, 404)`` documents those error
    responses of an operation (all in the error shape); "default" covers the rest."""
    from itilflow.api.schemas import ErrorSchema

    def errors(*statuses: int):
        def decorate(func):
            for status in statuses:
                func = blp.alt_response(status, schema=ErrorSchema,
                                        description=_DESCRIPTIONS[status])(func)
            return func
        return decorate
    return errors


def register_error_handlers(app: Flask) -> None:
    install_json_provider(app)
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
    app.before_request(check_json_body)
    app.before_request(reject_nul)
