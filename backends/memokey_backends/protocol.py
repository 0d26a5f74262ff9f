"""The storage contract every memokey store fulfils.

Kept to a handful of primitives so that a new backend is a small class; TTLs, garbage
collection and statistics are built on top of these in `memokey`, not here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from memokey_backends._primitives import IncompleteUpload

__all__ = ["EntryInfo", "Store", "SupportsUploadCleanup"]


@dataclass(frozen=True)
class EntryInfo:
    """Metadata of one stored object (or pseudo-directory), read without its content."""

    path: str
    """Relative to the store root, "/"-separated."""
    size: int
    mtime: float | None
    """POSIX seconds, when the backend reports one."""
    version: str | None
    """ETag / generation / local token: the `version=` argument of `Store.swap`."""
    is_dir: bool = False


@runtime_checkable
class Store(Protocol):
    """A root URL holding objects addressed by "/"-separated relative paths.

    A missing object is `None` (never an exception); a failure is a `StoreError`
    (never `None`).
    """

    url: str
    """The root URL, normalised (``protocol://...``)."""
    supports_cas: bool
    """Whether `swap` works."""
    process_local: bool
    """True when other processes cannot see this store's contents (``memory://``)."""

    def uri(self, path: str) -> str:
        """The full URL of a relative path."""
        ...

    def read(self, path: str) -> bytes | None:
        """The whole object in one read, or None when it does not exist."""
        ...

    def read_versioned(self, path: str) -> tuple[bytes, str] | None:
        """The object and the version token of exactly those bytes, or None."""
        ...

    def write(self, path: str, data: bytes, *, exclusive: bool = False) -> str | None:
        """Store `data` atomically: a reader sees all of it or nothing.

        With ``exclusive=True`` raise `WriteConflictError` when the path exists; of
        concurrent exclusive writers exactly one wins. Returns the new object's version
        token when the backend reports it with the write (else None).
        """
        ...

    def swap(self, path: str, data: bytes, *, version: str) -> str:
        """Replace the object only if its current version is `version`; return the new one.

        Raises `WriteConflictError` when the version is stale or the object is gone, and
        `CapabilityError` when `supports_cas` is False.
        """
        ...

    def exists(self, path: str) -> bool:
        """Whether an object exists at `path` (one request; never a listing)."""
        ...

    def delete(self, path: str, *, recursive: bool = False, version: str | None = None) -> None:
        """Remove the object (or, with `recursive`, everything under it); absent is fine.

        With `version`, only while the object is still that version (one conditional
        request where the backend has one); `WriteConflictError` when it changed.
        """
        ...

    def read_tail(self, path: str, size: int) -> bytes | None:
        """The last `size` bytes of the object (all of it when smaller), or None."""
        ...

    def list(self, prefix: str, *, recursive: bool = False) -> list[EntryInfo]:
        """Entries directly under `prefix` (all files below it with `recursive`).

        An absent prefix gives an empty list.
        """
        ...

    def info(self, path: str) -> EntryInfo | None:
        """Metadata of one object or directory, or None when absent."""
        ...


@runtime_checkable
class SupportsUploadCleanup(Protocol):
    """A store that can find and abort uploads a killed writer left unfinished (billed
    storage on S3); an optional capability, used by clean-up tools."""

    def incomplete_uploads(self, *, older_than: float = 0.0) -> list[IncompleteUpload]:
        """Unfinished uploads under the root, started at least `older_than` s ago."""
        ...

    def abort_incomplete_uploads(
        self, *, older_than: float, only: Callable[[str], bool] | None = None
    ) -> int:
        """Abort those uploads (with `only`: those whose root-relative path it accepts);
        how many were aborted."""
        ...
