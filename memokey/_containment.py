"""What `memokey rm` may delete: only what lies inside the root, reached without symlinks.

A local root is a directory tree anyone with access can change. If a function or entry
directory under it is a symbolic link, deleting "the entry" recursively would delete the
link's target, somewhere outside the root. So before a local delete every path component
below the root is checked: none may be a symbolic link, and the entry's real path must lie
inside the root's real path. Cloud and memory stores have no links and need no check.
(Someone who can swap a directory for a link between this check and the delete can
already write anywhere the root's owner can.)
"""

from __future__ import annotations

import os
import re

from memokey._fixes import ENTRY_FILES
from memokey._terminal import printable
from memokey.errors import StorePermissionError
from memokey_backends.protocol import Store

__all__ = ["check_inside_root", "check_is_entry", "local_directory"]

_DIGEST = re.compile(r"[0-9a-f]{32}")
_TEMP_PREFIX = ".memokey-tmp-"  # a local write in progress (memokey_backends._local)


def local_directory(store: Store) -> str | None:
    """The OS directory of `store`'s root if it lies on the local filesystem, else None.

    Asked of the opened store, not parsed from its URL: ``local://``, ``file://name``
    (relative to the working directory) and chained URLs (``simplecache::file://``,
    ``dir::file://``) all reach the local disk too.
    """
    from fsspec.implementations.local import LocalFileSystem

    fs = getattr(store, "fs", None)
    root = getattr(store, "root", None)
    if isinstance(fs, LocalFileSystem) and isinstance(root, str):
        return root or os.sep
    return None


def check_inside_root(store: Store, path: str) -> None:
    """Raise `StorePermissionError` if deleting `path` (relative to the root of `store`)
    could touch anything outside the root."""
    base = local_directory(store)
    if base is None:
        return
    current = base
    for part in [p for p in path.split("/") if p]:
        current = os.path.join(current, part)
        if os.path.islink(current):
            raise StorePermissionError(
                f"{printable(current)} is a symbolic link (to "
                f"{printable(os.readlink(current))}); memokey deletes nothing outside its root, "
                "so nothing was deleted. Remove the link itself with `rm` if it should go",
                path=path,
            )
    real_base = os.path.realpath(base)
    real = os.path.realpath(current)
    if real != real_base and not real.startswith(real_base.rstrip(os.sep) + os.sep):
        raise StorePermissionError(
            f"{printable(current)} resolves to {printable(real)}, outside the root "
            f"{printable(real_base)}; nothing was deleted",
            path=path,
        )


def check_is_entry(store: Store, path: str) -> None:
    """Raise `StorePermissionError` unless `path` looks like a memokey entry: a digest's
    name, holding nothing but an entry's files. The root of a URI is whatever precedes
    ``memokey-v2`` in it, so a mistyped path could name a directory of the user's own."""
    digest = path.rstrip("/").rsplit("/", 1)[-1]
    if not _DIGEST.fullmatch(digest):
        raise StorePermissionError(
            f"{printable(store.uri(path))} is not a memokey entry: {printable(digest)!r} is "
            "not a digest (32 hex digits); nothing was deleted. Copy the URI from "
            "`memokey ls`",
            path=path,
        )
    foreign = sorted(
        name
        for info in store.list(path)
        if (name := info.path.rstrip("/").rsplit("/", 1)[-1])
        and (info.is_dir or (name not in ENTRY_FILES and not name.startswith(_TEMP_PREFIX)))
    )
    if foreign:
        shown = ", ".join(printable(name) for name in foreign[:5])
        raise StorePermissionError(
            f"{printable(store.uri(path))} holds files memokey does not write ({shown}); "
            "nothing was deleted. Move them out, or delete the directory yourself",
            path=path,
        )
