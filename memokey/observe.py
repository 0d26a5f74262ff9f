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
``MEMOKEY_VERBOSE=1`` (read at import), prints one line per outcome to stderr.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from memokey.expiry import DURATION_FIELD, header_number

__all__ = [
    "Event",
    "FunctionStats",
    "Outcome",
    "on_event",
    "record",
    "record_hit",
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
_FIELDS = (
    "hits",
    "misses",
    "waits",
    "errors",
    "publishes",
    "bytes_read",
    "bytes_written",
    "compute_seconds",
    "seconds_saved",
)
_AT = {name: i for i, name in enumerate(_FIELDS)}
#: What each outcome adds to: (count field, bytes field, seconds field).
_ADDS: dict[str, tuple[int, int | None, int | None]] = {
    "hit": (_AT["hits"], _AT["bytes_read"], _AT["seconds_saved"]),
    "wait": (_AT["waits"], None, _AT["seconds_saved"]),
    "miss": (_AT["misses"], None, None),
    "publish": (_AT["publishes"], _AT["bytes_written"], _AT["compute_seconds"]),
    "error": (_AT["errors"], None, None),
}
_counters: dict[str, list[float]] = {}  # function id -> values in _FIELDS order
#: Stored durations of entries already seen, by (uri, size): a repeated hit does not
#: search its header again (bounded; cleared when full).
_durations: dict[tuple[str, int], float] = {}
_MAX_DURATIONS = 4096
_listeners: list[Callable[[Event], None]] = []


def stats() -> dict[str, FunctionStats]:
    """Function id -> its counters (a snapshot)."""
    with _lock:
        snapshot = {name: list(values) for name, values in _counters.items()}
    return {
        name: FunctionStats(
            **{field: int(v) for field, v in zip(_FIELDS[:7], values[:7], strict=True)},
            compute_seconds=values[7],
            seconds_saved=values[8],
        )
        for name, values in snapshot.items()
    }


def reset_stats() -> None:
    with _lock:
        _counters.clear()


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
    """Whether ``MEMOKEY_VERBOSE`` asks for lines (read once, at import: not per call)."""
    return _VERBOSE_ENV


_VERBOSE_ENV = os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes", "on")


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
        seconds = _stored_duration(uri, data, nbytes)
    count, size, spent = _ADDS[kind]
    with _lock:
        values = _counters.get(function_id)
        if values is None:
            values = _counters[function_id] = [0.0] * len(_FIELDS)
        values[count] += 1
        if size is not None:
            values[size] += nbytes
        if spent is not None:
            values[spent] += seconds
        listeners = list(_listeners) if _listeners else None
    if listeners is not None or verbose or _VERBOSE_ENV:
        _tell(Event(kind, function_id, uri, nbytes, seconds, error), listeners, verbose)


_HITS, _READ, _SAVED = _AT["hits"], _AT["bytes_read"], _AT["seconds_saved"]


def record_hit(function_id: str, uri: str, data: Any, verbose: bool) -> None:
    """`record` of a hit, the commonest outcome, in fewer steps."""
    nbytes = len(data)
    seconds = _durations.get((uri, nbytes), -1.0)
    if seconds < 0:
        seconds = _stored_duration(uri, data, nbytes)
    with _lock:
        values = _counters.get(function_id) or _counters.setdefault(
            function_id, [0.0] * len(_FIELDS)
        )
        values[_HITS] += 1
        values[_READ] += nbytes
        values[_SAVED] += seconds
        listeners = list(_listeners) if _listeners else None
    if listeners is not None or verbose or _VERBOSE_ENV:
        _tell(Event("hit", function_id, uri, nbytes, seconds), listeners, verbose)


def _stored_duration(uri: str, data: Any, nbytes: int) -> float:
    """The compute duration stored in the entry's header (remembered per URI and size)."""
    seconds = _durations.get((uri, nbytes), -1.0)
    if seconds < 0:
        seconds = header_number(data, DURATION_FIELD) or 0.0
        if len(_durations) >= _MAX_DURATIONS:
            _durations.clear()
        _durations[uri, nbytes] = seconds
    return seconds


def _tell(event: Event, listeners: list[Callable[[Event], None]] | None, verbose: bool) -> None:
    for listener in listeners or ():
        try:
            listener(event)
        except Exception:
            logger.exception("memokey.on_event callback %r failed", listener)
    if verbose or _VERBOSE_ENV:
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
