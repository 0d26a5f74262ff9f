"""What every command shares: errors, entry ids and URIs, opening a root, formatting.

An entry's **id** is its path below the scheme directory, ``{namespace}/{function
dir}/{digest}`` (``memokey ls`` prints it); with a root (``--root``, else the root a
memoized call would use) it names exactly one entry, resolved without a listing. A full
URI (``ls --uri``, `MemoKey.uri`) names its root itself. A **prefix** is ``namespace``
or ``namespace/function`` (a function id names every code version and logic key of the
function; a function directory names one), or such a path as a URI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from memokey.keys import SCHEME
from memokey.layout import split_name
from memokey.roots import select_root
from memokey_backends import Store, open_store

__all__ = [
    "CliError",
    "Selection",
    "entry_id",
    "format_size",
    "format_time",
    "open_root",
    "select",
    "split_memo_uri",
]


class CliError(Exception):
    """A failure to report as one line on stderr with exit status 1."""


def open_root(url: str | None) -> Store:
    """The store at `url`, else the root a memoized call would use now."""
    return open_store(url) if url else select_root().open()


def split_memo_uri(uri: str) -> tuple[str, str]:
    """(root URL, entry path) of an entry's URI; a sibling's (``.lease``, ``.error``, ...)
    names its entry.

    The entry path is ``memokey-v2/{namespace}/{function}/{digest}``: the last four
    components, read from the end, since the root itself (or a namespace) may contain a
    ``memokey-v2`` component.
    """
    parts = uri.rstrip("/").split("/")
    named = split_name(parts[-1]) if parts else None
    if named is not None:
        parts[-1] = named[0]
    if named is None or len(parts) < 5 or parts[-4] != SCHEME or not all(parts[-3:]):
        if f"/{SCHEME}/" not in uri:
            raise CliError(
                f"{uri} is not a memokey entry URI (no /{SCHEME}/ in it); copy one from "
                "`memokey ls`, or pass an id from `memokey ls` (with --root ROOT)"
            )
        raise CliError(
            f"{uri} does not name one entry; expected "
            f"ROOT/{SCHEME}/NAMESPACE/FUNCTION/DIGEST (see `memokey ls --uri`)"
        )
    return "/".join(parts[:-4]), "/".join(parts[-4:])


def entry_id(path: str) -> str:
    """The id of the entry at store path `path` (``memokey-v2/`` dropped)."""
    return path.partition(f"{SCHEME}/")[2] if path.startswith(f"{SCHEME}/") else path


@dataclass(frozen=True)
class Selection:
    """What an argument names: one entry (`entry` path), or every entry under a
    namespace and optionally a function (id or exact directory)."""

    store: Store
    entry: str | None = None
    namespace: str | None = None
    function: str | None = None


def select(target: str, root: str | None, *, prefix_ok: bool = False) -> Selection:
    """Resolve an id, URI or (`prefix_ok`) prefix given on the command line."""
    text = target.rstrip("/")
    if "://" in text or f"/{SCHEME}/" in text:  # a URI: it names its own root
        head, sep, rest = text.rpartition(f"/{SCHEME}/")
        parts = [p for p in rest.split("/") if p] if sep else []
        if not sep or len(parts) >= 3 or not prefix_ok:
            root_url, path = split_memo_uri(text)
            return Selection(open_store(root_url), entry=path)
        return _prefix(open_store(head), parts, target)
    parts = [p for p in text.split("/") if p]
    if len(parts) == 3:
        named = split_name(parts[2])
        if named is None:
            raise CliError(
                f"{target!r} does not end in an entry's digest; copy an id from `memokey ls`"
            )
        return Selection(open_root(root), entry=f"{SCHEME}/{parts[0]}/{parts[1]}/{named[0]}")
    if not prefix_ok:
        raise CliError(
            f"{target!r} is not an entry id (NAMESPACE/FUNCTION/DIGEST, as `memokey ls` "
            "prints) nor an entry URI (`memokey ls --uri`)"
        )
    return _prefix(open_root(root), parts, target)


def _prefix(store: Store, parts: list[str], target: str) -> Selection:
    if not 1 <= len(parts) <= 2:
        raise CliError(
            f"{target!r} names no entries; give NAMESPACE, NAMESPACE/FUNCTION or an entry id "
            "(see `memokey ls`)"
        )
    return Selection(store, namespace=parts[0], function=parts[1] if len(parts) == 2 else None)


def format_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def format_time(mtime: float | None) -> str:
    if mtime is None:
        return "-"
    return datetime.fromtimestamp(mtime, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
