"""Hashing a long ``str`` without copying it.

A str has no buffer protocol, and encoding a 500 MB string at once would double the
memory. For a compact ASCII string (how CPython stores every ASCII str it creates), the
UTF-8 bytes ARE the characters in the object's own memory, so we read them in place
through ctypes, after checking that layout exactly. Any other string is encoded in
chunks small enough to come from the heap's free lists (larger ones would be fresh
mmaps, each costing page faults).
"""

from __future__ import annotations

import ctypes
import platform
import sys
from collections.abc import Callable
from typing import Any

#: Characters encoded per step when a string cannot be read in place (below glibc's
#: 128 KiB mmap threshold even at 4 bytes per character).
CHUNK_CHARS = 1 << 14

_CPYTHON = platform.python_implementation() == "CPython"
#: Offset of the characters in a compact ASCII str: its header size.
_ASCII_HEADER = sys.getsizeof("") - 1 if _CPYTHON else -1


def ascii_memory(text: str) -> memoryview | None:
    """A read-only view of `text`'s characters in place, or None if they are not stored
    as plain ASCII bytes right after the object header (non-ASCII, legacy, not CPython).

    ``sys.getsizeof`` equals header + length + 1 only for the compact ASCII layout; a
    legacy or otherwise extended str reports more, and is then encoded instead.
    """
    if not _CPYTHON or type(text) is not str or not text.isascii():
        return None
    if sys.getsizeof(text) != _ASCII_HEADER + len(text) + 1:
        return None
    buffer = (ctypes.c_char * len(text)).from_address(id(text) + _ASCII_HEADER)
    return memoryview(buffer).cast("B").toreadonly()


def write_long_str(
    write: Callable[[Any], object], text: str, encode: Callable[[str], bytes]
) -> None:
    """Write `text`'s UTF-8 bytes (the caller wrote the tag and length already)."""
    view = ascii_memory(text)
    if view is not None:
        write(view)  # `text` stays referenced by the caller while this runs
        return
    for start in range(0, len(text), CHUNK_CHARS):
        write(encode(text[start : start + CHUNK_CHARS]))
