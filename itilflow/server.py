"""Serving: gunicorn where installed, else Werkzeug's threaded server."""

from __future__ import annotations

import os

from flask import current_app

#: the longest request line (method, path and query) gunicorn passes on: its maximum
LIMIT_REQUEST_LINE = 8190


def serve_forever(*, host: str, port: int, workers: int | None = None,
                  access_log: bool = True) -> None:
    app = current_app._get_current_object()
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:  # pragma: no cover - gunicorn is a dependency, but optional on Windows
        _start_outbox_runner(app)
        app.run(host=host, port=port, threaded=True)
        return

    class _Gunicorn(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers or (2 * (os.cpu_count() or 1) + 1))
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", 4)
            self.cfg.set("timeout", 60)
            # gunicorn's own HTML 414 answers a longer request line; up to its maximum the app
            # answers, in its own shape (the API refuses a too long parameter with 422)
            self.cfg.set("limit_request_line", LIMIT_REQUEST_LINE)
            if access_log:
                self.cfg.set("accesslog", "-")

        def load(self):  # in each worker process, after the fork
            _start_outbox_runner(app)
            return app

    _Gunicorn().run()


def _start_outbox_runner(app) -> None:
    """Without Redis the web process runs the outbox itself (a relay thread per process)."""
    from itilflow.jobs.runner import start_embedded_runner

    start_embedded_runner(app.extensions["itilflow"].settings, rules=app.extensions["itilflow"].rules)
