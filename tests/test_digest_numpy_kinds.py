"""numpy values are keyed by everything that defines them: an array subclass by its type
and extra attributes, a masked array by its type, mask, fill value and hardness, a dtype
by its scalar type, fields, metadata and alignment (not by ``dtype.str`` alone), and a
ufunc by name only when that name imports back to the very same ufunc."""

from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np
import pytest

from memokey.errors import UnkeyableArgumentError
from memokey.hashing import digest


class InfoArray(np.ndarray):  # type: ignore[type-arg]
    """numpy's documented subclass pattern: an extra attribute carried through views."""

    def __new__(cls, values: Any, info: object = None) -> InfoArray:
        obj = np.asarray(values).view(cls)
        obj.info = info
        return obj

    def __array_finalize__(self, obj: Any) -> None:
        if obj is None:
            return
        self.info = getattr(obj, "info", None)


class TaggedMasked(np.ma.MaskedArray):  # type: ignore[type-arg]
    pass


def test_array_subclass_extra_attributes_are_part_of_the_key() -> None:
    assert digest(InfoArray([1, 2], info="a")) != digest(InfoArray([1, 2], info="b"))
    assert digest(InfoArray([1, 2], info="a")) == digest(InfoArray([1, 2], info="a"))


def test_array_subclass_differs_from_a_plain_array() -> None:
    assert digest(InfoArray([1, 2])) != digest(np.array([1, 2]))


def test_masked_array_subclass_keeps_its_type() -> None:
    plain = np.ma.masked_array([1, 2, 3], mask=[0, 1, 0])
    assert digest(plain.view(TaggedMasked)) != digest(plain)


def test_masked_array_subclass_attributes_are_part_of_the_key() -> None:
    left = np.ma.masked_array([1, 2]).view(TaggedMasked)
    right = np.ma.masked_array([1, 2]).view(TaggedMasked)
    left.unit = "m"  # type: ignore[attr-defined]
    right.unit = "s"  # type: ignore[attr-defined]
    assert digest(left) != digest(right)


def test_masked_arrays_are_keyed_by_mask_fill_value_and_hardness() -> None:
    base = np.ma.masked_array([1, 2, 3], mask=[0, 1, 0], fill_value=9)
    other_mask = np.ma.masked_array([1, 2, 3], mask=[1, 0, 0], fill_value=9)
    other_fill = np.ma.masked_array([1, 2, 3], mask=[0, 1, 0], fill_value=7)
    hard = np.ma.masked_array([1, 2, 3], mask=[0, 1, 0], fill_value=9, hard_mask=True)
    assert len({digest(v) for v in (base, other_mask, other_fill, hard)}) == 4
    # nomask and an all-False mask are one value
    assert digest(np.ma.masked_array([1, 2])) == digest(np.ma.masked_array([1, 2], mask=[0, 0]))


def test_extension_dtypes_with_the_same_str_differ() -> None:
    int4, float8 = np.dtype(ml_dtypes.int4), np.dtype(ml_dtypes.float8_e4m3fn)
    assert int4.str == float8.str  # the collision this guards against
    assert digest(int4) != digest(float8)
    raw = np.array([1, 2], dtype=np.uint8)
    assert digest(raw.view(int4)) != digest(raw.view(float8))
    assert digest(raw.view(int4)) != digest(raw.view("V1"))


def test_extension_dtype_scalars_differ_by_type() -> None:
    assert digest(ml_dtypes.int4(1)) != digest(ml_dtypes.uint4(1))


def test_dtype_metadata_is_part_of_the_key() -> None:
    metered = np.dtype(np.float64, metadata={"unit": "m"})
    seconds = np.dtype(np.float64, metadata={"unit": "s"})
    assert metered == seconds  # numpy's == ignores metadata; the key must not
    assert len({digest(np.dtype(np.float64)), digest(metered), digest(seconds)}) == 3
    values = np.zeros(3)
    assert digest(values.astype(metered)) != digest(values.astype(seconds))


def test_record_and_void_structured_dtypes_differ() -> None:
    fields = [("a", "<i4"), ("b", "<f8")]
    void, record = np.dtype(fields), np.dtype((np.record, fields))
    assert void == record
    assert digest(void) != digest(record)
    rows = np.zeros(2, dtype=void)
    assert digest(rows) != digest(rows.view(np.recarray))


def test_aligned_struct_differs_from_packed_when_layout_is_equal() -> None:
    packed = np.dtype([("a", "<i4")])
    aligned = np.dtype([("a", "<i4")], align=True)
    assert packed.descr == aligned.descr
    assert aligned.isalignedstruct
    assert digest(packed) != digest(aligned)


def test_nested_field_metadata_is_part_of_the_key() -> None:
    inner_m = np.dtype(np.float64, metadata={"unit": "m"})
    inner_s = np.dtype(np.float64, metadata={"unit": "s"})
    assert digest(np.dtype([("x", inner_m)])) != digest(np.dtype([("x", inner_s)]))


def test_string_dtype_na_object_is_part_of_the_key() -> None:
    string_dtype: Any = np.dtypes.StringDType  # type: ignore[attr-defined]
    assert digest(string_dtype()) != digest(string_dtype(na_object=None))


def test_plain_dtypes_keep_their_keys_apart() -> None:
    kinds = ["<f8", ">f8", "<i8", "<M8[ns]", "<M8[s]", "<U3", "|S3", "V4", "?"]
    assert len({digest(np.dtype(kind)) for kind in kinds}) == len(kinds)


def test_frompyfunc_ufuncs_are_never_keyed_by_name_alone() -> None:
    double = np.frompyfunc(lambda x: x * 2, 1, 1)
    triple = np.frompyfunc(lambda x: x * 3, 1, 1)
    with pytest.raises(UnkeyableArgumentError, match="frompyfunc"):
        digest(double)
    with pytest.raises(UnkeyableArgumentError):
        digest([1, {"f": triple}])


def test_numpy_ufuncs_are_keyed_by_their_importable_name() -> None:
    assert digest(np.add) == digest(np.add)
    assert digest(np.add) != digest(np.multiply)


def test_vectorized_functions_are_keyed_by_the_function_they_wrap() -> None:
    assert digest(np.vectorize(lambda x: x * 2)) != digest(np.vectorize(lambda x: x * 3))
    assert digest(np.vectorize(np.sin, otypes=[float])) != digest(np.vectorize(np.sin))
