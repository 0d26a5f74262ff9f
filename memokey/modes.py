"""Run modes: how memoized calls use the store for a while, without touching the code.

    with memokey.mode("offline"):      # CI: every call must be a hit
        run_pipeline()

``normal`` (the default) reads hits and computes and publishes misses. ``off`` calls the
function and touches no store. ``readonly`` serves hits and computes misses without
writing anything (no lease, no entry). ``refresh`` recomputes every call and replaces
its entry atomically (readers see the old or the new value, whole). ``offline`` serves
hits and raises `OfflineMissError` on any miss: the reproducibility guard for CI and for
re-running published results.

The mode is context-local (`contextvars`: tasks and ``.submit`` calls started inside
inherit it). Threads do not inherit context variables (``threading.Thread``,
``ThreadPoolExecutor``), and an offline guard or a read-only block that worker threads
silently ignored would compute and write: so a thread that has not entered a mode of its
own follows the innermost block open in another thread. Outside any block the
``MEMOKEY_MODE`` environment variable applies, read per call. The runner asks
`current_mode()` once per call; everything a mode does differently lives here, so the
runner has one hook.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator
from typing import Any, Literal, cast, get_args

from memokey._steps import Call, Io, Steps
from memokey._targets import Target, decoded, read_entry
from memokey.errors import ConfigurationError, OfflineMissError
from memokey.expiry import expired
from memokey.signing import env_value
from memokey.usage import note_use

__all__ = [
    "MODES",
    "Mode",
    "OfflineMissError",
    "current_mode",
    "in_mode",
    "mode",
    "replaces",
    "replacing",
]

Mode = Literal["normal", "off", "readonly", "refresh", "offline"]
MODES: tuple[str, ...] = get_args(Mode)
ENV = "MEMOKEY_MODE"

_mode: contextvars.ContextVar[Mode | None] = contextvars.ContextVar("memokey_mode", default=None)
#: Blocks open in any thread, innermost last: (thread id, mode), for other threads.
_open: list[tuple[int, Mode]] = []
_open_lock = threading.Lock()
_replacing: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "memokey_replacing", default=False
)


def check_mode(name: object, *, source: str = "memokey.mode()") -> Mode:
    """`name` as a `Mode`, or `ConfigurationError` listing the choices."""
    if isinstance(name, str) and name.strip().lower() in MODES:
        return cast("Mode", name.strip().lower())
    raise ConfigurationError(
        f"{source} got {name!r}, which is not a run mode; use one of "
        f"{', '.join(repr(m) for m in MODES)}"
    )


@contextlib.contextmanager
def mode(name: Mode) -> Iterator[None]:
    """Run the block's memoized calls in mode `name` (see the module docstring)."""
    checked = check_mode(name)
    token = _mode.set(checked)
    block = (threading.get_ident(), checked)
    with _open_lock:
        _open.append(block)
    try:
        yield
    finally:
        _mode.reset(token)
        with _open_lock:
            _open.reverse()  # remove the innermost equal block (blocks may end out of order)
            _open.remove(block)
            _open.reverse()


def current_mode() -> Mode | None:
    """The mode in force, None for ``normal`` (the runner's usual path)."""
    name = _mode.get()
    if name is None and _open:
        name = _other_threads_mode()
    if name is None:
        name = _env_mode()
    return None if name == "normal" else name


_env_parsed: tuple[str | None, Mode | None] = (None, None)


def _env_mode() -> Mode | None:
    """``MEMOKEY_MODE``, read on every call (set at run time, it applies to the next
    call) but parsed once per value: `env_value` is a dict lookup, not `os.environ.get`."""
    global _env_parsed
    raw = env_value(ENV)
    cached_raw, cached = _env_parsed
    if raw == cached_raw:
        return cached
    parsed = check_mode(raw, source=ENV) if raw else None
    _env_parsed = (raw, parsed)
    return parsed


def _other_threads_mode() -> Mode | None:
    """The innermost block open in another thread (a worker thread of that block);
    the calling thread's own context said nothing, so its blocks are not for it (an
    asyncio task outside the block runs in the same thread)."""
    here = threading.get_ident()
    with _open_lock:
        for thread, name in reversed(_open):
            if thread != here:
                return name
    return None


@contextlib.contextmanager
def replacing() -> Iterator[None]:
    """Publishes in this block replace an existing entry instead of keeping it (refresh)."""
    token = _replacing.set(True)
    try:
        yield
    finally:
        _replacing.reset(token)


def replaces() -> bool:
    """Whether a publish now replaces (atomic overwrite) rather than creates exclusively."""
    return _replacing.get()


def _fresh_lookup(target: Target, ttl: float | None) -> tuple[bool, Any, Any]:
    """`lookup` (and the bytes read), an entry older than `ttl` counting as absent
    (found False with the bytes: expired)."""
    data = read_entry(target.store, target.path)
    if data is not None and ttl is not None and expired(data, ttl):
        return False, None, data
    found, value = decoded(target, data)
    return found, value, data


#: How a mode reports an outcome to `memokey.observe` (the runner's ``_observe``).
Observe = Callable[..., None]


def _ignore(kind: str, target: Target, **details: Any) -> None:
    """The default `Observe`: report nothing."""


def _used(name: Mode, target: Target) -> None:
    """An offline hit records its use like a normal one (background, once a day), or
    ``gc --unused-for`` would delete entries that CI reruns only ever hit; ``readonly``
    writes nothing, use markers included."""
    if name == "offline":
        note_use(target.store, target.path, target.uri)


def _offline_miss(target: Target, ttl: float | None, stale: Any) -> OfflineMissError:
    what = (
        "no stored result"
        if stale is None
        else f"the stored result is older than ttl={ttl:g}s (expired)"
    )
    return OfflineMissError(
        f"{target.key.function_id}: {what} at {target.uri} and run mode is "
        "'offline' (memokey.mode or MEMOKEY_MODE), so it was not computed. Run once "
        "outside offline mode to store it, or check why the key changed with "
        "f.explain(...) / `memokey ls`"
    )


def in_mode(
    name: Mode,
    target: Target,
    call: Call,
    refresh: Callable[[], Steps],
    ttl: float | None = None,
    observe: Observe = _ignore,
) -> Steps:
    """A call in mode `name`, as steps (`memokey._steps`): `call` runs the function here
    without storing, `refresh` recomputes and replaces the entry."""
    if name == "off":
        return (yield call)
    if name == "refresh":
        return (yield from refresh())
    found, value, data = yield Io(_fresh_lookup, (target, ttl))
    if found:
        observe("hit", target, data=data)  # stats and on_event see every mode's hits
        _used(name, target)
        return value
    observe("miss", target)
    if name == "offline":
        raise _offline_miss(target, ttl, data)
    return (yield call)  # readonly: compute, write nothing
