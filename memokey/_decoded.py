"""Reuse the value decoded from a small entry when a later hit reads the same bytes.

A hit always reads the entry (so a replaced, deleted or tampered entry is seen at once);
what it may skip is decoding it again. Decoding is a pure function of the bytes, the
entry's URI (a signature binds it) and the trust settings (format, pickle allowed,
signing key), so when the bytes just read equal those decoded last time for that URI,
under the same `Trust` object, the checksum and signature checks would pass again and
the value would be equal. It is reused only when it is immutable (a builtin scalar, or a
tuple or frozenset of them), where returning the same object cannot be told apart from
a fresh copy: a list or any other mutable result is always decoded afresh. A serializer
registered again under an existing name empties the memory (`forget`).

Bounded: entries up to `MAX_BYTES` long whose value is about as small (strings, bytes
and ints count their length: a compressed entry of a few hundred bytes may hold
megabytes), at most `MAX_ENTRIES` URIs (then it starts over). Saves about a third of a
tiny local hit.
"""

from __future__ import annotations

from typing import Any, Protocol


class Trust(Protocol):
    """What decodes an entry (`memokey.trust.Trust`; not imported: results imports us)."""

    def decode_result(self, data: bytes, uri: str) -> Any: ...


__all__ = ["MAX_BYTES", "MAX_ENTRIES", "decode", "forget"]

MAX_BYTES = 4096
MAX_ENTRIES = 512

_recent: dict[str, tuple[bytes, Trust, Any]] = {}
_SCALARS = frozenset({int, float, complex, str, bytes, bool, type(None)})


def decode(trust: Trust, data: Any, uri: str) -> Any:
    """`trust.decode_result(data, uri)`, or the equal immutable value decoded from the
    same bytes before."""
    if type(data) is not bytes or len(data) > MAX_BYTES:
        return trust.decode_result(data, uri)
    cached = _recent.get(uri)
    if cached is not None and cached[1] is trust and cached[0] == data:
        return cached[2]
    value = trust.decode_result(data, uri)
    if _small_immutable(value, 2, [MAX_BYTES]):
        if len(_recent) >= MAX_ENTRIES:
            _recent.clear()
        _recent[uri] = (data, trust, value)
    return value


def _small_immutable(value: Any, depth: int, budget: list[int]) -> bool:
    """Whether `value` is immutable and, with what `budget` has left, no larger than
    `MAX_BYTES` (a scalar counts 8, a string or bytes its length, an int its bytes)."""
    kind = type(value)
    if kind in _SCALARS:
        if kind is str or kind is bytes:
            size = len(value)
        elif kind is int:
            size = value.bit_length() // 8
        else:
            size = 8
        budget[0] -= max(size, 8)
        return budget[0] >= 0
    if (kind is tuple or kind is frozenset) and depth > 0 and len(value) <= 64:
        return all(_small_immutable(item, depth - 1, budget) for item in value)
    return False


def forget() -> None:
    """Decode every entry afresh from now on (a serializer was replaced)."""
    _recent.clear()
