"""Misbehaving TCP servers for fault tests: real sockets, served by threads in the test.

- `SilentServer` accepts connections and never answers (a hung load balancer or a
  frozen server process).
- `ErrorServer` answers every HTTP request with one status (a failing service).
- `FlakyProxy` answers the first few HTTP requests with 500, then forwards the rest to a
  real server (a service that recovers after a couple of internal errors).
- `StallingProxy` forwards to a real server but stops forwarding a connection's uploads
  after a number of bytes (a network that dies in the middle of a large write); new
  connections still get through, so cleanup requests reach the server.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from types import TracebackType

__all__ = ["ErrorServer", "FlakyProxy", "SilentServer", "StallingProxy"]


class _Listener:
    """A listening socket on 127.0.0.1 whose accepted connections `handle` serves."""

    def __init__(self) -> None:
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self.port: int = self._sock.getsockname()[1]
        self._closed = threading.Event()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self._lock:
                self._conns.append(conn)
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    def handle(self, conn: socket.socket) -> None:
        """Serve one accepted connection (subclasses)."""

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._conns.append(sock)

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._sock.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.close()

    def __enter__(self) -> _Listener:
        return self

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class SilentServer(_Listener):
    """Accepts every connection, reads nothing, answers nothing, closes nothing."""


def _read_request_head(conn: socket.socket) -> bytes | None:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(1 << 16)
        if not chunk:
            return None
        head += chunk
    return head


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


class ErrorServer(_Listener):
    """Answers every HTTP request with `status` and an empty body."""

    def __init__(self, status: int = 500) -> None:
        self.status = status
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            _answer_with(conn, self.status)


def _answer_with(conn: socket.socket, status: int) -> None:
    """Read one HTTP request from `conn`, answer `status` with no body, close."""
    head = _read_request_head(conn)
    if head is None:
        return
    body = head.split(b"\r\n\r\n", 1)[1]
    # A client that sent "Expect: 100-continue" waits for us before sending the body.
    expecting = b"100-continue" in head.lower()
    while not expecting and len(body) < _content_length(head):
        chunk = conn.recv(1 << 16)
        if not chunk:
            return
        body += chunk
    conn.sendall(
        f"HTTP/1.1 {status} Failing On Purpose\r\nContent-Length: 0\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    conn.close()


class FlakyProxy(_Listener):
    """Answers the first `failures` connections' requests with HTTP 500, then forwards
    every later connection to 127.0.0.1:`upstream` untouched."""

    def __init__(self, upstream: int, failures: int) -> None:
        self.upstream = upstream
        self.failures = failures
        self._count_lock = threading.Lock()
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        with self._count_lock:
            fail = self.failures > 0
            self.failures -= fail
        if fail:
            with contextlib.suppress(OSError):
                _answer_with(conn, 500)
            return
        try:
            up = socket.create_connection(("127.0.0.1", self.upstream))
        except OSError:
            conn.close()
            return
        self.track(up)
        threading.Thread(target=_forward, args=(up, conn), daemon=True).start()
        _forward(conn, up)


def _forward(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while chunk := src.recv(1 << 16):
            dst.sendall(chunk)
        dst.shutdown(socket.SHUT_WR)


class StallingProxy(_Listener):
    """Forwards to 127.0.0.1:`upstream`; a connection that has sent more than
    `stall_after` bytes upstream is left hanging (its further bytes are never forwarded),
    or, with ``reset=True``, is reset (the client sees "connection reset by peer")."""

    def __init__(self, upstream: int, stall_after: int, *, reset: bool = False) -> None:
        self.upstream = upstream
        self.stall_after = stall_after
        self.reset = reset
        self.stalled = threading.Event()
        super().__init__()

    def handle(self, conn: socket.socket) -> None:
        try:
            up = socket.create_connection(("127.0.0.1", self.upstream))
        except OSError:
            conn.close()
            return
        self.track(up)
        threading.Thread(target=self._pipe, args=(up, conn, None), daemon=True).start()
        self._pipe(conn, up, self.stall_after)

    def _pipe(self, src: socket.socket, dst: socket.socket, limit: int | None) -> None:
        sent = 0
        with contextlib.suppress(OSError):
            while True:
                chunk = src.recv(1 << 16)
                if not chunk:
                    dst.shutdown(socket.SHUT_WR)
                    return
                if limit is not None and sent + len(chunk) > limit:
                    self.stalled.set()
                    if self.reset:  # SO_LINGER 0: close() sends RST
                        src.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        src.close()
                        dst.close()
                    return  # else stop reading: the client's send blocks
                dst.sendall(chunk)
                sent += len(chunk)
