"""Buffers are keyed by dtype, shape and values, never by memory layout: numpy arrays,
masked arrays, bytes-likes, pandas frames and Arrow arrays."""

from __future__ import annotations

import array

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from memokey.hashing import arrays, digest


@pytest.fixture
def matrix() -> np.ndarray:
    return np.arange(60, dtype=np.float64).reshape(6, 10)


def test_fortran_order_array_has_the_same_digest_as_c_order(matrix: np.ndarray) -> None:
    assert digest(np.asfortranarray(matrix)) == digest(matrix)


def test_strided_view_has_the_same_digest_as_its_contiguous_copy(matrix: np.ndarray) -> None:
    view = matrix[::2, 1::3]
    assert digest(view) == digest(np.ascontiguousarray(view))


def test_transposed_view_has_the_same_digest_as_its_copy(matrix: np.ndarray) -> None:
    assert digest(matrix.T) == digest(matrix.T.copy())


def test_large_strided_view_is_chunked_and_matches_its_copy() -> None:
    base = np.arange(3 * arrays.CHUNK // 8 * 2, dtype=np.float64)
    view = base[::2]
    assert digest(view) == digest(view.copy())


def test_array_with_rows_larger_than_a_chunk_matches_its_copy() -> None:
    wide = np.arange(4 * (arrays.CHUNK // 8 + 7), dtype=np.float64).reshape(4, -1)
    assert digest(np.asfortranarray(wide)) == digest(wide)


def test_reversed_view_matches_its_copy() -> None:
    values = np.arange(100, dtype=np.int32)
    assert digest(values[::-1]) == digest(values[::-1].copy())


def test_shape_is_part_of_the_key(matrix: np.ndarray) -> None:
    assert digest(matrix) != digest(matrix.reshape(10, 6))
    assert digest(matrix) != digest(matrix.ravel())


def test_dtype_is_part_of_the_key() -> None:
    assert digest(np.zeros(4, dtype=np.int64)) != digest(np.zeros(4, dtype=np.float64))
    assert digest(np.zeros(4, dtype="<i8")) != digest(np.zeros(4, dtype=">i8"))


def test_empty_arrays_differ_by_shape_and_dtype() -> None:
    assert digest(np.zeros((0, 3))) != digest(np.zeros((3, 0)))
    assert digest(np.zeros(0, dtype=np.int8)) != digest(np.zeros(0, dtype=np.int16))


def test_negative_zero_in_an_array_differs_from_zero() -> None:
    assert digest(np.array([0.0])) != digest(np.array([-0.0]))


def test_structured_arrays_are_keyed_by_fields() -> None:
    dtype = np.dtype([("a", "<i4"), ("b", "<f8")])
    values = np.array([(1, 2.0), (3, 4.0)], dtype=dtype)
    assert digest(values) == digest(values.copy())
    assert digest(values) != digest(np.array([(1, 2.0), (3, 5.0)], dtype=dtype))


def test_object_arrays_are_keyed_by_their_elements() -> None:
    left = np.array([1, "a", None, {"k": {1, 2}}], dtype=object)
    right = np.array([1, "a", None, {"k": {2, 1}}], dtype=object)
    assert digest(left) == digest(right)
    assert digest(left) != digest(np.array([1, "b", None, {}], dtype=object))


def test_object_string_array_over_several_blocks_is_keyed_by_value() -> None:
    words = [f"w{i}" for i in range(arrays.OBJECT_BLOCK + 5)]
    assert digest(np.array(words, dtype=object)) == digest(np.array(list(words), dtype=object))
    words[-1] = "changed"
    assert digest(np.array(words, dtype=object)) != digest(
        np.array([f"w{i}" for i in range(arrays.OBJECT_BLOCK + 5)], dtype=object)
    )


def test_numpy_scalars_differ_from_python_numbers() -> None:
    assert digest(np.float64(1.0)) != digest(1.0)
    assert digest(np.float32(1.0)) != digest(np.float64(1.0))


def test_masked_arrays_are_keyed_by_data_mask_and_fill_value() -> None:
    base = np.ma.masked_array([1, 2, 3], mask=[0, 1, 0])
    assert digest(base) == digest(np.ma.masked_array([1, 2, 3], mask=[0, 1, 0]))
    assert digest(base) != digest(np.ma.masked_array([1, 2, 3], mask=[0, 0, 0]))
    assert digest(base) != digest(np.array([1, 2, 3]))
    assert digest(np.ma.masked_array([1, 2])) == digest(np.ma.masked_array([1, 2], mask=[0, 0]))


def test_ndarray_subclass_differs_from_ndarray() -> None:
    assert digest(np.arange(4).view(np.recarray)) != digest(np.arange(4))


def test_bytes_likes_are_keyed_by_contents() -> None:
    assert digest(memoryview(b"abc")) == digest(memoryview(bytearray(b"abc")))
    assert digest(array.array("i", [1, 2])) == digest(array.array("i", [1, 2]))
    assert digest(array.array("i", [1, 2])) != digest(array.array("l", [1, 2]))


def test_strided_memoryview_matches_its_copy() -> None:
    view = memoryview(bytes(range(20)))[::2]
    assert digest(view) == digest(memoryview(view.tobytes()))


# --- pandas ------------------------------------------------------------------------------


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "i": np.arange(5),
            "f": np.arange(5) * 0.5,
            "s": pd.Series([f"s{i}" for i in range(5)], dtype=object),
        }
    )


def test_dataframes_with_different_block_layouts_share_a_digest(frame: pd.DataFrame) -> None:
    unconsolidated = frame.copy()
    unconsolidated["extra"] = 1
    del unconsolidated["extra"]
    columnwise = pd.DataFrame({name: frame[name].copy() for name in frame.columns})
    assert digest(unconsolidated) == digest(frame) == digest(columnwise)


def test_dataframe_column_order_and_labels_are_part_of_the_key(frame: pd.DataFrame) -> None:
    assert digest(frame) != digest(frame[["f", "i", "s"]])
    assert digest(frame) != digest(frame.rename(columns={"i": "j"}))
    assert digest(frame) != digest(frame.set_axis(list("abcde")))


def test_dataframe_values_are_part_of_the_key(frame: pd.DataFrame) -> None:
    changed = frame.copy()
    changed.loc[2, "f"] = 99.0
    assert digest(frame) != digest(changed)


def test_series_name_and_dtype_are_part_of_the_key() -> None:
    assert digest(pd.Series([1, 2], name="a")) != digest(pd.Series([1, 2], name="b"))
    assert digest(pd.Series([1, 2])) != digest(pd.Series([1, 2], dtype="Int64"))


def test_arrow_string_series_is_keyed_by_value() -> None:
    assert digest(pd.Series(["a", None, "c"], dtype="str")) == digest(
        pd.Series(["a", None, "c"], dtype="str")
    )
    assert digest(pd.Series(["a", None, "c"], dtype="str")) != digest(
        pd.Series(["a", "", "c"], dtype="str")
    )


def test_nullable_arrays_ignore_the_data_under_the_mask() -> None:
    left = pd.array([1, 2, 3], dtype="Int64")
    right = pd.array([1, 7, 3], dtype="Int64")
    left[1] = pd.NA
    right[1] = pd.NA
    assert digest(left) == digest(right)


def test_categoricals_are_keyed_by_categories_codes_and_order() -> None:
    values = ["a", "b", "a"]
    assert digest(pd.Categorical(values)) == digest(pd.Categorical(values))
    assert digest(pd.Categorical(values)) != digest(pd.Categorical(values, ordered=True))
    assert digest(pd.Categorical(values)) != digest(pd.Categorical(values, categories=["b", "a"]))


def test_indexes_are_keyed_by_type_and_values() -> None:
    assert digest(pd.RangeIndex(3)) != digest(pd.Index([0, 1, 2]))
    assert digest(pd.MultiIndex.from_tuples([(1, "a"), (2, "b")])) != digest(
        pd.MultiIndex.from_tuples([(1, "a"), (2, "c")])
    )
    assert digest(pd.date_range("2020", periods=3, tz="UTC")) != digest(
        pd.date_range("2020", periods=3)
    )


# --- Arrow ---------------------------------------------------------------------------------


def test_arrow_chunking_and_slicing_do_not_change_the_key() -> None:
    one = pa.chunked_array([pa.array(["a", "bb", "ccc", None])])
    two = pa.chunked_array([pa.array(["a", "bb"]), pa.array(["ccc", None])])
    sliced = pa.array(["zz", "a", "bb", "ccc", None]).slice(1)
    assert digest(one) == digest(two) == digest(pa.chunked_array([sliced]))


def test_arrow_null_differs_from_empty_string() -> None:
    assert digest(pa.array(["a", None])) != digest(pa.array(["a", ""]))


def test_arrow_numbers_are_keyed_by_value_and_type() -> None:
    assert digest(pa.array([1, 2, 3])) == digest(pa.array([0, 1, 2, 3]).slice(1))
    assert digest(pa.array([1, 2, 3])) != digest(pa.array([1, 2, 3], type=pa.int32()))
    # (an Array and a ChunkedArray differ in type; chunking alone never matters)
    assert digest(pa.chunked_array([[1, None]])) == digest(pa.chunked_array([[1], [None]]))


def test_arrow_tables_are_keyed_by_names_and_columns() -> None:
    table = pa.table({"a": [1, 2], "b": ["x", "y"]})
    assert digest(table) == digest(pa.table({"a": [1, 2], "b": ["x", "y"]}))
    assert digest(table) != digest(pa.table({"a": [1, 2], "c": ["x", "y"]}))
