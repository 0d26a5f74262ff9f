"""How one kind of filesystem publishes bytes: exclusive create, replace and compare-and-swap.

`FsspecStore` does everything else (reads, listing, metadata, deletion) the same way for
every fsspec filesystem; only these few operations need each backend's real primitive.
Subclasses live beside this module (`_local`, `_memory`, `_s3`, `_gcs`, `_azure`).
Failures are raised in the backend's own shape (a lost race is `FileExistsError`);
`memokey_backends._translate` turns them into memokey errors.
"""

from __future__ import annotations

import errno
import hashlib
from dataclasses import dataclass, replace
from typing import Any

from memokey_backends._deadline import run

__all__ = ["IncompleteUpload", "Primitives", "content_version", "stale"]


@dataclass(frozen=True)
class IncompleteUpload:
    """An upload that was started and neither completed nor aborted (S3 multipart)."""

    path: str
    """The object it would have created: a full filesystem path from `Primitives`,
    relative to the store root from `FsspecStore.incomplete_uploads`."""
    upload_id: str
    initiated: float | None
    """POSIX seconds, when the backend reports it."""

    def relative_to(self, root: str) -> IncompleteUpload:
        name, root = self.path.strip("/"), root.strip("/")
        return replace(self, path=name[len(root) + 1 :] if root else name)


def content_version(data: bytes) -> str:
    """A version token derived from the bytes themselves (used where no ETag exists)."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def stale(path: str, detail: str = "the version is stale") -> FileExistsError:
    """The shape every primitive uses for a lost compare-and-swap."""
    return FileExistsError(errno.EEXIST, detail, path)


class Primitives:
    """Best-effort publishing through plain fsspec calls, for filesystems memokey does
    not know (sftp, hdfs, ...): exclusive create uses ``pipe_file(mode="create")``,
    which such filesystems may implement as check-then-write, and there is no
    compare-and-swap. Register a store factory for stronger guarantees.
    """

    supports_cas: bool = False

    def __init__(self, fs: Any) -> None:
        self.fs = fs

    def read(self, path: str) -> bytes | None:
        """The whole object in one request, or None when absent."""
        try:
            return bytes(run(self.fs, "cat_file", path))
        except FileNotFoundError:
            return None

    def exists(self, path: str) -> bool:
        """Whether an object is at `path`; backends override this with one request that
        never lists (fsspec's ``info()`` lists a prefix when the object is absent)."""
        try:
            run(self.fs, "info", path)
        except FileNotFoundError:
            return False
        return True

    def write(self, path: str, data: bytes, *, exclusive: bool) -> str | None:
        """Publish `data`; the new version token when the backend reports one."""
        if exclusive:
            run(self.fs, "pipe_file", path, data, mode="create")
        else:
            run(self.fs, "pipe_file", path, data)
        return None

    def write_parts(self, path: str, parts: list[Any], *, exclusive: bool) -> str | None:
        """`write` of the concatenation of `parts`; joined here (one copy), streamed by
        backends that can write a sequence of buffers."""
        return self.write(path, b"".join(parts), exclusive=exclusive)

    def delete_if(self, path: str, version: str) -> None:
        """Delete the object only while its version is `version` (`stale` otherwise);
        here a read, a comparison and a delete, which backends replace by one request."""
        current = self.read_versioned(path)
        if current is None:
            return
        if current[1] != version:
            raise stale(path)
        run(self.fs, "rm_file", path)

    def read_versioned(self, path: str) -> tuple[bytes, str] | None:
        try:
            data = bytes(run(self.fs, "cat_file", path))
        except FileNotFoundError:
            return None
        return data, content_version(data)

    def swap(self, path: str, data: bytes, *, version: str) -> str:
        raise NotImplementedError  # FsspecStore checks supports_cas first

    def version_of(self, path: str, info: dict[str, Any]) -> str | None:
        """The version token of the object `info` describes, without reading it."""
        return None

    def incomplete_uploads(self, root: str) -> list[IncompleteUpload]:
        """Unfinished uploads below the filesystem path `root` (none by default)."""
        return []

    def abort_upload(self, path: str, upload_id: str) -> None:
        """Abort one upload `incomplete_uploads` reported."""
