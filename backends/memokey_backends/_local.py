"""Atomic publishing on a local (POSIX or NTFS) filesystem.

Write-once: the bytes go to a temporary file in the same directory, which is then
hard-linked to the final name; `os.link` fails with `FileExistsError` if the name exists,
so of concurrent writers exactly one wins and a reader never sees a partial file
(``open(..., "xb")`` would be exclusive too but visible while still being written).
Replace: temp file + `os.replace`.
Compare-and-swap: a `flock` on the object's directory serialises swappers, which compare
the version token (inode, mtime in ns, size) of the current file before replacing it.
Files are only ever replaced, never rewritten in place, so a token read from an open file
descriptor always describes exactly the bytes read through it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from memokey_backends._primitives import Primitives, stale

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["TMP_PREFIX", "LocalPrimitives"]

TMP_PREFIX = ".memokey-tmp-"


def _token(st: os.stat_result) -> str:
    return f"{st.st_ino:x}-{st.st_mtime_ns:x}-{st.st_size:x}"


def _write_temp(directory: str, data: bytes) -> tuple[str, os.stat_result]:
    """A fully written, fsynced temporary file next to the final name (umask applies)."""
    os.makedirs(directory, exist_ok=True)
    tmp = os.path.join(directory, f"{TMP_PREFIX}{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
        st = os.fstat(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    return tmp, st


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


class LocalPrimitives(Primitives):
    """Publishing with `os.link` / `os.replace`; CAS where `flock` exists (POSIX)."""

    supports_cas = fcntl is not None

    def write(self, path: str, data: bytes, *, exclusive: bool) -> None:
        tmp, _ = _write_temp(os.path.dirname(path), data)
        try:
            if exclusive:
                os.link(tmp, path)  # FileExistsError: another writer won
            else:
                os.replace(tmp, path)
        finally:
            _unlink_quietly(tmp)  # after link it is a second name; after replace, gone

    def read_versioned(self, path: str) -> tuple[bytes, str] | None:
        try:
            with open(path, "rb") as f:
                st = os.fstat(f.fileno())
                return f.read(), _token(st)
        except FileNotFoundError:
            return None

    def swap(self, path: str, data: bytes, *, version: str) -> str:
        try:
            with _directory_lock(os.path.dirname(path)):
                if _token(os.stat(path)) != version:
                    raise stale(path)
                tmp, st = _write_temp(os.path.dirname(path), data)
                try:
                    os.replace(tmp, path)
                finally:
                    _unlink_quietly(tmp)
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
    with suppress(FileNotFoundError):
        os.unlink(path)
