"""`FsspecStore`: the one `Store` implementation, over any fsspec filesystem.

Reads, listing, metadata and deletion are plain fsspec calls; publishing (exclusive
create, replace, compare-and-swap) goes through the backend's `Primitives`. Every call
runs through `_translate.call`, so errors arrive as `StoreError`s with bounded retries.
For chained URLs (``simplecache::s3://...``) whole-object reads go through the chain
(results are write-once, so caching them is safe) and everything else goes straight to
the innermost filesystem, so that conditional writes and versions are the real ones.

Local roots (a plain ``file://`` filesystem, no chain) read, check, write and delete
with plain OS calls on a path joined once, not through fsspec and the retry wrapper: a
cache hit is then one ``open`` + ``read``. Only success and "absent" take that path; any
other `OSError` is repeated through the general path, so errors look the same.
"""

from __future__ import annotations

import contextlib
import io
import os
import posixpath
from typing import Any

from memokey_backends._local import TMP_PREFIX
from memokey_backends._primitives import Primitives
from memokey_backends._translate import DEFAULT_RETRY, RetryPolicy, call, translate
from memokey_backends.errors import CapabilityError, InvalidRootError
from memokey_backends.protocol import EntryInfo

__all__ = ["FsspecStore"]


def _mtime(info: dict[str, Any]) -> float | None:
    """POSIX seconds from whichever field this backend fills in."""
    for key in ("mtime", "LastModified", "last_modified", "updated", "modified", "created"):
        value = info.get(key)
        if value is None:
            continue
        if isinstance(value, (int, float)):
            return float(value)
        if hasattr(value, "timestamp"):
            return float(value.timestamp())
        if isinstance(value, str):
            from datetime import datetime

            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return None


_ONE_READ = 1 << 26
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0)


def _read_local(path: str) -> bytes:
    """A whole local file in as few system calls as possible: open, fstat, one read."""
    fd = os.open(path, _READ_FLAGS)
    try:
        size = os.fstat(fd).st_size
        if size < _ONE_READ:
            data = os.read(fd, size + 1)  # one byte more: a short read proves the end
            if len(data) == size:
                return data
            os.lseek(fd, 0, os.SEEK_SET)  # it changed while we read: start over
        with io.FileIO(fd, "rb", closefd=False) as f:
            return f.readall()  # large: reads in a loop into one buffer
    finally:
        os.close(fd)


class FsspecStore:
    """A `Store` rooted at `root` inside the fsspec filesystem `fs`."""

    def __init__(
        self,
        url: str,
        fs: Any,
        root: str,
        primitives: Primitives,
        *,
        read_fs: Any = None,
        process_local: bool = False,
        retry: RetryPolicy = DEFAULT_RETRY,
    ) -> None:
        self.url = url.rstrip("/")
        self.fs = fs
        self.root = root.rstrip("/")
        self.primitives = primitives
        self.supports_cas = primitives.supports_cas
        self.process_local = process_local
        self._read_fs = read_fs if read_fs is not None else fs
        self._retry = retry
        # The OS directory of a plain local root (fast paths), else None.
        self._local_root: str | None = None
        if self._read_fs is fs:
            from fsspec.implementations.local import LocalFileSystem

            if isinstance(fs, LocalFileSystem):
                self._local_root = self.root

    def __repr__(self) -> str:
        return f"FsspecStore({self.url!r})"

    # -- paths ---------------------------------------------------------------------------

    def _full(self, path: str) -> str:
        """The filesystem path of a relative store path; refuses escapes from the root."""
        parts = [p for p in path.split("/") if p]
        if any(p in (".", "..") for p in parts) or path.startswith("/"):
            raise InvalidRootError(
                f"store path {path!r} must be relative to the root {self.url} and must not "
                "contain '.' or '..' segments; pass a plain 'a/b/c' path.",
                path=path,
            )
        return "/".join([self.root, *parts]) if parts else self.root

    def _relative(self, full: str) -> str:
        """The store path of a filesystem path fsspec returned (always under the root)."""
        name = full.strip("/")
        root = self.root.strip("/")
        if name == root:
            return ""
        return name[len(root) + 1 :] if root else name

    def _os_path(self, root: str, path: str) -> str:
        """`_full` for local roots, without splitting a path that has no dot segment."""
        if path[:1] not in ("/", ".", "") and "/." not in path:
            return f"{root}/{path}"
        return self._full(path)

    def uri(self, path: str) -> str:
        parts = [p for p in path.split("/") if p]
        return "/".join([self.url, *parts])

    def _call(self, op: str, path: str, fn: Any) -> Any:
        return call(fn, op=op, uri=self.uri(path), retry=self._retry)

    # -- reads ---------------------------------------------------------------------------

    def read(self, path: str) -> bytes | None:
        root = self._local_root
        if root is not None:
            try:  # `_os_path`, inlined: this is every cache hit
                if path[:1] not in ("/", ".", "") and "/." not in path:
                    return _read_local(f"{root}/{path}")
                return _read_local(self._full(path))
            except FileNotFoundError:
                return None
            except OSError:
                pass  # the general path below retries and translates it
        full = self._full(path)
        if self._read_fs is self.fs:  # no cache layer: the backend's one-request read
            direct: bytes | None = self._call("read", path, lambda: self.primitives.read(full))
            return direct

        def go() -> bytes | None:
            try:
                return bytes(self._read_fs.cat_file(full))
            except FileNotFoundError:
                return None

        result: bytes | None = self._call("read", path, go)
        return result

    def read_tail(self, path: str, size: int) -> bytes | None:
        """The last `size` bytes of an object (all of it when smaller), or None when it
        is absent: what tools read to see an entry's metadata without its payload."""
        root = self._local_root
        if root is not None:
            try:
                with open(self._os_path(root, path), "rb") as f:
                    end = f.seek(0, os.SEEK_END)
                    f.seek(max(0, end - size))
                    return f.read()
            except FileNotFoundError:
                return None
            except OSError:
                pass  # the general path below retries and translates it
        full = self._full(path)

        def go() -> bytes | None:
            info = self._info(full)
            if info is None or info.get("type") == "directory":
                return None
            total = int(info.get("size") or 0)
            start = max(0, total - size)
            try:
                return bytes(self.fs.cat_file(full, start=start, end=total))
            except FileNotFoundError:
                return None

        result: bytes | None = self._call("read", path, go)
        return result

    def local_path(self, path: str) -> str | None:
        """The OS path of `path` on a plain local root, else None (kernel locks and
        memory maps need one)."""
        root = self._local_root
        return None if root is None else self._os_path(root, path)

    def read_versioned(self, path: str) -> tuple[bytes, str] | None:
        full = self._full(path)
        result: tuple[bytes, str] | None = self._call(
            "read", path, lambda: self.primitives.read_versioned(full)
        )
        return result

    def _info(self, full: str) -> dict[str, Any] | None:
        try:
            info: dict[str, Any] = self.fs.info(full)
        except FileNotFoundError:
            return None
        return info

    def _entry(self, info: dict[str, Any]) -> EntryInfo:
        full = str(info["name"])
        is_dir = info.get("type") == "directory"
        return EntryInfo(
            path=self._relative(full),
            size=0 if is_dir else int(info.get("size") or 0),
            mtime=None if is_dir else _mtime(info),
            version=None if is_dir else self.primitives.version_of(full, info),
            is_dir=is_dir,
        )

    def info(self, path: str) -> EntryInfo | None:
        full = self._full(path)

        def go() -> EntryInfo | None:
            info = self._info(full)
            return None if info is None else self._entry(info)

        result: EntryInfo | None = self._call("info", path, go)
        return result

    def exists(self, path: str) -> bool:
        # Not fs.exists(): fsspec's exists() answers False for *any* error.
        if self._local_root is not None:
            try:
                os.stat(self._os_path(self._local_root, path))
                return True
            except FileNotFoundError:
                return False
            except OSError:
                pass  # the general path below retries and translates it
        full = self._full(path)
        return bool(self._call("exists", path, lambda: self.primitives.exists(full)))

    def list(self, prefix: str, *, recursive: bool = False) -> list[EntryInfo]:
        full = self._full(prefix)

        def go() -> list[EntryInfo]:
            try:
                if recursive:
                    found = self.fs.find(full, detail=True, withdirs=False)
                    infos = list(found.values())
                else:
                    infos = self.fs.ls(full, detail=True)
            except (FileNotFoundError, NotADirectoryError):
                return []
            entries = []
            for info in infos:
                name = str(info["name"]).rstrip("/")
                if name.lstrip("/") == full.lstrip("/"):
                    continue  # ls/find of a file path returns the file itself
                if posixpath.basename(name).startswith(TMP_PREFIX):
                    continue  # a write in progress
                entries.append(self._entry(info))
            return sorted(entries, key=lambda e: e.path)

        result: list[EntryInfo] = self._call("list", prefix, go)
        return result

    # -- writes --------------------------------------------------------------------------

    def write(self, path: str, data: bytes, *, exclusive: bool = False) -> str | None:
        if self._local_root is not None:
            try:
                return self.primitives.write(
                    self._os_path(self._local_root, path), data, exclusive=exclusive
                )
            except FileExistsError as exc:  # lost the race: writing again would lose again
                raise translate(exc, op="exclusive write", uri=self.uri(path)) from exc
            except OSError:
                pass  # the general path repeats it (a write is safe to repeat) and translates
        full = self._full(path)
        version: str | None = self._call(
            "exclusive write" if exclusive else "write",
            path,
            lambda: self.primitives.write(full, data, exclusive=exclusive),
        )
        return version

    def swap(self, path: str, data: bytes, *, version: str) -> str:
        if not self.supports_cas:
            raise CapabilityError(
                f"compare-and-swap is not available for {self.url}: this backend has no "
                "conditional replace. Use a root on file://, memory://, s3://, gs:// or az://.",
                uri=self.uri(path),
            )
        full = self._full(path)
        result: str = self._call(
            "compare-and-swap",
            path,
            lambda: self.primitives.swap(full, data, version=version),
        )
        return result

    def delete(self, path: str, *, recursive: bool = False, version: str | None = None) -> None:
        if version is not None:  # only while it is still that version (a lease release)
            full = self._full(path)
            self._call("conditional delete", path, lambda: self.primitives.delete_if(full, version))
            return
        if self._local_root is not None and not recursive:
            try:
                os.unlink(self._os_path(self._local_root, path))
                return
            except FileNotFoundError:
                return
            except OSError:
                pass  # a directory, or an error: the general path below
        full = self._full(path)

        def go() -> None:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(full, recursive=recursive)

        self._call("delete", path, go)
