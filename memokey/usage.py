"""Use tracking, so ``memokey gc --unused-for`` works where there are no access times.

A hit records that its entry was used, at most once per entry per day in a process, in
the background (a one-thread pool): the call that hit never waits for it and never
fails because of it. Local roots set the entry file's access time (``os.utime``; its
modification time, and so its version, are kept). Object stores (and ``memory://``)
write an empty ``{digest}.used`` sibling whose modification time is the last use: one
tiny write per entry per day per process. A large local entry (memory-mapped on a hit)
whose access time is already within the last day is left alone: setting it changes the
file's ctime, which makes its next hit verify every byte again (`memokey.verified`), so
that happens at most once per entry per day, whatever the number of processes. Turn it
off with ``MEMOKEY_TRACK_USE=0`` (read at import) or `set_use_tracking(False)`; gc then
judges use by creation time alone.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from memokey.layout import USED, sibling
from memokey_backends import Store
from memokey_backends.mapped import MAP_FROM

__all__ = ["ENV", "note_use", "set_use_tracking", "tracking_enabled", "wait_for_marks"]

logger = logging.getLogger("memokey")

ENV = "MEMOKEY_TRACK_USE"
_DAY = 86400.0
_DAY_NS = 86_400 * 10**9
_MAX_REMEMBERED = 100_000

_enabled = os.environ.get(ENV, "1").strip().lower() not in ("0", "false", "no", "off")
_marked: dict[str, int] = {}
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def set_use_tracking(enabled: bool) -> None:
    """Turn use tracking on or off for this process."""
    global _enabled
    _enabled = bool(enabled)


def tracking_enabled() -> bool:
    return _enabled


def note_use(store: Store, path: str, uri: str) -> None:
    """The hit path's part: a dict lookup; the first hit of the day queues one mark."""
    if not _enabled:
        return
    day = int(time.time() // _DAY)
    if _marked.get(uri) == day:
        return
    if len(_marked) >= _MAX_REMEMBERED:
        _marked.clear()
    _marked[uri] = day
    _executor().submit(_mark, store, path)


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memokey-use")
        return _pool


def wait_for_marks() -> None:
    """Block until every queued mark is written (tests, and tools about to exit)."""
    _executor().submit(lambda: None).result()


def _mark(store: Store, path: str) -> None:
    try:
        local_path = getattr(store, "local_path", None)
        where = None if local_path is None else local_path(path)
        if where is not None:
            status = os.stat(where)
            now = time.time_ns()
            if status.st_size >= MAP_FROM and now - status.st_atime_ns < _DAY_NS:
                return  # a large entry used within the day (see the module docstring)
            os.utime(where, ns=(now, status.st_mtime_ns))
        else:
            store.write(sibling(path, USED), b"")
    except Exception as exc:  # use tracking never fails anything
        logger.debug("could not record the use of %s: %s", path, exc)
