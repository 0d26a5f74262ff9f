"""A counting HTTP proxy in front of a storage emulator: how many requests an operation costs.

Every request a cloud SDK sends (S3 via botocore, GCS via gcsfs, Azure via azure-storage)
is plain HTTP to the emulator's endpoint, so pointing the SDK at this proxy instead counts
exactly what the real service would be asked, whatever the library does inside (a HEAD
before a GET, a listing behind an ``info()``). Nothing is mocked: the proxy forwards each
request unchanged to the real emulator and returns its answer.

It also measures concurrency: `CountingProxy.gathering` holds each request until a given
number are in flight at once (or none has arrived for a while), so a test can show how many
requests an SDK really sends in parallel (its connection pool's width) however fast the
emulator answers; `latency` delays each answer like a real service's round trip.

Used by the benchmark suite (`benchmarks/test_request_counts.py`) and its smoke test.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

__all__ = ["Answer", "Concurrency", "CountingProxy", "Request", "counting_proxy"]

_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "proxy-connection",
    }
)


@dataclass(frozen=True)
class Request:
    """One request the proxy forwarded."""

    method: str
    path: str
    status: int
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def is_write(self) -> bool:
        return self.method in ("PUT", "POST", "DELETE", "PATCH")

    def header(self, name: str) -> str | None:
        """The value of request header `name` (any case), or None."""
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)


Answer = Callable[[Request], tuple[int, bytes] | None]
"""Given a request (its status still 0), a (status, XML body) to answer in the server's
place, or None to forward it: how a test shows what a server that lacks a feature says."""


@dataclass
class Concurrency:
    """What `CountingProxy.gathering` saw: the most requests in flight at one moment and
    the most client connections open at one moment."""

    width: int
    quiet: float
    peak_in_flight: int = 0
    peak_connections: int = 0
    _released: bool = field(default=False, repr=False)
    _last_arrival: float = field(default_factory=time.monotonic, repr=False)


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # 5 by default: a burst of new connections would be dropped
    daemon_threads = True


class CountingProxy:
    """A reverse proxy to `upstream` (``http://host:port``) recording each request.

    `latency` (seconds) is added before each answer is forwarded, like a distant service;
    `answer`, when set, may answer a request itself instead of the emulator."""

    def __init__(self, upstream: str, *, latency: float = 0.0) -> None:
        parts = urlsplit(upstream)
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 80
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._in_flight = 0
        self._connections = 0
        self._gather: Concurrency | None = None
        self.latency = latency
        self.answer: Answer | None = None
        self.requests: list[Request] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def setup(self) -> None:
                super().setup()
                proxy._connection_opened()

            def finish(self) -> None:
                proxy._connection_closed()
                super().finish()

            def _forward(self) -> None:
                proxy._arrive()
                try:
                    self._relay()
                finally:
                    proxy._leave()

            def _relay(self) -> None:
                body = self._body()
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                sent = tuple(headers.items())
                own = (
                    proxy.answer(Request(self.command, self.path, 0, sent))
                    if proxy.answer
                    else None
                )
                if own is not None:
                    self._reply_with(*own, sent)
                    return
                if body is not None:
                    headers["Content-Length"] = str(len(body))
                conn = http.client.HTTPConnection(proxy._host, proxy._port, timeout=60)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                finally:
                    conn.close()
                if proxy.latency:
                    time.sleep(proxy.latency)
                proxy._record(Request(self.command, self.path, resp.status, sent))
                self.send_response_only(resp.status, resp.reason)
                for key, value in resp.getheaders():
                    if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                        self.send_header(key, value)
                if self.command != "HEAD" or data:
                    self.send_header("Content-Length", str(len(data)))
                elif resp.getheader("Content-Length") is not None:
                    self.send_header("Content-Length", str(resp.getheader("Content-Length")))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _reply_with(
                self, status: int, data: bytes, sent: tuple[tuple[str, str], ...]
            ) -> None:
                proxy._record(Request(self.command, self.path, status, sent))
                self.send_response_only(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _body(self) -> bytes | None:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks: list[bytes] = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                length = self.headers.get("Content-Length")
                return None if length is None else self.rfile.read(int(length))

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _forward

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _connection_opened(self) -> None:
        with self._lock:
            self._connections += 1
            if self._gather is not None:
                self._gather.peak_connections = max(
                    self._gather.peak_connections, self._connections
                )

    def _connection_closed(self) -> None:
        with self._lock:
            self._connections -= 1

    def _arrive(self) -> None:
        """Count a request in; while gathering, hold it until the gate opens."""
        with self._changed:
            self._in_flight += 1
            gather = self._gather
            if gather is None:
                return
            gather.peak_in_flight = max(gather.peak_in_flight, self._in_flight)
            gather._last_arrival = time.monotonic()
            self._changed.notify_all()
            while not gather._released:
                if self._in_flight >= gather.width:
                    gather._released = True
                    self._changed.notify_all()
                    break
                quiet_until = gather._last_arrival + gather.quiet
                left = quiet_until - time.monotonic()
                if left <= 0:  # nothing more is coming: the client's pool is full
                    gather._released = True
                    self._changed.notify_all()
                    break
                self._changed.wait(left)

    def _leave(self) -> None:
        with self._changed:
            self._in_flight -= 1

    @contextmanager
    def gathering(self, width: int, *, quiet: float = 2.0) -> Iterator[Concurrency]:
        """Hold the block's requests until `width` are in flight at once, then let all
        through; if no new request arrives for `quiet` seconds first, the client cannot
        send more in parallel and they are let through too. The yielded `Concurrency` is
        filled in as requests arrive."""
        gather = Concurrency(width, quiet)
        with self._changed:
            self._gather = gather
            gather.peak_connections = self._connections
        try:
            yield gather
        finally:
            with self._changed:
                gather._released = True
                self._gather = None
                self._changed.notify_all()

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def start(self) -> CountingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    @contextmanager
    def counting(self) -> Iterator[list[Request]]:
        """The requests made inside the block (filled in when it ends)."""
        with self._lock:
            start = len(self.requests)
        seen: list[Request] = []
        try:
            yield seen
        finally:
            with self._lock:
                seen.extend(self.requests[start:])


@contextmanager
def counting_proxy(upstream: str) -> Iterator[CountingProxy]:
    """A started `CountingProxy` for the block."""
    proxy = CountingProxy(upstream).start()
    try:
        yield proxy
    finally:
        proxy.stop()
