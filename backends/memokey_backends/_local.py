"""Atomic publishing on a local (POSIX or NTFS) filesystem.

Write-once: the bytes go to a temporary file in the same directory, which is then
hard-linked to the final name; `os.link` fails with `FileExistsError` if the name exists,
so of concurrent writers exactly one wins and a reader never sees a partial file
(``open(..., "xb")`` would be exclusive too but visible while still being written).
Linux's one-syscall ``renameat2(RENAME_NOREPLACE)`` would do the same, but measured slower
than link + unlink on ext4 (4.9 vs 3.9 µs through ctypes; README, "Benchmarks").
Replace: temp file + `os.replace`.
Compare-and-swap: a `flock` on the object's directory serialises swappers, which compare
the version token (inode, mtime in ns, size) of the current file before replacing it.
Files are only ever replaced, never rewritten in place, so a token read from an open file
descriptor always describes exactly the bytes read through it.

Durability: nothing is fsynced by default. Publishing stays atomic for other processes
(link / rename of a complete file), but after a power loss or kernel crash a recent file
may come back empty or torn; memokey's result checksum turns that into a
`ResultCorruptedError`, never a wrong value, and leases and ``meta.json`` are ephemeral
or advisory. ``open_store("file:///x", fsync=True)`` (``storage_options={"fsync": True}``)
fsyncs every file before publishing it and its directory after, so a write that
returned survives a power loss; it costs a few disk flushes per write.
"""

from __future__ import annotations

import errno
import itertools
import os
import secrets
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from memokey_backends._primitives import Primitives, stale
from memokey_backends.errors import InvalidRootError, StoreError

# No symlink as the last component, and a FIFO opens without waiting for a writer: on a
# shared disk anyone with write access could plant one where memokey keeps a file.
_READ_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_BINARY", 0)
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
)


def open_regular(path: str) -> tuple[int, os.stat_result]:
    """A descriptor of the regular file at `path`, opened for reading, and its status.
    memokey only ever stores regular files; anything else (a symlink to /dev/zero, a
    FIFO) is refused with `StoreError` rather than read forever. FileNotFoundError when
    absent."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
        raise _not_a_file(path, "a symbolic link") from None
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            raise _not_a_file(path, "a FIFO, device or directory")
    except BaseException:
        os.close(fd)
        raise
    return fd, status


def _not_a_file(path: str, what: str) -> StoreError:
    return StoreError(
        f"{path} is not a regular file but {what}; memokey never stores one, so someone "
        "with write access to the directory put it there. It was not read: delete it "
        "(`memokey rm` the entry) and check who can write to the root"
    )


try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["OWNER_WRITES", "TMP_PREFIX", "LocalPrimitives", "version_token"]

TMP_PREFIX = ".memokey-tmp-"
OWNER_WRITES = 0o644
"""The mode `LocalPrimitives.write_sealed` creates files with (before the umask): only
the owner may open them for writing, so nobody else can change them in place (a
verification record vouches for such a file's bytes, see `memokey.verified`)."""


def _token(st: os.stat_result) -> str:
    return f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"


#: The version a listing reports for a local file with this status (tools that read a
#: directory themselves, such as `memokey gc`, delete conditionally on it).
version_token = _token


_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)


class _TempNames:
    """Temporary file names unique across processes without a syscall per name: a
    random token drawn once per process (again in a fork child) and a counter. The
    exclusive create still refuses a name that exists."""

    def __init__(self) -> None:
        self._renew()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._renew)

    def _renew(self) -> None:
        self._token = secrets.token_hex(8)
        self._counter = itertools.count()

    def __call__(self) -> str:
        return f"{self._token}-{next(self._counter):x}"


_temp_name = _TempNames()


def _create_temp(directory: str, *, fsync: bool, mode: int = 0o666) -> tuple[str, int]:
    """A new temporary file next to the final name, open for writing (umask applies);
    the directory is created only when it is missing (one failed open, not a mkdir per
    write)."""
    tmp = os.path.join(directory, f"{TMP_PREFIX}{_temp_name()}")
    try:
        fd = os.open(tmp, _TEMP_FLAGS, mode)
    except FileNotFoundError:
        missing = _missing_directories(directory) if fsync else []
        os.makedirs(directory, exist_ok=True)
        for created in missing:  # new directory entries are durable only once their
            _fsync_directory(os.path.dirname(created))  # parent is fsynced
        fd = os.open(tmp, _TEMP_FLAGS, mode)
    return tmp, fd


def _fill(fd: int, data: bytes | list[Any], *, fsync: bool) -> None:
    parts: Sequence[Any] = data if isinstance(data, list) else (data,)
    if len(parts) == 1 and type(parts[0]) is bytes and len(parts[0]) < _WRITE_CHUNK:
        # A small entry (every tiny miss): one bytes object, one write, no views.
        done = os.write(fd, parts[0])
        parts = (memoryview(parts[0])[done:],) if done < len(parts[0]) else ()
    for part in parts:  # parts: never joined
        view = memoryview(part).cast("B")
        while view:
            view = view[os.write(fd, view[:_WRITE_CHUNK]) :]
    if fsync:
        os.fsync(fd)


def _write_temp(
    directory: str, data: bytes | list[Any], *, fsync: bool, stat: bool = False
) -> tuple[str, os.stat_result | None]:
    """A fully written temporary file next to the final name (see `_create_temp`)."""
    tmp, fd = _create_temp(directory, fsync=fsync)
    try:
        _fill(fd, data, fsync=fsync)
        st = os.fstat(fd) if stat else None
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    return tmp, st


_WRITE_CHUNK = 1 << 30  # os.write takes at most 2 GiB - 1 at once on Linux


@contextmanager
def _directory_lock(directory: str) -> Iterator[None]:
    """An exclusive advisory lock on a directory, released even if the process dies."""
    assert fcntl is not None
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def _missing_directories(directory: str) -> list[str]:
    """`directory` and those of its ancestors that do not exist yet, deepest first."""
    missing = []
    while directory and not os.path.isdir(directory):
        missing.append(directory)
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
    return missing


def _fsync_directory(directory: str) -> None:
    """Make a new or renamed directory entry durable (POSIX; a no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows cannot open directories
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalPrimitives(Primitives):
    """Publishing with `os.link` / `os.replace`; CAS where `flock` exists (POSIX).

    `fsync` comes from the store option of that name (see the module docstring).
    """

    supports_cas = fcntl is not None

    def __init__(self, fs: Any) -> None:
        super().__init__(fs)
        fsync = getattr(fs, "storage_options", {}).get("fsync", False)
        if not isinstance(fsync, bool):
            raise InvalidRootError(
                f"the local store option fsync must be True or False, got {fsync!r}; "
                "pass fsync=True to make every write durable across power loss."
            )
        self.fsync = fsync

    def write_parts(self, path: str, parts: list[Any], *, exclusive: bool) -> str | None:
        self.write(path, parts, exclusive=exclusive)  # type: ignore[arg-type]
        return None

    def write_sealed(self, path: str, parts: list[Any], *, exclusive: bool) -> os.stat_result:
        """`write_parts` of a file only its owner can change in place (created without
        write permission for group and others, whatever the umask allows), returning its
        status as published: taken on the writer's own descriptor after the file got its
        name (the link, and unlinking the temporary name, change its ctime), so it
        describes exactly the bytes written here (a file another process put at `path`
        in between has another inode)."""
        directory = os.path.dirname(path)
        tmp, fd = _create_temp(directory, fsync=self.fsync, mode=OWNER_WRITES)
        try:
            try:
                _fill(fd, parts, fsync=self.fsync)
            except BaseException:
                _unlink_quietly(tmp)
                raise
            if exclusive:
                try:
                    os.link(tmp, path)  # FileExistsError: another writer won
                finally:
                    _unlink_quietly(tmp)
                if self.fsync:
                    _fsync_directory(directory)
            else:
                self._replace(tmp, path)
            return os.fstat(fd)
        finally:
            os.close(fd)

    def write(self, path: str, data: bytes, *, exclusive: bool) -> None:
        directory = os.path.dirname(path)
        tmp, _ = _write_temp(directory, data, fsync=self.fsync)
        if exclusive:
            try:
                os.link(tmp, path)  # FileExistsError: another writer won
            finally:
                _unlink_quietly(tmp)  # a second name of the published file, or a loser
            if self.fsync:
                _fsync_directory(directory)
        else:
            self._replace(tmp, path)

    def _replace(self, tmp: str, path: str) -> None:
        """Move a finished temp file over `path` (atomic), then make it durable if asked."""
        try:
            os.replace(tmp, path)
        except BaseException:
            _unlink_quietly(tmp)
            raise
        if self.fsync:
            _fsync_directory(os.path.dirname(path))

    def read_versioned(self, path: str) -> tuple[bytes, str] | None:
        try:
            fd, status = open_regular(path)
        except FileNotFoundError:
            return None
        with open(fd, "rb") as f:
            return f.read(), _token(status)

    def swap(self, path: str, data: bytes, *, version: str) -> str:
        try:
            with _directory_lock(os.path.dirname(path)):
                if _token(os.stat(path)) != version:
                    raise stale(path)
                tmp, st = _write_temp(os.path.dirname(path), data, fsync=self.fsync, stat=True)
                assert st is not None
                self._replace(tmp, path)
                return _token(st)
        except FileNotFoundError:  # the directory or the object is gone
            raise stale(path, "the object no longer exists") from None

    def version_of(self, path: str, info: dict[str, Any]) -> str | None:
        if info.get("type") != "file":
            return None
        try:
            return _token(os.stat(path))
        except FileNotFoundError:
            return None


def _unlink_quietly(path: str) -> None:
    try:  # not `contextlib.suppress` (~0.3 µs): this runs on every publish
        os.unlink(path)
    except FileNotFoundError:
        return
