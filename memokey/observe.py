"""Observability: per-function counters (`stats`), event callbacks (`on_event`) and
``verbose`` lines on stderr, fed by the runner at each call outcome.

Outcomes: ``hit`` (served from the store), ``miss`` (not stored: this caller computes or
waits), ``wait`` (served what another caller's lease produced), ``publish`` (a result
was stored), ``error`` (the call raised). Counters per function id: hits, misses, lease
waits, errors, bytes read (hits) and written (publishes), compute seconds spent, and
compute seconds saved: the stored durations of the results hits served (read from the
entry's header, which the hit has in memory already: no request). Counting is a lock and
a few additions per call; callbacks run in the calling thread and their exceptions are
logged, never raised into the call. ``verbose=True`` on the decorator, or
``MEMOKEY_VERBOSE=1``, prints one line per outcome to stderr.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from memokey.expiry import DURATION_FIELD, header_number

__all__ = [
    "Event",
    "FunctionStats",
    "Outcome",
    "on_event",
    "record",
    "reset_stats",
    "stats",
    "verbose_env",
]

logger = logging.getLogger("memokey")

Outcome = Literal["hit", "miss", "wait", "publish", "error"]
ENV = "MEMOKEY_VERBOSE"


@dataclass(frozen=True)
class Event:
    """One call outcome, as callbacks receive it."""

    kind: Outcome
    function_id: str
    uri: str
    nbytes: int = 0
    #: hit/wait: the stored compute duration (saved); publish: the compute duration.
    seconds: float = 0.0
    error: BaseException | None = None


@dataclass(frozen=True)
class FunctionStats:
    """Counters of one function since the process started (or `reset_stats`)."""

    hits: int = 0
    misses: int = 0
    waits: int = 0
    errors: int = 0
    publishes: int = 0
    bytes_read: int = 0
    bytes_written: int = 0
    compute_seconds: float = 0.0
    seconds_saved: float = 0.0


_lock = threading.Lock()
_stats: dict[str, FunctionStats] = {}
_listeners: list[Callable[[Event], None]] = []


def stats() -> dict[str, FunctionStats]:
    """Function id -> its counters (a snapshot)."""
    with _lock:
        return dict(_stats)


def reset_stats() -> None:
    with _lock:
        _stats.clear()


def on_event(callback: Callable[[Event], None]) -> Callable[[], None]:
    """Call `callback(event)` at every call outcome; returns a function that unsubscribes."""
    with _lock:
        _listeners.append(callback)

    def unsubscribe() -> None:
        with _lock:
            if callback in _listeners:
                _listeners.remove(callback)

    return unsubscribe


def verbose_env() -> bool:
    return os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes", "on")


def _add(current: FunctionStats, event: Event) -> FunctionStats:
    kind = event.kind
    if kind == "hit":
        return replace(
            current,
            hits=current.hits + 1,
            bytes_read=current.bytes_read + event.nbytes,
            seconds_saved=current.seconds_saved + event.seconds,
        )
    if kind == "wait":
        return replace(
            current, waits=current.waits + 1, seconds_saved=current.seconds_saved + event.seconds
        )
    if kind == "miss":
        return replace(current, misses=current.misses + 1)
    if kind == "publish":
        return replace(
            current,
            publishes=current.publishes + 1,
            bytes_written=current.bytes_written + event.nbytes,
            compute_seconds=current.compute_seconds + event.seconds,
        )
    return replace(current, errors=current.errors + 1)


def record(
    kind: Outcome,
    function_id: str,
    uri: str,
    *,
    data: Any = None,
    nbytes: int = 0,
    seconds: float = 0.0,
    error: BaseException | None = None,
    verbose: bool = False,
) -> None:
    """Count an outcome, tell the callbacks, print it when verbose. `data`: the entry's
    bytes (hit, wait), whose size and stored duration are counted."""
    if data is not None:
        nbytes = len(data)
        seconds = header_number(data, DURATION_FIELD) or 0.0
    event = Event(kind, function_id, uri, nbytes, seconds, error)
    with _lock:
        _stats[function_id] = _add(_stats.get(function_id, FunctionStats()), event)
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener(event)
        except Exception:
            logger.exception("memokey.on_event callback %r failed", listener)
    if verbose or verbose_env():
        print(_line(event), file=sys.stderr)


def _line(event: Event) -> str:
    digest = event.uri.rsplit("/", 1)[-1][:12]
    detail = ""
    if event.kind in ("hit", "wait") and event.seconds:
        detail = f"  (saved {event.seconds:.3g} s)"
    elif event.kind == "publish":
        detail = f"  ({event.nbytes} bytes, computed in {event.seconds:.3g} s)"
    elif event.kind == "error" and event.error is not None:
        detail = f"  ({type(event.error).__name__})"
    return f"memokey: {event.kind:<7} {event.function_id} {digest}{detail}"
