"""Refuse to store a result that could be written but not read back.

A value can pickle and still fail to unpickle (a ``__reduce__`` whose callable rejects its
own arguments, a ``__setstate__`` that raises). Stored, it would make every later call
raise `SerializationError`. Reading a small payload back costs microseconds next to the
miss that produced it, so payloads up to `ROUND_TRIP_LIMIT` bytes are decoded once before
they are published; larger ones are not (decoding them would cost as much as a hit), and
if one of those fails later, the error names the `memokey rm` command that removes it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from memokey.errors import SerializationError

__all__ = ["ROUND_TRIP_LIMIT", "check_round_trip"]

ROUND_TRIP_LIMIT = 1 << 20  # 1 MiB


def check_round_trip(
    serializer: str,
    loads: Callable[[bytes], Any],
    payload: bytes | bytearray | memoryview,
    value: Any,
) -> None:
    """Raise `SerializationError` if a small `payload` does not load back."""
    if len(payload) > ROUND_TRIP_LIMIT:
        return
    try:
        loads(bytes(payload))
    except Exception as exc:
        raise SerializationError(
            f"the result of type {type(value).__qualname__} was serialized with "
            f"{serializer!r} but cannot be read back ({type(exc).__name__}: {exc}); nothing "
            "was stored, since every later call would fail on it. Fix the type's "
            "__reduce__/__setstate__, return plain data, or choose another serializer",
            serializer=serializer,
        ) from exc
