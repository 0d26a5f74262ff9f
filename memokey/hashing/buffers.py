"""Handlers for the standard library's buffers: memoryview and array.array.

They are hashed in place: the hasher reads the caller's memory through the buffer
protocol, so even a huge buffer costs no copy. (bytes and bytearray live in `core`.)
"""

from __future__ import annotations

import array

from memokey.hashing.core import TAG_U64, U64, Encoder, Refusal, encode_str


def encode_memoryview(enc: Encoder, obj: memoryview) -> None:
    """Format, shape and the elements in C order: equal views over different memory
    layouts give one key."""
    try:
        fmt, shape, contiguous = obj.format, obj.shape or (), obj.c_contiguous
    except ValueError as exc:  # a released view has no value any more
        raise Refusal(f"the memoryview is released ({exc})") from exc
    enc.write(b"m")
    encode_str(enc, fmt)
    enc.write(U64(len(shape)) + b"".join(U64(n) for n in shape))
    data = obj.cast("B") if contiguous else memoryview(obj.tobytes(order="C"))
    enc.write(U64(data.nbytes))
    enc.write(data)


def encode_array(enc: Encoder, obj: array.array) -> None:  # type: ignore[type-arg]
    enc.write(TAG_U64(b"a", len(obj)))
    encode_str(enc, obj.typecode)
    enc.write(memoryview(obj).cast("B"))
