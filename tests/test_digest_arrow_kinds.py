"""pyarrow values are keyed by everything a function can observe: an array differs from
a chunked array, a dictionary array keeps its dictionary and indices, a table keeps its
schema metadata and nullability, and nulls of every type are keyed (never a crash);
chunking is layout, not value, so equal chunked arrays share a key."""

from __future__ import annotations

import datetime
import decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from memokey.hashing import digest


def test_array_and_chunked_array_of_it_differ() -> None:
    values = pa.array([1, 2, 3])
    assert digest(values) != digest(pa.chunked_array([values]))


def test_chunked_arrays_that_differ_only_in_chunking_share_a_key() -> None:
    values = pa.array(["a", None, "ccc", "dd"])
    one = pa.chunked_array([values])
    two = pa.chunked_array([values[:1], values[1:3], values[3:]])
    assert digest(one) == digest(two)
    numbers = pa.array([1.5, None, 3.0])
    assert digest(pa.chunked_array([numbers])) == digest(
        pa.chunked_array([numbers[:2], numbers[2:]])
    )


def test_dictionary_arrays_keep_their_dictionary_and_indices() -> None:
    encoded = pa.array(["a", "b", "a"]).dictionary_encode()
    reordered = pa.DictionaryArray.from_arrays(pa.array([1, 0, 1], pa.int32()), ["b", "a"])
    assert encoded.to_pylist() == reordered.to_pylist()
    assert digest(encoded) != digest(reordered)
    extra = pa.DictionaryArray.from_arrays(pa.array([0, 1, 0], pa.int32()), ["a", "b", "z"])
    assert digest(encoded) != digest(extra)


def test_chunked_dictionary_arrays_with_one_dictionary_ignore_chunking() -> None:
    encoded = pa.array(["a", "b", None, "a"]).dictionary_encode()
    assert digest(pa.chunked_array([encoded])) == digest(
        pa.chunked_array([encoded[:2], encoded[2:]])
    )


def test_table_schema_metadata_is_part_of_the_key() -> None:
    table = pa.table({"x": [1, 2]})
    tagged = table.replace_schema_metadata({"source": "a.csv"})
    other = table.replace_schema_metadata({"source": "b.csv"})
    assert len({digest(table), digest(tagged), digest(other)}) == 3


def test_field_nullability_and_metadata_are_part_of_the_key() -> None:
    nullable = pa.table({"x": [1, 2]})
    required = pa.table(
        {"x": [1, 2]}, schema=pa.schema([pa.field("x", pa.int64(), nullable=False)])
    )
    annotated = pa.table(
        {"x": [1, 2]}, schema=pa.schema([pa.field("x", pa.int64(), metadata={"unit": "m"})])
    )
    assert len({digest(nullable), digest(required), digest(annotated)}) == 3
    batch = pa.record_batch({"x": [1, 2]})
    assert digest(batch) != digest(batch.replace_schema_metadata({"k": "v"}))


_WITH_NULLS: dict[str, tuple[list[Any], pa.DataType]] = {
    "date32": ([datetime.date(2020, 1, 1), None], pa.date32()),
    "date64": ([datetime.date(2020, 1, 1), None], pa.date64()),
    "time32": ([1, None], pa.time32("s")),
    "time64": ([1, None], pa.time64("us")),
    "timestamp": ([1, None], pa.timestamp("ms", tz="UTC")),
    "duration": ([1, None], pa.duration("s")),
    "month_day_nano": ([pa.MonthDayNano([1, 2, 3]), None], pa.month_day_nano_interval()),
    "decimal": ([decimal.Decimal("1.50"), None], pa.decimal128(5, 2)),
    "list": ([[1], None], pa.list_(pa.int64())),
    "struct": ([{"a": 1}, None], pa.struct([("a", pa.int64())])),
    "large_string": (["a", None], pa.large_string()),
    "binary": ([b"a", None], pa.binary()),
    "fixed_binary": ([b"ab", None], pa.binary(2)),
    "string_view": (["a", None], pa.string_view()),
    "binary_view": ([b"a", None], pa.binary_view()),
    "bool": ([True, None], pa.bool_()),
    "float16": ([np.float16(1.5), None], pa.float16()),
    "map": ([[("a", 1)], None], pa.map_(pa.string(), pa.int64())),
    "null": ([None, None], pa.null()),
}


@pytest.mark.parametrize("name", sorted(_WITH_NULLS))
def test_arrays_with_nulls_of_every_type_are_keyed(name: str) -> None:
    values, kind = _WITH_NULLS[name]
    with_null = pa.array(values, kind)
    key = digest(with_null)
    assert key == digest(pa.array(values, kind))
    assert key == digest(pa.chunked_array([with_null[:1], with_null[1:]]).combine_chunks())
    if name != "null":
        assert key != digest(pa.array(values[:1] + values[:1], kind))


def test_null_slots_never_leak_their_undefined_bytes() -> None:
    left = pa.array([1, 2, 3], pa.date32())
    right = pa.array([1, 9, 3], pa.date32())
    validity = pa.array([True, False, True]).buffers()[1]
    masked = [
        pa.Array.from_buffers(pa.date32(), 3, [validity, arr.buffers()[1]], null_count=1)
        for arr in (left, right)
    ]
    assert masked[0].to_pylist() == masked[1].to_pylist()
    assert digest(masked[0]) == digest(masked[1])


def test_pandas_date32_pyarrow_column_with_a_gap_is_keyed() -> None:
    frame = pd.DataFrame(
        {"day": pd.array([datetime.date(2024, 1, 1), None], dtype="date32[pyarrow]")}
    )
    other = pd.DataFrame(
        {"day": pd.array([datetime.date(2024, 1, 2), None], dtype="date32[pyarrow]")}
    )
    assert digest(frame) != digest(other)


class UnitType(pa.ExtensionType):
    """A user extension type with a parameter its name does not show."""

    def __init__(self, unit: str) -> None:
        self.unit = unit
        super().__init__(pa.float64(), "memokey_test.unit")

    def __arrow_ext_serialize__(self) -> bytes:
        return self.unit.encode()

    @classmethod
    def __arrow_ext_deserialize__(cls, storage_type: pa.DataType, serialized: bytes) -> UnitType:
        return cls(serialized.decode())


def test_extension_type_parameters_are_part_of_the_key() -> None:
    storage = pa.array([1.0, 2.0])
    metres = pa.ExtensionArray.from_storage(UnitType("m"), storage)
    seconds = pa.ExtensionArray.from_storage(UnitType("s"), storage)
    assert str(metres.type) == str(seconds.type)  # the collision this guards against
    assert digest(metres) != digest(seconds)


def test_nested_field_metadata_and_nullability_are_part_of_the_key() -> None:
    def struct(**metadata: str) -> pa.DataType:
        return pa.struct([pa.field("a", pa.int64(), metadata=metadata or None)])

    values = [{"a": 1}]
    plain, metres = pa.array(values, struct()), pa.array(values, struct(unit="m"))
    assert digest(plain) != digest(metres)
    assert digest(metres) != digest(pa.array(values, struct(unit="s")))
    required = pa.list_(pa.field("item", pa.int64(), nullable=False))
    assert digest(pa.array([[1]], required)) != digest(pa.array([[1]], pa.list_(pa.int64())))
