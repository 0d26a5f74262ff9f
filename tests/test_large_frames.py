"""Large pandas DataFrames and pyarrow Tables as results: written from their own memory
(no copy of a column on the way to the store) and, on a local hit, built on the entry's
memory map (no copy on the way back), with the value exactly as it was: dtypes, index,
nulls, chunks and metadata."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import xxhash

import memokey
from helpers.mapped_hits import data_buffers, share_inside_map
from memokey import entry_format
from memokey.errors import SerializationError
from memokey.results import decode_result, encode_parts, encode_result
from memokey.safe_formats import arrow_pieces

ROWS = 420_000  # over 8 MiB in every value below: a local hit is memory-mapped


def _strings(rows: int) -> pa.Array:
    digits = pc.cast(pa.array(np.arange(10**9, 10**9 + rows, dtype=np.int64)), pa.string())
    valid = pa.array(np.arange(rows) % 7 != 0)
    return pc.if_else(valid, digits, pa.scalar(None, pa.string()))


def frame(rows: int) -> Any:
    """Numeric, nullable, categorical and Arrow-backed (pandas 3 ``str``, ArrowDtype)
    columns under a named DatetimeIndex with a frequency, and `attrs`."""
    floats = np.arange(rows, dtype=np.float64)
    floats[::5] = np.nan
    out = pd.DataFrame(
        {
            "f": floats,
            "g": floats * 2,
            "i": pd.array(np.arange(rows), dtype="Int64"),
            "s": pd.array(_strings(rows), dtype="str"),
            "a": pd.array(
                pa.array(np.arange(rows, dtype=np.int32)), dtype=pd.ArrowDtype(pa.int32())
            ),
            "c": pd.Categorical(np.arange(rows) % 3, categories=[0, 1, 2], ordered=True),
        },
        index=pd.date_range("2026-01-01", periods=rows, freq="s", name="t"),
    )
    out.loc[out.index[3], "i"] = pd.NA
    out.columns.name = "fields"
    out.attrs["source"] = "test"
    return out


def table(rows: int) -> Any:
    """Float, nullable string (two chunks), dictionary and nested columns, with schema
    and field metadata."""
    half = rows // 2
    strings = _strings(rows)
    schema = pa.schema(
        [
            pa.field("x", pa.float64(), nullable=False, metadata={"unit": "m"}),
            pa.field("s", pa.string()),
            pa.field("d", pa.dictionary(pa.int8(), pa.string())),
            pa.field("l", pa.list_(pa.int32())),
        ],
        metadata={"made-by": "test"},
    )
    return pa.Table.from_arrays(
        [
            pa.chunked_array([np.arange(rows, dtype=np.float64)]),
            pa.chunked_array([strings.slice(0, half), strings.slice(half)]),
            pa.chunked_array([pa.array(["a", "b", None] * (rows // 3)).dictionary_encode()]),
            pa.chunked_array([pa.array([[i, i + 1] for i in range(rows // 420)] * 420)]),
        ],
        schema=schema,
    )


def _entry_path(f: Any, *args: Any) -> str:
    return str(f.key_for(*args).uri.removeprefix("file://"))


def _addresses(parts: list[Any]) -> list[tuple[int, int]]:
    spans = []
    for part in parts:
        data = np.frombuffer(memoryview(part).cast("B"), dtype=np.uint8)
        spans.append((data.__array_interface__["data"][0], data.nbytes))
    return spans


def _handed_over_uncopied(value: Any, parts: list[Any]) -> float:
    """The share of the value's data bytes (in buffers of 64 KiB or more) that the
    entry's parts point at directly, i.e. are written from where they are."""
    spans = _addresses(parts)
    own = sorted({(at, size) for at, size in data_buffers(value) if size >= 1 << 16})
    kept = 0
    for at, size in own:  # the parts never overlap one another
        kept += sum(max(0, min(at + size, lo + n) - max(at, lo)) for lo, n in spans)
    return kept / max(1, sum(s for _, s in own))


def _assert_same_frame(back: Any, value: Any) -> None:
    pd.testing.assert_frame_equal(back, value, check_exact=True)
    assert back.attrs == value.attrs
    assert back.index.freq == value.index.freq
    assert back.columns.name == value.columns.name
    assert back.dtypes.to_dict() == value.dtypes.to_dict()


def _assert_same_table(back: Any, value: Any) -> None:
    assert back.schema.equals(value.schema, check_metadata=True)
    assert back.equals(value, check_metadata=True)
    assert back.column("s").null_count == value.column("s").null_count > 0


def test_a_large_dataframe_round_trips_exactly_and_its_local_hit_is_built_on_the_map(
    tmp_path: Path,
) -> None:
    f = memokey.memoize(f"file://{tmp_path}")(frame)
    value = f(ROWS)
    hit = f(ROWS)
    _assert_same_frame(hit, value)
    assert share_inside_map(hit, _entry_path(f, ROWS)) >= 0.95


def test_a_large_arrow_table_round_trips_exactly_and_its_local_hit_is_built_on_the_map(
    tmp_path: Path,
) -> None:
    f = memokey.memoize(f"file://{tmp_path}")(table)
    value = f(ROWS)
    hit = f(ROWS)
    _assert_same_table(hit, value)
    assert [c.num_chunks for c in hit.columns] == [c.num_chunks for c in value.columns]
    assert share_inside_map(hit, _entry_path(f, ROWS)) >= 0.95


def test_the_safe_arrow_format_round_trips_exactly_and_its_local_hit_is_built_on_the_map(
    tmp_path: Path,
) -> None:
    f = memokey.memoize(f"file://{tmp_path}", serializer="arrow", allow_pickle=False)(table)
    value = f(ROWS)
    hit = f(ROWS)
    _assert_same_table(hit, value)
    assert share_inside_map(hit, _entry_path(f, ROWS)) >= 0.95


def test_an_arrow_backed_pandas_column_is_written_from_its_own_memory() -> None:
    value = pd.DataFrame({"s": pd.array(_strings(ROWS), dtype="str")})
    assert _handed_over_uncopied(value, encode_parts(value)) == 1.0


def test_the_safe_arrow_format_is_written_from_the_tables_own_memory() -> None:
    value = pa.table({"x": np.arange(ROWS, dtype=np.float64), "s": _strings(ROWS)})
    assert _handed_over_uncopied(value, encode_parts(value, "arrow")) == 1.0
    # a column sliced across chunks has its offsets rebased by Arrow's writer: the rest
    # of it is still written from where it is
    sliced = table(ROWS)
    assert _handed_over_uncopied(sliced, encode_parts(sliced, "arrow")) > 0.8


def test_an_arrow_backed_column_keeps_its_chunks_and_reads_back_with_plain_pickle() -> None:
    chunked = pa.chunked_array([_strings(1 << 16), _strings(1 << 16)])
    value = pd.Series(pd.array(chunked, dtype=pd.ArrowDtype(pa.string())), name="s")
    data = encode_result(value, "pickle")
    back = decode_result(data, "memory://x")
    pd.testing.assert_series_equal(back, value, check_exact=True)
    assert back.array._pa_array.num_chunks == 2
    stream = pickle.loads(pickle.dumps(value))  # pandas' own pickles still read as before
    pd.testing.assert_series_equal(stream, value)


def test_a_small_arrow_table_is_still_one_stream_and_reads_back() -> None:
    value = table(3000 * 7)
    data = encode_result(value, "arrow")
    _assert_same_table(decode_result(data, "memory://x"), value)


def test_an_arrow_entry_listing_more_than_its_stream_is_refused_before_use() -> None:
    from memokey.safe_formats import arrow_loads_oob

    stream = memoryview(b"")
    with pytest.raises(ValueError, match="exactly one"):
        arrow_loads_oob(stream, [memoryview(b"a"), memoryview(b"b")])


def test_an_arrow_entry_with_a_damaged_stream_is_reported_not_returned(tmp_path: Path) -> None:
    f = memokey.memoize(f"file://{tmp_path}", serializer="arrow", allow_pickle=False)(table)
    f(ROWS)
    entry = Path(_entry_path(f, ROWS))
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF
    entry.write_bytes(bytes(data))
    with pytest.raises(memokey.MemokeyError):
        f(ROWS)


def _entry_of_pieces(pieces: list[Any]) -> bytes:
    """An arrow entry (out-of-band layout, valid checksum) holding these stream pieces:
    what someone who can write the store could plant."""
    total = sum(memoryview(p).nbytes for p in pieces)
    header, placed = entry_format.pack_header("arrow", None, [0, total])
    body = header + bytes(placed[1][0] - len(header)) + b"".join(bytes(p) for p in pieces)
    checksum = xxhash.xxh3_128_digest(body)
    return body + b"{}" + entry_format.pack_footer(len(body) - len(header), checksum, b"{}")


def test_a_planted_arrow_stream_with_out_of_range_offsets_is_refused_not_read() -> None:
    value = pa.table({"s": _strings(ROWS)})
    offsets = value.column("s").chunk(0).buffers()[1]
    pieces = arrow_pieces(value)
    honest = _entry_of_pieces(pieces)
    assert decode_result(honest, "memory://x", allow_pickle=False).equals(value)
    at = next(i for i, p in enumerate(pieces) if getattr(p, "address", None) == offsets.address)
    bad = np.frombuffer(pieces[at], dtype=np.int32).copy()
    bad[ROWS // 2] = 2**30  # points a gigabyte past the string data
    pieces[at] = bad.tobytes()
    with pytest.raises(SerializationError):
        decode_result(_entry_of_pieces(pieces), "memory://x", allow_pickle=False)


def test_a_large_arrow_table_compressed_with_zstd_round_trips_exactly(tmp_path: Path) -> None:
    pytest.importorskip("zstandard")
    for serializer in ("arrow", "cloudpickle"):
        f = memokey.memoize(
            f"file://{tmp_path}", serializer=serializer, compress="zstd", namespace=serializer
        )(table)
        value = f(ROWS)
        _assert_same_table(f(ROWS), value)
        assert "+zstd" in Path(_entry_path(f, ROWS)).read_bytes()[:40].decode("latin-1")
