"""The app's own pages for the HTTP errors no view answers (an unknown address, a method the
address does not take, a body over the size limit, a request that cannot be read): the layout
with its navigation, in the reader's language. Under /api/v1 the API's JSON shape answers as
before (``itilflow.api.errors``)."""

from __future__ import annotations

from flask import Flask, current_app, render_template, request
from werkzeug.exceptions import HTTPException

from itilflow.web.common import error_page
from itilflow.web.i18n import _

#: an oversized body is read and dropped up to this many times the limit, so the client may
#: use its keep-alive connection again; a larger one gets "Connection: close" instead (which
#: Werkzeug's server honours; gunicorn closes such a connection itself after draining 64 KB)
DRAIN_FACTOR = 8
_CHUNK = 64 * 1024


def _has_nul() -> bool:
    try:
        return any("\x00" in key or any("\x00" in v for v in values)
                   for key, values in request.values.lists())
    except HTTPException:
        return False


def _size(limit: int) -> str:
    return f"{limit / 1_048_576:g} MB" if limit >= 1_048_576 else f"{limit // 1024} KB"


def _drain_body() -> bool:
    """Read and drop the unread request body, within ``DRAIN_FACTOR`` times the limit. Werkzeug
    refuses an oversized body without reading it, and a server that then keeps the connection
    (gunicorn drains only 64 KB before it gives up and closes) fails the client's next request
    on it."""
    length = request.content_length
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    if length is None or length > DRAIN_FACTOR * limit:
        return False
    stream = request.environ["wsgi.input"]
    left = length
    try:
        while left > 0:
            chunk = stream.read(min(_CHUNK, left))
            if not chunk:
                return False
            left -= len(chunk)
    except (OSError, ValueError):
        return False
    return True


def not_found(_exc):
    return error_page(404, _("Not found"), _("There is nothing here, or you may not see it."))


def _page_above() -> str | None:
    """The nearest address above this one that is a page (``/tickets/INC-1`` for a GET of
    ``/tickets/INC-1/transitions/resolve``, the address a form answered a 422 on)."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    path = request.path.rstrip("/")
    while "/" in path.strip("/"):
        path = path.rsplit("/", 1)[0]
        try:
            adapter.match(path, method="GET")
        except HTTPException:  # no page there, another method, or a routing redirect
            continue
        return path
    return None


def method_not_allowed(exc):
    response = current_app.make_response((render_template(
        "error.html", status=405, title=_("Method not allowed"), page_above=_page_above(),
        message=_("This address does not take that kind of request. Go back and use the page's "
                  "own links and buttons.")), 405))
    response.headers["Allow"] = ", ".join(exc.valid_methods or ())
    return response


def too_large(_exc):
    drained = _drain_body()
    response = current_app.make_response(error_page(413, _("Too large"), _(
        "What you sent is larger than %(limit)s. Shorten it and try again.",
        limit=_size(current_app.config.get("MAX_CONTENT_LENGTH") or 0))))
    if not drained:
        response.headers["Connection"] = "close"
    return response


def bad_request(_exc):
    if _has_nul():
        message = _("The form contained a character that is not allowed (a NUL character). "
                    "Go back with the browser's Back button, where the form still holds what "
                    "you typed, remove it and send the form again.")
    else:
        message = _("The request could not be read.")
    return error_page(400, _("Bad request"), message)


PAGES = {400: bad_request, 404: not_found, 405: method_not_allowed, 413: too_large}


def register_http_error_pages(app: Flask) -> None:
    """The pages above for browser addresses; the API keeps its own JSON answer."""
    from itilflow.api.errors import handle_http_exception, is_api_request

    def answer(page):
        def handler(exc):
            return handle_http_exception(exc) if is_api_request() else page(exc)
        return handler

    for code, page in PAGES.items():
        app.register_error_handler(code, answer(page))
