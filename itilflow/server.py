"""Serving: gunicorn where installed, else Werkzeug's threaded server."""

from __future__ import annotations

import os

from flask import current_app


def serve_forever(*, host: str, port: int, workers: int | None = None) -> None:
    app = current_app._get_current_object()
    try:
        from gunicorn.app.base import BaseApplication
    except ImportError:  # pragma: no cover - gunicorn is a dependency, but optional on Windows
        app.run(host=host, port=port, threaded=True)
        return

    class _Gunicorn(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers or (2 * (os.cpu_count() or 1) + 1))
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", 4)
            self.cfg.set("timeout", 60)
            self.cfg.set("accesslog", "-")

        def load(self):
            return app

    _Gunicorn().run()
