"""One slot per pooled connection, taken before an operation's deadline starts.

A store operation's ``timeout`` bounds how long the server takes to answer. With more
calls at once than the connection pool is wide, the rest waited inside the SDK for a free
connection, and that wait ran their deadline down: a busy but healthy store reported
"no answer within N s". An operation now takes a slot here first (waiting as long as the
queue is), then starts its clock. The gate belongs to the filesystem, as the pool does,
so stores sharing one filesystem share it. A thread that already holds a slot (an
operation inside another) does not take a second, which could never come with one slot.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Gate", "gate_for"]

_ATTRIBUTE = "_memokey_gate"
_creating = threading.Lock()


class Gate:
    """At most `width` store operations at once on one filesystem."""

    def __init__(self, width: int) -> None:
        self.width = width
        self._slots = threading.BoundedSemaphore(width)
        self._held = threading.local()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold a slot for the block (at once if this thread holds one already)."""
        depth: int = getattr(self._held, "depth", 0)
        if depth == 0:
            self._slots.acquire()
        self._held.depth = depth + 1
        try:
            yield
        finally:
            self._held.depth = depth
            if depth == 0:
                self._slots.release()


def gate_for(fs: Any, width: int | None) -> Gate | None:
    """The gate of `fs`: the one its first store made, else one of `width` (None: the
    pool's width is unknown, e.g. a session the caller made, so nothing is gated)."""
    with _creating:
        gate: Gate | None = getattr(fs, _ATTRIBUTE, None)
        if gate is None and width is not None:
            gate = Gate(width)
            setattr(fs, _ATTRIBUTE, gate)
        return gate
