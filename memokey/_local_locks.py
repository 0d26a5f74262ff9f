"""Compute-once on local roots with kernel byte-range locks instead of lease files.

A lease object costs a file create, renewals and a delete per miss, and a crashed holder
makes waiters wait for its expiry. On a local root every caller shares one kernel, so one
lock file per function directory (``{function dir}/.memokey-locks``, never holding data)
serves every key: a caller locks ONE byte at an offset derived from the key's digest
(`fcntl.lockf`, a POSIX record lock). Waiters block in the kernel (no polling), and the
kernel drops the locks of a process that dies, so a SIGKILLed holder never makes the next
caller wait.

POSIX record locks belong to a process, not a thread, and closing ANY descriptor of the
file drops all of the process's locks on it. So each lock file is opened once per process
and kept open, and threads of one process exclude each other with an in-process lock per
(file, offset) taken before the kernel lock. Two digests mapping to one offset (60 bits
of the digest are used) would only make one wait for the other.

Where `fcntl` is missing (Windows) or the lock file cannot be opened, callers fall back to
lease objects (`memokey.leases`).
"""

from __future__ import annotations

import os
import threading
import weakref
from types import TracebackType

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_FILE", "LocalLock", "available", "lock_for"]

LOCK_FILE = ".memokey-locks"
_OFFSET_HEX = 15  # 60 bits: offsets stay below 2**63 (off_t)

_guard = threading.Lock()
_fds: dict[str, int] = {}  # lock file path -> descriptor, open for the process's life


class _ThreadLock:
    """The in-process lock of one (file, offset), shared by the `LocalLock`s that use it
    now and dropped with the last of them (weakly held: a long run of distinct keys must
    not grow the table)."""

    __slots__ = ("__weakref__", "lock")

    def __init__(self) -> None:
        self.lock = threading.Lock()


_in_process: weakref.WeakValueDictionary[tuple[str, int], _ThreadLock] = (
    weakref.WeakValueDictionary()
)


def available() -> bool:
    """Whether this platform has POSIX byte-range locks."""
    return fcntl is not None


def _offset(digest: str) -> int:
    try:
        return int(digest[:_OFFSET_HEX], 16)
    except ValueError:  # not a hex digest: any stable offset will do
        return int.from_bytes(digest.encode()[:7].ljust(7, b"\0"), "big")


def _descriptor(lock_file: str) -> int:
    with _guard:
        fd = _fds.get(lock_file)
        if fd is None:
            try:
                fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o666)
            except FileNotFoundError:
                os.makedirs(os.path.dirname(lock_file), exist_ok=True)
                fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o666)
            _fds[lock_file] = fd
        return fd


class LocalLock:
    """One key's byte-range lock: `acquire()` blocks until this process holds it."""

    def __init__(self, lock_file: str, digest: str) -> None:
        self.lock_file = lock_file
        self.offset = _offset(digest)
        with _guard:
            shared = _in_process.get((lock_file, self.offset))
            if shared is None:
                shared = _in_process[(lock_file, self.offset)] = _ThreadLock()
        self._shared = shared  # keeps it alive while this lock may be held
        self._thread_lock = shared.lock
        self._held = False

    def acquire(self) -> None:
        assert fcntl is not None
        fd = _descriptor(self.lock_file)
        self._thread_lock.acquire()
        try:
            # Blocks in the kernel; dropped if we die. `start` is absolute: the shared
            # descriptor's file position is never used (threads would race on it).
            fcntl.lockf(fd, fcntl.LOCK_EX, 1, self.offset, os.SEEK_SET)
        except BaseException:
            self._thread_lock.release()
            raise
        self._held = True

    def release(self) -> None:
        """Unlock; never raises (the kernel drops the lock when the process ends)."""
        if not self._held:
            return
        self._held = False
        assert fcntl is not None
        try:
            fd = _descriptor(self.lock_file)
            fcntl.lockf(fd, fcntl.LOCK_UN, 1, self.offset, os.SEEK_SET)
        except OSError:  # pragma: no cover - unlocking a held range does not fail
            pass
        finally:
            self._thread_lock.release()

    def held_by_someone(self) -> bool:
        """Whether another thread or process holds this lock now (a probe that never
        blocks: tools such as ``memokey gc`` ask it before removing a key's debris)."""
        assert fcntl is not None
        if not os.path.exists(self.lock_file):
            return False
        if not self._thread_lock.acquire(blocking=False):
            return True
        try:
            fd = _descriptor(self.lock_file)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, self.offset, os.SEEK_SET)
            except OSError:
                return True
            fcntl.lockf(fd, fcntl.LOCK_UN, 1, self.offset, os.SEEK_SET)
            return False
        finally:
            self._thread_lock.release()

    def __enter__(self) -> LocalLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def lock_for(entry_os_path: str, digest: str) -> LocalLock | None:
    """The lock for the entry at `entry_os_path` (an OS path), or None without `fcntl`."""
    if not available():
        return None
    # `os.path.join(os.path.dirname(...), LOCK_FILE)` without two calls per miss: with
    # `fcntl` the platform is POSIX, where "/" is the only separator.
    directory, slash, _ = entry_os_path.rpartition("/")
    return LocalLock(f"{directory}{slash}{LOCK_FILE}", digest)
