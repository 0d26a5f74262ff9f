"""Per-URI locks so identical concurrent calls in one process compute once.

A caller that misses takes the lock for its memo URI, checks the store again and only
then computes; callers that arrive meanwhile wait on the same lock and find the published
result. Entries are reference-counted and removed when the last holder leaves, so the
maps never grow with the number of distinct calls made.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

__all__ = [
    "AsyncKeyedLocks",
    "KeyedLocks",
    "async_locks",
    "computing",
    "computing_here",
    "thread_locks",
]

_computing: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "memokey_computing", default=frozenset()
)


def computing(uri: str) -> bool:
    """Whether this thread or task is inside its own computation of `uri`: a function
    calling itself with the same arguments (a retry, say). Such a call must run as the
    plain function would, not wait on the lease its own caller holds."""
    return uri in _computing.get()


@contextmanager
def computing_here(uri: str) -> Iterator[None]:
    """Mark `uri` as being computed by this thread or task for the block's duration."""
    token = _computing.set(_computing.get() | {uri})
    try:
        yield
    finally:
        _computing.reset(token)


class KeyedLocks:
    """Re-entrant thread locks by key (re-entrant so self-recursion cannot deadlock)."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._entries: dict[str, tuple[threading.RLock, list[int]]] = {}

    def __len__(self) -> int:
        with self._guard:
            return len(self._entries)

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """Hold the lock for `key` for the duration of the block."""
        with self._guard:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = (threading.RLock(), [0])
            entry[1][0] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._guard:
                entry[1][0] -= 1
                if entry[1][0] == 0:
                    del self._entries[key]


class AsyncKeyedLocks:
    """asyncio locks by key for one event loop; a task already holding a key re-enters."""

    def __init__(self) -> None:
        self._entries: dict[
            str, tuple[asyncio.Lock, list[int], list[asyncio.Task[object] | None]]
        ] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Hold the lock for `key` for the duration of the block (loop-thread only)."""
        task = asyncio.current_task()
        entry = self._entries.get(key)
        if entry is not None and task is not None and entry[2][0] is task:
            yield  # the holder itself, recursing: waiting on ourselves would hang
            return
        if entry is None:
            entry = self._entries[key] = (asyncio.Lock(), [0], [None])
        entry[1][0] += 1
        try:
            async with entry[0]:
                entry[2][0] = task
                try:
                    yield
                finally:
                    entry[2][0] = None
        finally:
            entry[1][0] -= 1
            if entry[1][0] == 0:
                del self._entries[key]


thread_locks = KeyedLocks()
_per_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncKeyedLocks] = (
    weakref.WeakKeyDictionary()
)
_per_loop_guard = threading.Lock()


def async_locks() -> AsyncKeyedLocks:
    """The lock map of the running event loop (asyncio locks cannot be shared across loops)."""
    loop = asyncio.get_running_loop()
    with _per_loop_guard:
        locks = _per_loop.get(loop)
        if locks is None:
            locks = _per_loop[loop] = AsyncKeyedLocks()
        return locks
