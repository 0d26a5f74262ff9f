"""Names in a function directory: entries and their short-lived siblings.

An entry is ONE object at ``{function dir}/{digest}``; everything else about a key lives
beside it under the same name plus a suffix, so a listing of a function directory tells
entries from debris by name alone, and no request ever lists to find a sibling::

    {digest}             the entry (header + payload + metadata trailer)
    {digest}.lease       who computes it now (object stores)
    {digest}.invocation  the pickled call, while a remote shim runs it (kept on failure)
    {digest}.error       a remote (or cached) exception with its traceback text
    {digest}.used        object stores: an empty marker whose time is the entry's last
                         use (`memokey.usage`; local roots use the entry's atime)
    .memokey-locks       local roots only: the byte-range lock file (`memokey._local_locks`)
    .memokey-verified    local roots only: verification records of large entries
                         (`memokey.verified`)

Names starting with a dot are memokey's own bookkeeping (the lock file, verification
records, writes in progress); tools skip them.
"""

from __future__ import annotations

__all__ = [
    "ERROR",
    "INVOCATION",
    "LEASE",
    "SIBLINGS",
    "USED",
    "is_entry",
    "sibling",
    "split_name",
]

LEASE = "lease"
INVOCATION = "invocation"
ERROR = "error"
USED = "used"
SIBLINGS = (LEASE, INVOCATION, ERROR, USED)


def sibling(entry: str, kind: str) -> str:
    """The path (or URI) of an entry's `kind` sibling: ``{entry}.{kind}``."""
    return f"{entry.rstrip('/')}.{kind}"


def split_name(name: str) -> tuple[str, str | None] | None:
    """(digest, None) for an entry's name, (digest, kind) for a sibling's, None for
    anything else (bookkeeping, foreign files)."""
    if not name or name.startswith("."):
        return None
    digest, dot, kind = name.partition(".")
    if not dot:
        return digest, None
    if kind in SIBLINGS:
        return digest, kind
    return None


def is_entry(path: str) -> bool:
    """Whether the store path (or URI) `path` names an entry, not a sibling or bookkeeping."""
    named = split_name(path.rstrip("/").rsplit("/", 1)[-1])
    return named is not None and named[1] is None
