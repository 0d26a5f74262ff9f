"""Reading an entry's metadata for tools, without its payload.

The metadata trailer sits at the end of the entry object (`memokey.entry_format`), so
`memokey show`, ``ls`` extensions and lifecycle tools read it with a ranged read of the
object's last bytes: a 1 GiB result costs a few kilobytes to describe.
"""

from __future__ import annotations

from typing import Any

from memokey import entry_format
from memokey_backends.protocol import Store

__all__ = ["read_entry_meta"]

_FIRST_TAIL = 16 * 1024  # most trailers fit; a larger one takes a second ranged read


def read_entry_meta(store: Store, path: str) -> dict[str, Any] | None:
    """The metadata trailer of the entry at `path` (None when there is no entry).
    Raises `ResultCorruptedError` when its end holds no intact trailer."""
    uri = store.uri(path)
    read_tail = getattr(store, "read_tail", None)
    if read_tail is None:  # a store without ranged reads: the whole object
        data = store.read(path)
        return None if data is None else entry_format.trailer_from_tail(data, uri)
    tail = read_tail(path, _FIRST_TAIL)
    if tail is None:
        return None
    try:
        return entry_format.trailer_from_tail(tail, uri)
    except ValueError:  # the trailer is longer than the first read
        tail = read_tail(path, entry_format.needed_tail(tail))
        if tail is None:
            return None
        return entry_format.trailer_from_tail(tail, uri)
