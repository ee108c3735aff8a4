"""A bounded HTTP load generator: a fixed number of requests at a fixed concurrency, with a hard
time limit, over keep-alive connections on loopback.

The client is deliberately lean, so that it leaves the machine to the server under test: one
thread per connection, each request's bytes built once (the header block is shared), and a
minimal HTTP/1.1 reader on the raw socket (status line, headers, a ``Content-Length`` or
chunked body; a closed connection is opened again). ``http.client`` spent several times as much
CPU per request on parsing headers into ``email.message`` objects.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoadResult:
    name: str
    requests: int
    concurrency: int
    elapsed: float
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0

    def percentile(self, p: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        data = sorted(self.latencies_ms)
        k = min(len(data) - 1, max(0, round(p / 100 * (len(data) - 1))))
        return data[k]

    def summary(self) -> dict:
        done = len(self.latencies_ms)
        return {
            "name": self.name, "requests": done, "concurrency": self.concurrency,
            "rps": round(done / self.elapsed, 1) if self.elapsed else 0.0,
            "p50_ms": round(self.percentile(50), 2), "p95_ms": round(self.percentile(95), 2),
            "p99_ms": round(self.percentile(99), 2), "statuses": self.statuses,
            "errors": self.errors,
        }


#: builds request i: (method, path, body or None)
RequestFactory = Callable[[int], tuple[str, str, bytes | None]]


class _Closed(OSError):
    """The server closed the connection (before or during a response)."""


class Connection:
    """One keep-alive HTTP/1.1 connection on a raw socket: ``request(data)`` sends pre-built
    request bytes and returns the response's status, its body read and dropped."""

    def __init__(self, host: str, port: int, timeout: float = 30.0) -> None:
        self.address = (host, port)
        self.timeout = timeout
        self.sock: socket.socket | None = None
        self.buf = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.buf = b""

    def _recv(self) -> bytes:
        chunk = self.sock.recv(262_144)
        if not chunk:
            raise _Closed("connection closed by the server")
        return chunk

    def request(self, data: bytes) -> int:
        if self.sock is None:
            self.sock = socket.create_connection(self.address, timeout=self.timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.sendall(data)
        buf = self.buf
        end = buf.find(b"\r\n\r\n")
        while end < 0:
            buf += self._recv()
            end = buf.find(b"\r\n\r\n")
        head = buf[:end].lower()
        rest = buf[end + 4:]
        status = int(head[9:12])
        keep = b"\r\nconnection: close" not in head and head.startswith(b"http/1.1")
        at = head.find(b"\r\ncontent-length:")
        if at >= 0:
            stop = head.find(b"\r\n", at + 17)
            length = int(head[at + 17:stop if stop >= 0 else None])
            while len(rest) < length:
                rest += self._recv()
            self.buf = rest[length:]
        elif b"\r\ntransfer-encoding: chunked" in head:
            self.buf = self._chunked(rest)
        elif status in (204, 304) or 100 <= status < 200:
            self.buf = rest
        else:  # the body runs to the end of the connection
            try:
                while True:
                    rest += self._recv()
            except _Closed:
                pass
            keep = False
        if not keep:
            self.close()
        return status

    def _chunked(self, rest: bytes) -> bytes:
        while True:
            line_end = rest.find(b"\r\n")
            while line_end < 0:
                rest += self._recv()
                line_end = rest.find(b"\r\n")
            size = int(rest[:line_end].split(b";")[0], 16)
            need = line_end + 2 + size + 2
            while len(rest) < need:
                rest += self._recv()
            rest = rest[need:]
            if size == 0:  # no trailers expected
                return rest


def build_request(host: str, port: int, method: str, path: str, body: bytes | None,
                  header_block: bytes) -> bytes:
    """The bytes of one request; ``header_block`` holds the shared header lines."""
    if body is None and method in ("POST", "PUT", "PATCH"):
        body = b""
    length = b"Content-Length: %d\r\n" % len(body) if body is not None else b""
    return (b"%s %s HTTP/1.1\r\nHost: %s:%d\r\n" % (method.encode(), path.encode(),
                                                      host.encode(), port)
            + header_block + length + b"\r\n" + (body or b""))


def run_load(name: str, host: str, port: int, make_request: RequestFactory, *, total: int,
             concurrency: int, headers: dict[str, str], time_limit: float = 120.0,
             ok_statuses: tuple[int, ...] = (200, 201)) -> LoadResult:
    """``total`` requests from ``make_request`` on ``concurrency`` keep-alive connections, each
    thread stopping at ``time_limit`` seconds; a request that fails (refused, reset, timed out)
    counts as an error and its connection is opened again; statuses outside ``ok_statuses``
    count as errors too."""
    result = LoadResult(name=name, requests=total, concurrency=concurrency, elapsed=0.0)
    lock = threading.Lock()
    counter = iter(range(total))
    header_block = b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in headers.items())
    deadline = time.monotonic() + time_limit
    perf = time.perf_counter

    def worker() -> None:
        conn = Connection(host, port)
        local_lat: list[float] = []
        local_status: dict[int, int] = {}
        errors = 0
        while time.monotonic() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            method, path, body = make_request(i)
            data = build_request(host, port, method, path, body, header_block)
            started = perf()
            try:
                status = conn.request(data)
            except (OSError, ValueError):
                errors += 1
                conn.close()
                continue
            local_lat.append((perf() - started) * 1000)
            local_status[status] = local_status.get(status, 0) + 1
        conn.close()
        with lock:
            result.latencies_ms.extend(local_lat)
            result.errors += errors
            for status, n in local_status.items():
                result.statuses[status] = result.statuses.get(status, 0) + n

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()) + 30)
    result.elapsed = time.perf_counter() - started
    bad = sum(n for s, n in result.statuses.items() if s not in ok_statuses)
    if bad:
        result.errors += bad
    return result


def json_body(data: dict) -> bytes:
    return json.dumps(data).encode()
