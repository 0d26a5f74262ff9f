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
from urllib.parse import unquote, urlsplit

from memokey._terminal import printable
from memokey.errors import StorePermissionError

__all__ = ["check_inside_root", "local_directory"]


def local_directory(url: str) -> str | None:
    """The OS directory of a ``file://`` root URL (or a plain path), else None."""
    parts = urlsplit(url)
    if parts.scheme == "file" and parts.netloc in ("", "localhost"):
        return unquote(parts.path)
    if not parts.scheme:
        return url
    return None


def check_inside_root(root_url: str, path: str) -> None:
    """Raise `StorePermissionError` if deleting `path` (relative to the root) could touch
    anything outside the root."""
    base = local_directory(root_url)
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
