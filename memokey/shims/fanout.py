"""`.submit()`: launch many memoized calls at once and gather them as futures.

A submitted call runs the runner's whole path (hit check, lease, shim, publish) on a
thread of one shared pool. Those threads mostly wait for a shim's far side, so the pool is
generous (``MEMOKEY_SUBMIT_WORKERS``, default 64 calls in flight per process; more queue),
and cloud stores size their connection pools to match (`memokey_backends._pools`).
Identical calls submitted while one is in flight get the very same future, so they share
one computation. With the same-thread shim a submitted call runs at once in the caller's
thread (that is what the shim promises) and the future comes back already done.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from memokey_backends._pools import fan_out_width

__all__ = ["submit"]

_lock = threading.Lock()
_inflight: dict[str, Future[Any]] = {}
_pool: ThreadPoolExecutor | None = None


def _get_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(fan_out_width(), thread_name_prefix="memokey-submit")
    return _pool


def _done_now(call: Callable[[], Any]) -> Future[Any]:
    future: Future[Any] = Future()
    future.set_running_or_notify_cancel()
    try:
        future.set_result(call())
    except Exception as exc:
        future.set_exception(exc)
    return future


def submit(key: str, call: Callable[[], Any], *, inline: bool) -> Future[Any]:
    """Run `call` (the memoized call for memo URI `key`) in the background, or `inline`."""
    if inline:
        return _done_now(call)
    with _lock:
        future = _inflight.get(key)
        if future is not None:
            return future
        future = _get_pool().submit(call)
        _inflight[key] = future

    def forget(done: Future[Any]) -> None:
        with _lock:
            if _inflight.get(key) is done:
                del _inflight[key]

    future.add_done_callback(forget)
    return future
