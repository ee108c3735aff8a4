"""What a task needs: sessions, rules, settings, and the ways out (HTTP, SMTP)."""

from __future__ import annotations

import smtplib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage

import requests

from itilflow.domain.paging import DELIVERY_TIMEOUT_SECONDS
from itilflow.services.rules import Rules, load_rules
from itilflow.settings import Settings


@dataclass(frozen=True)
class HttpAnswer:
    status: int | None  # None: no answer (timeout, refused, reset)
    retry_after: str | None = None
    error: str | None = None


_sessions = threading.local()


def _session() -> requests.Session:
    """This thread's HTTP session: connections to a receiver are kept alive and reused."""
    session = getattr(_sessions, "session", None)
    if session is None:
        session = _sessions.session = requests.Session()
    return session


def http_post(url: str, body: bytes, headers: dict[str, str]) -> HttpAnswer:
    """One POST: 15 s timeout, redirects not followed, the answer's body ignored."""
    try:
        with _session().post(url, data=body, headers=headers, timeout=DELIVERY_TIMEOUT_SECONDS,
                             allow_redirects=False, stream=True) as response:
            return HttpAnswer(response.status_code, response.headers.get("Retry-After"),
                              None if response.ok else f"HTTP {response.status_code}")
    except requests.RequestException as exc:
        return HttpAnswer(None, None, f"{type(exc).__name__}: {str(exc)[:200]}")


@dataclass
class JobContext:
    session_factory: Callable
    rules: Rules
    settings: Settings
    post: Callable[[str, bytes, dict[str, str]], HttpAnswer] = http_post
    send_mail: Callable[..., None] | None = None  # (to, subject, text, attachments=())
    extra: dict = field(default_factory=dict)


def smtp_sender(settings: Settings) -> Callable[[list[str], str, str], None] | None:
    if not settings.smtp_host:
        return None

    def send(to: list[str], subject: str, text: str,
             attachments: tuple[tuple[str, str, str], ...] = ()) -> None:
        """``attachments``: (file name, MIME type ``main/sub``, text) each."""
        message = EmailMessage()
        message["From"] = settings.smtp_from
        message["To"] = ", ".join(to)
        message["Subject"] = subject
        message.set_content(text)
        for filename, mime, content in attachments:
            main, _, sub = mime.partition("/")
            message.add_attachment(content.encode(), maintype=main, subtype=sub,
                                   filename=filename)
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port,
                          timeout=DELIVERY_TIMEOUT_SECONDS) as smtp:
            smtp.send_message(message)

    return send


def context_from_settings(settings: Settings, *, session_factory=None, rules: Rules | None = None,
                          pre_ping: bool = False) -> JobContext:
    """``pre_ping=True``: a liveness round trip each time a session takes a pooled connection.
    Without it the pool still drops connections the server closed (``db._closed_by_server``),
    and a job whose connection turns out dead anyway is retried once (``tasks._start``)."""
    if session_factory is None:
        from itilflow.db import make_engine, make_session_factory

        session_factory = make_session_factory(make_engine(settings.sqlalchemy_url,
                                                           pool_pre_ping=pre_ping))
    return JobContext(session_factory=session_factory, rules=rules or load_rules(settings),
                      settings=settings, send_mail=smtp_sender(settings))
