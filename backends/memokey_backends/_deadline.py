"""An overall deadline for each store operation, and running filesystem I/O within it.

`_translate.call` opens a deadline around one operation (all its retries); the store and
its primitives run every network request through `run` / `run_coroutine`, which give
the coroutine on fsspec's I/O loop only the time left and cancel it when that is spent.
Cancelling (also on KeyboardInterrupt in the calling thread) waits a short grace period
for the coroutine's own cleanup, such as aborting an S3 multipart upload, to finish.
Synchronous filesystems (local disk, memory) are called directly: they have no request
that can hang on a silent server.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypeVar

__all__ = ["CLEANUP_GRACE", "DeadlineExceeded", "deadline", "remaining", "run", "run_coroutine"]

T = TypeVar("T")

CLEANUP_GRACE = 15.0
"""Seconds a cancelled coroutine gets to clean up (abort an upload) before we move on."""

_DEADLINE: ContextVar[float | None] = ContextVar("memokey_store_deadline", default=None)


class DeadlineExceeded(TimeoutError):
    """The current operation's deadline passed; `_translate.call` reports it."""


@contextmanager
def deadline(at: float | None) -> Iterator[None]:
    """Run the body with the monotonic-clock deadline `at` (None: no deadline)."""
    token = _DEADLINE.set(at)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def remaining() -> float | None:
    """Seconds left before the current deadline (None without one); raises
    `DeadlineExceeded` when none are left."""
    at = _DEADLINE.get()
    if at is None:
        return None
    left = at - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded("the operation's deadline has passed")
    return left


def run_coroutine(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on `loop` (another thread's) within the current deadline."""
    try:
        left = remaining()
    except DeadlineExceeded:
        coro.close()
        raise
    started = threading.Event()
    settled = threading.Event()

    async def guarded() -> T:
        started.set()
        try:
            return await coro
        finally:
            settled.set()

    future = asyncio.run_coroutine_threadsafe(guarded(), loop)
    try:
        return future.result(left)
    except BaseException as exc:
        if future.done() and not future.cancelled():
            raise  # the coroutine's own outcome
        future.cancel()
        if started.wait(0.2):
            settled.wait(CLEANUP_GRACE)
        if isinstance(exc, (TimeoutError, concurrent.futures.TimeoutError)):  # distinct on 3.10
            raise DeadlineExceeded("the operation's deadline has passed") from None
        raise  # KeyboardInterrupt, SystemExit


def run(fs: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    """``fs.<method>(*args, **kwargs)`` within the current deadline.

    For an fsspec `AsyncFileSystem` the coroutine ``fs._<method>`` runs on the
    filesystem's loop through `run_coroutine`; other filesystems are called directly.
    """
    if getattr(fs, "async_impl", False) and not getattr(fs, "asynchronous", False):
        impl = getattr(fs, f"_{method}", None)
        if impl is not None and inspect.iscoroutinefunction(impl):
            return run_coroutine(fs.loop, impl(*args, **kwargs))
    return getattr(fs, method)(*args, **kwargs)
