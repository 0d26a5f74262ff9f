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

Every operation has an overall deadline (`timeout` seconds, retries included; writes
get one more second per `WRITE_RATE` bytes, recursive listings `LISTING_FACTOR` times
the timeout), enforced on network filesystems by
`_deadline`. Object paths are checked before any request: characters a backend would
parse instead of store (``?`` and ``#`` start a URL query or fragment for s3fs and the
Azure SDK, ``*?[`` are glob patterns to fsspec's ``rm``, backslash is a separator on
Windows, control characters) and ``.``/``..`` segments raise `InvalidPathError`. They
are refused rather than escaped so that a stored name always reads back as written and
every backend maps one path to one object.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import mmap
import os
import posixpath
import re
import time
from collections.abc import Callable
from typing import Any

from memokey_backends._deadline import run
from memokey_backends._gate import Gate
from memokey_backends._local import TMP_PREFIX, open_regular
from memokey_backends._primitives import IncompleteUpload, Primitives
from memokey_backends._translate import DEFAULT_RETRY, RetryPolicy, call, translate
from memokey_backends.errors import CapabilityError, InvalidPathError
from memokey_backends.mapped import MAP_FROM, MappedFile, PublishedFile
from memokey_backends.protocol import EntryInfo

__all__ = [
    "DEFAULT_TIMEOUT",
    "LISTING_FACTOR",
    "MAP_FROM",
    "WRITE_RATE",
    "FsspecStore",
    "MappedFile",
    "PublishedFile",
    "check_path_text",
]


class _Unwritten:
    """A local write that the general path should repeat (`FsspecStore._write_locally`)."""


DEFAULT_TIMEOUT = 60.0
"""Seconds one store operation may take, retries included (the ``timeout`` option)."""
WRITE_RATE = 8 * 2**20
"""Bytes per second a write is assumed to reach at least: a large write's deadline is
`timeout` plus its size at this rate, so that big results are not cut off."""

LISTING_FACTOR = 10
"""A recursive listing (``memokey ls``, gc) gets this many times `timeout`."""

_BAD = "\x00-\x1f\x7f?#*\\[\\]\\\\"
_UNSAFE = re.compile(f"[{_BAD}]")
_PLAIN = re.compile(f"[^/.{_BAD}][^/{_BAD}]*(?:/[^/.{_BAD}][^/{_BAD}]*)*")
"""A path that needs no checking: segments not starting with ".", no unsafe character."""
_PLAIN_NAME = re.compile(f"[^/.{_BAD}][^/{_BAD}]*")
"""One segment of a `_PLAIN` path."""
_MAX_PLAIN_DIRS = 4096


def check_path_text(text: str, what: str) -> None:
    """Raise `InvalidPathError` if `text` holds a character a backend would parse."""
    bad = _UNSAFE.search(text)
    if bad is not None:
        raise InvalidPathError(
            f"{what} {text!r} contains {bad.group()!r}, which a storage backend would "
            "parse (URL query or fragment, glob pattern, path separator or control "
            "character) instead of storing it. Use names made of letters, digits and "
            ". _ + - (for example namespace='exp_1.2').",
            path=text,
        )


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


def _read_local(path: str) -> bytes:
    """A whole local file in as few system calls as possible: open, fstat, one read.
    memokey only ever stores regular files; anything else (a symlink to /dev/zero, a
    FIFO) is refused rather than read forever."""
    fd, status = open_regular(path)
    try:
        size = status.st_size
        if size < _ONE_READ:
            data = os.read(fd, size + 1)  # one byte more: a short read proves the end
            if len(data) == size:
                return data
            os.lseek(fd, 0, os.SEEK_SET)  # it changed while we read: start over
        with io.FileIO(fd, "rb", closefd=False) as f:
            return f.readall()  # large: reads in a loop into one buffer
    finally:
        os.close(fd)


def _map_local(path: str) -> MappedFile | bytes | None:
    """A large regular file memory-mapped copy-on-write, a small one read; None when
    mapping is not possible here (the caller reads instead)."""
    fd, status = open_regular(path)
    try:
        if status.st_size < MAP_FROM:
            data = os.read(fd, status.st_size + 1)
            return data if len(data) == status.st_size else None
        mapped = MappedFile(fd, status.st_size, access=mmap.ACCESS_COPY)
        mapped.os_path, mapped.status = path, status
        return mapped
    except (OSError, ValueError):
        return None
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
        timeout: float = DEFAULT_TIMEOUT,
        gate: Gate | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.fs = fs
        self.root = root.rstrip("/")
        self.primitives = primitives
        self.supports_cas = primitives.supports_cas
        self.process_local = process_local
        self._read_fs = read_fs if read_fs is not None else fs
        self._retry = retry
        self.timeout = timeout
        self._gate = gate  # a slot per pooled connection, taken before the deadline starts
        # The OS directory of a plain local root (fast paths), else None.
        self._local_root: str | None = None
        self._plain_dirs: set[str] = set()  # directories whose paths matched `_PLAIN`
        if self._read_fs is fs:
            from fsspec.implementations.local import LocalFileSystem

            if isinstance(fs, LocalFileSystem):
                self._local_root = self.root

    def __repr__(self) -> str:
        return f"FsspecStore({self.url!r})"

    # -- paths ---------------------------------------------------------------------------

    def _full(self, path: str) -> str:
        """The filesystem path of a relative store path; refuses escapes from the root
        and characters a backend would parse."""
        check_path_text(path, "store path")
        parts = [p for p in path.split("/") if p]
        if any(p in (".", "..") for p in parts) or path.startswith("/"):
            raise InvalidPathError(
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
        """`_full` for local roots, without splitting a plain path (see `_PLAIN`). A
        path in a directory already seen plain checks only its last segment (a hit's
        entry path is a known function directory plus a new digest)."""
        head, slash, name = path.rpartition("/")
        if slash and head in self._plain_dirs and _PLAIN_NAME.fullmatch(name):
            return f"{root}/{path}"
        if _PLAIN.fullmatch(path):
            if slash:
                if len(self._plain_dirs) >= _MAX_PLAIN_DIRS:
                    self._plain_dirs.clear()
                self._plain_dirs.add(head)
            return f"{root}/{path}"
        return self._full(path)

    def uri(self, path: str) -> str:
        parts = [p for p in path.split("/") if p]
        return "/".join([self.url, *parts])

    def _call(self, op: str, path: str, fn: Any, *, extra: float = 0.0) -> Any:
        timeout = self.timeout + extra
        if self._gate is None:
            return call(fn, op=op, uri=self.uri(path), retry=self._retry, timeout=timeout)
        with self._gate.slot():  # waiting for a connection is not the server's silence
            return call(fn, op=op, uri=self.uri(path), retry=self._retry, timeout=timeout)

    # -- reads ---------------------------------------------------------------------------

    def read(self, path: str) -> bytes | None:
        root = self._local_root
        if root is not None:
            try:  # `_os_path`, inlined: this is every cache hit
                if _PLAIN.fullmatch(path):
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
                return bytes(run(self._read_fs, "cat_file", full))
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
            info: dict[str, Any] = run(self.fs, "info", full)
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
                    found = run(self.fs, "find", full, detail=True, withdirs=False)
                    infos = list(found.values())
                else:
                    infos = run(self.fs, "ls", full, detail=True)
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

        # A recursive listing pages through the whole prefix: it may take many requests.
        extra = self.timeout * (LISTING_FACTOR - 1) if recursive else 0.0
        result: list[EntryInfo] = self._call("list", prefix, go, extra=extra)
        return result

    # -- writes --------------------------------------------------------------------------

    def write(self, path: str, data: bytes, *, exclusive: bool = False) -> str | None:
        if self._local_root is not None:
            written = self._write_locally(
                path, lambda os_path: self.primitives.write(os_path, data, exclusive=exclusive)
            )
            if not isinstance(written, _Unwritten):
                return written
        full = self._full(path)
        version: str | None = self._call(
            "exclusive write" if exclusive else "write",
            path,
            lambda: self.primitives.write(full, data, exclusive=exclusive),
            extra=len(data) / WRITE_RATE,
        )
        return version

    def _write_locally(
        self, path: str, write: Callable[[str], str | None]
    ) -> str | _Unwritten | None:
        """`write(os path)` straight on a local root; `_Unwritten` when it failed in a way
        the general path should repeat (a write is safe to repeat) and translate."""
        assert self._local_root is not None
        try:
            return write(self._os_path(self._local_root, path))
        except FileExistsError as exc:  # lost the race: writing again would lose again
            raise translate(exc, op="exclusive write", uri=self.uri(path)) from exc
        except OSError:
            return _Unwritten()

    def write_parts(
        self, path: str, parts: builtins.list[Any], *, exclusive: bool = False
    ) -> str | None:
        """`write` of the concatenation of `parts` (buffers), without joining them where
        the backend can stream them (local roots, S3 multipart); elsewhere joined once."""
        if self._local_root is not None:
            written = self._write_locally(
                path,
                lambda os_path: self.primitives.write_parts(os_path, parts, exclusive=exclusive),
            )
            if not isinstance(written, _Unwritten):
                return written
        full = self._full(path)
        size = sum(memoryview(p).nbytes for p in parts)
        version: str | None = self._call(
            "exclusive write" if exclusive else "write",
            path,
            lambda: self.primitives.write_parts(full, parts, exclusive=exclusive),
            extra=size / WRITE_RATE,
        )
        return version

    def publish_parts(
        self, path: str, parts: builtins.list[Any], *, exclusive: bool = False
    ) -> PublishedFile | None:
        """`write_parts`, and for an object of `MAP_FROM` bytes or more on a plain local
        POSIX root (the ones `read_buffer` maps) the `PublishedFile` written: created
        so that only its owner can change it in place (`LocalPrimitives.write_sealed`),
        its status taken after it got its name. None when written any other way."""
        root = self._local_root
        sealed = getattr(self.primitives, "write_sealed", None)
        if root is None or sealed is None or os.name != "posix":
            self.write_parts(path, parts, exclusive=exclusive)
            return None
        if sum(memoryview(p).nbytes for p in parts) < MAP_FROM:
            self.write_parts(path, parts, exclusive=exclusive)
            return None
        full = self._os_path(root, path)
        try:
            return PublishedFile(full, sealed(full, parts, exclusive=exclusive))
        except FileExistsError as exc:  # lost the race: writing again would lose again
            raise translate(exc, op="exclusive write", uri=self.uri(path)) from exc
        except OSError:
            pass  # the general path repeats it (a write is safe to repeat) and translates
        self.write_parts(path, parts, exclusive=exclusive)
        return None

    def read_buffer(self, path: str) -> Any:
        """`read`, except that a large local object comes back memory-mapped (private
        copy-on-write pages: nothing is read until used, the caller may write to what it
        gets, the file never changes); small ones and other stores give bytes."""
        root = self._local_root
        if root is not None:
            try:
                mapped = _map_local(self._os_path(root, path))
            except FileNotFoundError:
                return None
            except OSError:
                mapped = None  # the general path below retries and translates it
            if mapped is not None:
                return mapped
        return self.read(path)

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
            extra=len(data) / WRITE_RATE,
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
                run(self.fs, "rm", full, recursive=recursive)

        self._call("delete", path, go)

    # -- upload hygiene ------------------------------------------------------------------

    def incomplete_uploads(self, *, older_than: float = 0.0) -> builtins.list[IncompleteUpload]:
        """Uploads under this root that were started and neither completed nor aborted
        at least `older_than` seconds ago (S3 multipart uploads, billed until aborted).

        A writer that was killed (``kill -9``, OOM) cannot abort its own; ``memokey gc``
        finds them here. Backends without such uploads report none. With `older_than`,
        an upload whose start time the backend does not report is left out.
        """
        cutoff = time.time() - older_than
        root = self.root

        def old_enough(upload: IncompleteUpload) -> bool:
            if older_than <= 0:
                return True
            return upload.initiated is not None and upload.initiated <= cutoff

        def go() -> builtins.list[IncompleteUpload]:
            found = self.primitives.incomplete_uploads(root)
            return [u.relative_to(root) for u in found if old_enough(u)]

        result: builtins.list[IncompleteUpload] = self._call("list uploads", "", go)
        return result

    def abort_incomplete_uploads(
        self, *, older_than: float, only: Callable[[str], bool] | None = None
    ) -> int:
        """Abort the uploads `incomplete_uploads` reports (with `only`: those whose
        root-relative path it accepts, e.g. memokey's own when the root is a bucket other
        programs also write to); how many were aborted.

        Choose `older_than` longer than any write can take (an hour is safe): a live
        writer's upload would be aborted too, and its write would then fail.
        """
        count = 0
        for upload in self.incomplete_uploads(older_than=older_than):
            if only is not None and not only(upload.path):
                continue
            full = f"{self.root}/{upload.path}"  # listed, not user input: no path check
            self._call(
                "abort upload",
                upload.path,
                lambda f=full, u=upload: self.primitives.abort_upload(f, u.upload_id),
            )
            count += 1
        return count
