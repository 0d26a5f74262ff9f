"""pyarrow: arrays, chunked arrays, tables and record batches, hashed in place.

The key depends on the logical values only, never on chunking or slicing: strings are
written as one stream of end offsets rebased to 0, then one stream of their bytes (slices
of the chunks' data buffers, not copies); fixed-width values as their data buffers. Null
slots carry undefined bytes in Arrow, so a column with nulls writes its validity and has
its null slots filled first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from memokey.hashing.core import TAG_U64, U64, Encoder, Handler, encode_str

_BINARY_OFFSETS = {
    pa.string(): np.int32,
    pa.binary(): np.int32,
    pa.large_string(): np.int64,
    pa.large_binary(): np.int64,
}


def arrow_handler(cls: type) -> Handler | None:
    if issubclass(cls, pa.ChunkedArray):
        return encode_chunked_array
    if issubclass(cls, pa.Array):
        return encode_array
    if issubclass(cls, (pa.Table, pa.RecordBatch)):
        return encode_table
    return None


def encode_array(enc: Encoder, arr: pa.Array) -> None:
    encode_chunks(enc, arr.type, [arr])


def encode_chunked_array(enc: Encoder, arr: pa.ChunkedArray) -> None:
    encode_chunks(enc, arr.type, arr.chunks)


def encode_table(enc: Encoder, table: Any) -> None:
    enc.write(TAG_U64(b"r", table.num_columns))
    encode_str(enc, type(table).__name__)
    for name, column in zip(table.column_names, table.columns, strict=True):
        encode_str(enc, name)
        if isinstance(column, pa.ChunkedArray):
            encode_chunked_array(enc, column)
        else:
            encode_array(enc, column)


def encode_chunks(enc: Encoder, kind: pa.DataType, chunks: Sequence[pa.Array]) -> None:
    enc.write(TAG_U64(b"a", sum(len(c) for c in chunks)))
    encode_str(enc, str(kind))
    nulls = sum(c.null_count for c in chunks)
    enc.write(U64(nulls))
    if nulls:
        for chunk in chunks:
            enc.write(np.asarray(chunk.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_))
        chunks = [c.fill_null(_zero(kind)) if c.null_count else c for c in chunks]
    if kind in _BINARY_OFFSETS:
        _encode_binary(enc, _BINARY_OFFSETS[kind], chunks)
    elif _fixed_width(kind):
        width = kind.bit_width // 8
        for chunk in chunks:
            data = chunk.buffers()[1]
            enc.write(memoryview(data)[chunk.offset * width : (chunk.offset + len(chunk)) * width])
    else:  # nested, dictionary, boolean, ...: the values themselves
        for chunk in chunks:
            enc.encode(chunk.to_pylist())


def _zero(kind: pa.DataType) -> Any:
    if kind in _BINARY_OFFSETS:
        return "" if kind in (pa.string(), pa.large_string()) else b""
    return pa.scalar(0, type=pa.int64()).cast(kind) if _fixed_width(kind) else None


def _fixed_width(kind: pa.DataType) -> bool:
    try:
        width = kind.bit_width
    except ValueError:
        return False
    return (
        width % 8 == 0
        and width > 0
        and not pa.types.is_boolean(kind)
        and (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_temporal(kind))
    )


def _encode_binary(enc: Encoder, offset_type: Any, chunks: Sequence[pa.Array]) -> None:
    """End offsets (int64, rebased so the first value starts at 0), then the bytes."""
    spans = []
    carry = 0
    for chunk in chunks:
        buffers = chunk.buffers()
        offsets = np.frombuffer(
            buffers[1],
            dtype=offset_type,
            count=len(chunk) + 1,
            offset=chunk.offset * np.dtype(offset_type).itemsize,
        )
        start, end = int(offsets[0]), int(offsets[-1])
        ends = offsets[1:]
        if offset_type is not np.int64 or start != carry:
            ends = ends.astype(np.int64) + (carry - start)
        enc.write(ends)
        spans.append((buffers[2], start, end))
        carry += end - start
    for data, start, end in spans:
        if end > start:
            enc.write(memoryview(data)[start:end])
