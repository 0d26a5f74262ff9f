"""Publishing into fsspec's process-global ``memory://`` filesystem.

fsspec's own exclusive create there is check-then-set, which a thread switch can split;
every mutation here takes one process-wide lock instead, so exactly one of racing
threads wins. There is no ETag, so the version token is a hash of the content (two
writes of identical bytes share a version, which is harmless for compare-and-swap).
"""

from __future__ import annotations

import threading
from typing import Any

from memokey_backends._primitives import Primitives, content_version, stale

__all__ = ["MemoryPrimitives"]

_LOCK = threading.Lock()


class MemoryPrimitives(Primitives):
    """Check-and-set under a lock; the store is visible to this process only."""

    supports_cas = True

    def _current(self, path: str) -> bytes | None:
        f = self.fs.store.get(path)
        return None if f is None else bytes(f.getbuffer())

    def write(self, path: str, data: bytes, *, exclusive: bool) -> None:
        with _LOCK:
            # A dict lookup, not fs.exists(): for an absent path that scans every key.
            if exclusive and path in self.fs.store:
                raise FileExistsError(path)
            self.fs.pipe_file(path, bytes(data))

    def read_versioned(self, path: str) -> tuple[bytes, str] | None:
        with _LOCK:
            data = self._current(path)
        return None if data is None else (data, content_version(data))

    def swap(self, path: str, data: bytes, *, version: str) -> str:
        with _LOCK:
            current = self._current(path)
            if current is None:
                raise stale(path, "the object no longer exists")
            if content_version(current) != version:
                raise stale(path)
            self.fs.pipe_file(path, bytes(data))
        return content_version(data)

    def version_of(self, path: str, info: dict[str, Any]) -> str | None:
        data = self._current(path)
        return None if data is None else content_version(data)
