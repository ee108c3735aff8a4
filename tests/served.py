"""``itilflow serve`` as a real process (gunicorn, gthread, keep-alive) and a raw socket to
talk HTTP/1.1 to it: what a test needs to see what the server itself does with a request."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def itilflow_serve(database_url: str, instance_dir: Path) -> Iterator[int]:
    """The port of ``itilflow serve`` (one worker) on this database, once it accepts."""
    port = free_port()
    env = {**os.environ, "ITILFLOW_DATABASE_URL": database_url, "ITILFLOW_SECRET_KEY": "x" * 32,
           "ITILFLOW_REDIS_URL": "", "ITILFLOW_INSTANCE_DIR": str(instance_dir)}
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("itilflow")), "serve", "--port", str(port),
         "--workers", "1", "--quiet"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "no gunicorn"
                time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(10)


def read_response(sock: socket.socket) -> tuple[bytes, bytes]:
    """One response from a keep-alive connection: its head and its body (Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data, b""
        data += chunk
    head, _sep, rest = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    return head, rest
