"""pyarrow: arrays, chunked arrays, tables and record batches, hashed in place.

The key depends on the logical values only, never on chunking or slicing: strings are
written as one stream of end offsets rebased to 0, then one stream of their bytes (slices
of the chunks' data buffers, not copies); fixed-width values as their data buffers. Null
slots carry undefined bytes in Arrow, so a column with nulls writes its validity and has
its null slots zeroed first. An Array and a ChunkedArray holding it differ (they are
different types); a dictionary array keeps its dictionary and indices; a table keeps its
schema metadata and the fields' nullability.
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
    enc.write(b"%")  # an Array, not a ChunkedArray holding it: the types differ
    encode_chunks(enc, arr.type, [arr])


def encode_chunked_array(enc: Encoder, arr: pa.ChunkedArray) -> None:
    encode_chunks(enc, arr.type, arr.chunks)


def encode_table(enc: Encoder, table: Any) -> None:
    """Columns by name and values; the schema's metadata and the fields' nullability and
    metadata too (written only when a schema has any, so plain tables keep their key);
    the row count when there is no column to carry it."""
    enc.write(TAG_U64(b"r", table.num_columns))
    if not table.num_columns:  # the rows are not counted by any column: ``len(table)``
        enc.write(U64(table.num_rows))
    schema = _schema_definition(table.schema)
    if schema is None:
        encode_str(enc, type(table).__name__)
    else:
        encode_str(enc, type(table).__name__ + "+schema")
        enc.encode(schema)
    for name, column in zip(table.column_names, table.columns, strict=True):
        encode_str(enc, name)
        if isinstance(column, pa.ChunkedArray):
            encode_chunked_array(enc, column)
        else:
            encode_array(enc, column)


def _schema_definition(schema: pa.Schema) -> tuple[Any, ...] | None:
    fields = tuple((field.nullable, _metadata(field.metadata)) for field in schema)
    if schema.metadata is None and all(nullable and not meta for nullable, meta in fields):
        return None
    return (_metadata(schema.metadata), fields)


def _metadata(metadata: dict[bytes, bytes] | None) -> dict[bytes, bytes]:
    return dict(metadata) if metadata else {}


def encode_chunks(enc: Encoder, kind: pa.DataType, chunks: Sequence[pa.Array]) -> None:
    """One logical array, whatever its chunking: count, type, validity, then values."""
    enc.write(TAG_U64(b"a", sum(len(c) for c in chunks)))
    encode_type(enc, kind)
    if isinstance(kind, pa.BaseExtensionType):  # its values are its storage's
        encode_chunks(enc, kind.storage_type, [chunk.storage for chunk in chunks])
        return
    nulls = sum(c.null_count for c in chunks)
    enc.write(U64(nulls))
    if nulls:
        for chunk in chunks:
            enc.write(np.asarray(chunk.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_))
    if pa.types.is_dictionary(kind):
        _encode_dictionary(enc, kind, chunks)
    elif kind in _BINARY_OFFSETS:
        if nulls:
            chunks = [c.fill_null(_zero(kind)) if c.null_count else c for c in chunks]
        _encode_binary(enc, _BINARY_OFFSETS[kind], chunks)
    elif _fixed_width(kind):
        width = kind.bit_width // 8
        for chunk in chunks:
            if not len(chunk):  # nothing to write, and it may have no data buffer at all
                continue
            data = chunk.buffers()[1]
            values = memoryview(data)[chunk.offset * width : (chunk.offset + len(chunk)) * width]
            enc.write(_zero_nulls(chunk, values, width) if chunk.null_count else values)
    else:  # nested, boolean, decimal, views, ...: the values themselves (nulls as None)
        for chunk in chunks:
            enc.encode(chunk.to_pylist())


def encode_type(enc: Encoder, kind: pa.DataType) -> None:
    """A type by its string, which shows everything but nested fields' metadata and the
    parameters a user extension type serializes; those, when present, follow it."""
    extras = _type_extras(kind)
    if not extras:
        encode_str(enc, str(kind))
        return
    encode_str(enc, "x:" + str(kind))  # no Arrow type string starts with "x:"
    enc.encode(tuple(extras))


def _type_extras(kind: pa.DataType, path: str = "") -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    if isinstance(kind, pa.BaseExtensionType):
        serialize = getattr(kind, "__arrow_ext_serialize__", None)
        if serialize is not None:  # a Python extension type; Arrow's own show all in str
            found.append((path, kind.extension_name, serialize()))
        found.extend(_type_extras(kind.storage_type, path + ".storage"))
    elif pa.types.is_dictionary(kind):
        found.extend(_type_extras(kind.value_type, path + ".values"))
    for index in range(kind.num_fields):
        field = kind.field(index)
        where = f"{path}.{index}"
        if field.metadata:
            found.append((where, dict(field.metadata)))
        found.extend(_type_extras(field.type, where))
    return found


def _zero_nulls(chunk: pa.Array, values: memoryview, width: int) -> np.ndarray[Any, Any]:
    """A copy of a chunk's value bytes with its null slots zeroed: Arrow leaves them
    undefined, and no cast is needed (date32, time32 and intervals have none from int)."""
    rows: np.ndarray[Any, Any] = np.frombuffer(values, dtype=np.uint8).reshape(-1, width).copy()
    rows[np.asarray(chunk.is_null().to_numpy(zero_copy_only=False), dtype=np.bool_)] = 0
    return rows


def _encode_dictionary(enc: Encoder, kind: pa.DataType, chunks: Sequence[pa.Array]) -> None:
    """The dictionary and the indices (both observable, e.g. ``arr.indices``). When all
    chunks share one dictionary, it is written once and the indices as one array, so
    the chunking does not matter; otherwise each chunk's pair in turn."""
    dictionaries = [chunk.dictionary for chunk in chunks]
    if all(_same_dictionary(kind, d, dictionaries[0]) for d in dictionaries[1:]):
        enc.write(b"1")
        encode_chunks(enc, kind.value_type, dictionaries[:1])
        encode_chunks(enc, kind.index_type, [chunk.indices for chunk in chunks])
        return
    enc.write(TAG_U64(b"*", len(chunks)))
    for chunk in chunks:
        encode_chunks(enc, kind.value_type, [chunk.dictionary])
        encode_chunks(enc, kind.index_type, [chunk.indices])


def _same_dictionary(kind: pa.DataType, one: pa.Array, other: pa.Array) -> bool:
    """True when two chunks' dictionaries hold the same values bit for bit. Arrow's
    ``equals`` alone is not enough: it finds ``[0.0]`` and ``[-0.0]`` equal."""
    if not one.equals(other):
        return False
    if one.offset == other.offset and _same_buffers(one.buffers(), other.buffers()):
        return True  # one dictionary shared by the chunks: the common case
    return _digest_of(kind.value_type, one) == _digest_of(kind.value_type, other)


def _same_buffers(ours: list[Any], theirs: list[Any]) -> bool:
    return len(ours) == len(theirs) and all(
        (a is None and b is None)
        or (a is not None and b is not None and (a.address, a.size) == (b.address, b.size))
        for a, b in zip(ours, theirs, strict=True)
    )


def _digest_of(kind: pa.DataType, arr: pa.Array) -> bytes:
    sub = Encoder()
    encode_chunks(sub, kind, [arr])
    return sub.digest()


def _zero(kind: pa.DataType) -> Any:
    return "" if kind in (pa.string(), pa.large_string()) else b""


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
        if not len(chunk):  # no values, and its buffers may be absent
            continue
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
