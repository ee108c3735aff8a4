"""A bounded HTTP load generator: a fixed number of requests at a fixed concurrency, with a hard
time limit, over keep-alive connections on loopback. Threads with http.client: light enough to
leave most of the machine to the server at the rates measured here."""

from __future__ import annotations

import http.client
import json
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


def run_load(name: str, host: str, port: int, make_request: RequestFactory, *, total: int,
             concurrency: int, headers: dict[str, str], time_limit: float = 120.0,
             ok_statuses: tuple[int, ...] = (200, 201)) -> LoadResult:
    result = LoadResult(name=name, requests=total, concurrency=concurrency, elapsed=0.0)
    lock = threading.Lock()
    counter = iter(range(total))
    deadline = time.monotonic() + time_limit

    def worker() -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        local_lat: list[float] = []
        local_status: dict[int, int] = {}
        errors = 0
        while time.monotonic() < deadline:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            method, path, body = make_request(i)
            started = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                errors += 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
                continue
            local_lat.append((time.perf_counter() - started) * 1000)
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
        t.join(timeout=time_limit + 30)
    result.elapsed = time.perf_counter() - started
    bad = sum(n for s, n in result.statuses.items() if s not in ok_statuses)
    if bad:
        result.errors += bad
    return result


def json_body(data: dict) -> bytes:
    return json.dumps(data).encode()
