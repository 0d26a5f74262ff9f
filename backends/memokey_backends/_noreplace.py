"""Give a finished temporary file its final name, unless that name exists: one syscall.

`os.link(tmp, final)` then `os.unlink(tmp)` publishes write-once (the link fails with
`FileExistsError` when the name exists) in two syscalls. Linux (3.15+) does the same in
one: ``renameat2(tmp, final, RENAME_NOREPLACE)`` is atomic, fails with EEXIST exactly
like the link, and leaves no second name to remove. Python has no binding for it, so it
is called through ctypes on the C library (glibc 2.28+, musl 1.1.24+).

Some file systems refuse the flag (EINVAL: older NFS, some FUSE mounts) and some
kernels lack the call (ENOSYS, seccomp filters answering EPERM): there the link and
unlink publish, and the directory is remembered so the refusal costs one failed syscall
per directory, not one per write (a directory lives on one file system, so this is the
per-device answer without a `stat` per write). Where the C library has no `renameat2`
at all (macOS, Windows, old glibc), every write links.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys
from contextlib import suppress
from typing import Any

__all__ = ["publish_noreplace", "use_link_only"]

_AT_FDCWD = -100
_RENAME_NOREPLACE = 1
# Answers meaning "not here" (fall back), not "failed": anything else is a real error.
_UNSUPPORTED = frozenset({errno.EINVAL, errno.ENOSYS, errno.EPERM, errno.ENOTSUP})
_MAX_REMEMBERED = 4096


def _load() -> Any:
    """The C library's `renameat2`, typed, or None where it has none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):
        return None
    function.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    function.restype = ctypes.c_int
    return function


_renameat2: Any = _load()
_refused: set[str] = set()  # directories whose file system refused RENAME_NOREPLACE


def use_link_only(on: bool) -> None:
    """Publish with link + unlink everywhere (True) or with `renameat2` where it works
    (False, the default). For tests, which must exercise both paths for real."""
    global _renameat2
    _refused.clear()
    _renameat2 = None if on else _load()


def publish_noreplace(tmp: str, path: str, directory: str) -> None:
    """Move the complete file `tmp` to `path` in `directory` (the directory of both),
    atomically and only if `path` does not exist; `FileExistsError` if it does (another
    writer won; `tmp` is removed either way)."""
    rename = _renameat2
    if rename is not None and directory not in _refused:
        if (
            rename(_AT_FDCWD, os.fsencode(tmp), _AT_FDCWD, os.fsencode(path), _RENAME_NOREPLACE)
            == 0
        ):
            return
        code = ctypes.get_errno()
        if code not in _UNSUPPORTED:
            _remove(tmp)
            raise OSError(code, os.strerror(code), path)  # EEXIST: FileExistsError
        if len(_refused) >= _MAX_REMEMBERED:
            _refused.clear()
        _refused.add(directory)
    try:
        os.link(tmp, path)  # FileExistsError: another writer won
    finally:
        _remove(tmp)  # a second name of the published file, or a loser


def _remove(path: str) -> None:
    with suppress(FileNotFoundError):
        os.unlink(path)
