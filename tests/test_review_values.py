"""Outside review of value keying (issue 8 item 7): each test is a pair of inputs a pure
function cannot tell apart (they must share a digest, in any process) or can (they must
not). Every test here failed against the engine before its fix, except the one marked
as a guard for a fix made here."""

from __future__ import annotations

import dataclasses
import functools
import sys
from typing import Any

import numpy as np
import pytest

from memokey.hashing import digest

# --- x87 long doubles hold 6 garbage bytes wherever they sit, not only as plain elements ---

_X87 = np.finfo(np.longdouble).nmant == 63 and np.dtype(np.longdouble).itemsize in (12, 16)
_LD = np.dtype(np.longdouble).itemsize

needs_x87 = pytest.mark.skipif(
    not _X87 or sys.byteorder != "little", reason="x87 80-bit long double, little-endian"
)


def _dirty(arr: Any, padding: list[int]) -> Any:
    """A copy of `arr` with the bytes at `padding` (offsets in each item) set to 0xAB."""
    out = arr.copy()
    raw = out.view(np.uint8).reshape(out.size, out.dtype.itemsize)
    raw[:, padding] = 0xAB
    return out


def _pad(start: int) -> list[int]:
    """The padding bytes of one long double component that starts at `start`."""
    return list(range(start + 10, start + _LD))


@needs_x87
def test_long_double_struct_field_padding_does_not_change_the_digest() -> None:
    # np.array(rows, [("a", np.longdouble)]) leaves garbage there: the digest of the same
    # value differed from one process to the next.
    clean = np.array([(1.5, 2), (-3.0, 4)], dtype=[("a", np.longdouble), ("b", "i1")])
    clean.view(np.uint8).reshape(2, -1)[:, _pad(0)] = 0
    dirty = _dirty(clean, _pad(0))
    assert (clean == dirty).all()
    assert digest(clean) == digest(dirty)
    assert digest(clean[0]) == digest(dirty[0])
    assert digest(clean[::-1]) == digest(dirty[::-1])
    changed = clean.copy()
    changed["a"][1] = -3.5
    assert digest(changed) != digest(clean)


@needs_x87
def test_long_double_subarray_and_complex_field_padding_do_not_change_the_digest() -> None:
    kind = np.dtype([("v", np.longdouble, (2,)), ("z", np.clongdouble)])
    clean = np.zeros(3, dtype=kind)
    clean["v"] = [[1, 2], [3, 4], [5, 6]]
    clean["z"] = [1j, 2 + 1j, -1]
    padding = _pad(0) + _pad(_LD) + _pad(2 * _LD) + _pad(3 * _LD)
    dirty = _dirty(clean, padding)
    assert digest(clean) == digest(dirty)
    changed = clean.copy()
    changed["z"][2] = -2
    assert digest(changed) != digest(clean)


@needs_x87
def test_byte_swapped_long_double_padding_does_not_change_the_digest() -> None:
    swapped = np.array([1.5, -2.0], dtype=np.longdouble).astype(
        np.dtype(np.longdouble).newbyteorder()
    )
    padding = list(range(_LD - 10))  # big-endian: the padding comes first
    dirty = _dirty(swapped, padding)
    assert (swapped == dirty).all()
    assert digest(swapped) == digest(dirty)
    assert digest(swapped) != digest(swapped[::-1])


def test_struct_with_long_double_has_one_digest_across_processes() -> None:
    import subprocess

    code = (
        "import numpy as np; from memokey.hashing import digest; "
        "print(digest(np.array([(1.5,), (2.5,)], dtype=[('a', np.longdouble)])))"
    )
    seen = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(3)
    }
    assert len(seen) == 1


# --- a failure while reading a value is refused, even when its exception cannot print ---


class _Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("__str__ failed too")

    def __repr__(self) -> str:
        raise RuntimeError("__repr__ failed too")


class _ListWithHostileLen(list):  # type: ignore[type-arg]
    def __len__(self) -> int:
        raise _Unprintable


def test_a_value_whose_error_cannot_be_printed_is_refused_as_unkeyable() -> None:
    from memokey.errors import UnkeyableArgumentError

    with pytest.raises(UnkeyableArgumentError, match="_Unprintable"):
        digest(_ListWithHostileLen([1]))
    with pytest.raises(UnkeyableArgumentError, match=r"value\[1\]"):
        digest([0, _ListWithHostileLen([1])])


def test_a_memoized_call_with_such_a_value_raises_unkeyable(tmp_path: Any) -> None:
    import memokey
    from memokey.errors import UnkeyableArgumentError

    @memokey.memoize(root=tmp_path.as_uri())
    def size(x: Any) -> int:
        return 1

    with pytest.raises(UnkeyableArgumentError):
        size(_ListWithHostileLen([1]))


# --- cycles through object arrays are keyed with back-references, like any container ---


def _self_holding(other: object) -> Any:
    arr = np.empty(2, dtype=object)
    arr[0], arr[1] = arr, other
    return arr


def test_object_arrays_that_hold_themselves_are_keyed_by_content() -> None:
    assert digest(_self_holding(1)) == digest(_self_holding(1))
    assert digest(_self_holding(1)) != digest(_self_holding(2))
    outer: list[Any] = []
    held = np.array([None, outer], dtype=object)
    outer.append(held)
    assert digest(outer) == digest(outer)


# --- what a nested function carries besides its code: attributes set on it ---


def _scaled_by_attribute(n: int) -> Any:
    def scale(x: int) -> int:
        return x * scale.factor  # type: ignore[attr-defined, no-any-return]

    scale.factor = n  # type: ignore[attr-defined]
    return scale


def test_nested_functions_with_different_attributes_have_different_digests() -> None:
    assert _scaled_by_attribute(2)(5) != _scaled_by_attribute(3)(5)
    assert digest(_scaled_by_attribute(2)) != digest(_scaled_by_attribute(3))
    assert digest(_scaled_by_attribute(2)) == digest(_scaled_by_attribute(2))


def test_a_lambda_with_an_attribute_differs_from_one_without() -> None:
    def make(tag: object) -> Any:
        func = lambda x: x  # noqa: E731
        if tag is not None:
            func.tag = tag  # type: ignore[attr-defined]
        return func

    assert digest(make(None)) == digest(make(None))
    assert digest(make("a")) != digest(make(None))
    assert digest(make("a")) != digest(make("b"))


# --- Arrow: chunks' dictionaries are "the same" only when they are bit for bit ---


def test_chunked_dictionaries_differing_only_by_the_sign_of_zero_differ() -> None:
    import math

    import pyarrow as pa

    def chunk(value: float) -> Any:
        return pa.DictionaryArray.from_arrays(pa.array([0], pa.int8()), pa.array([value]))

    signed = pa.chunked_array([chunk(0.0), chunk(-0.0)])
    unsigned = pa.chunked_array([chunk(0.0), chunk(0.0)])
    assert [math.copysign(1, v) for v in signed.to_pylist()] == [1, -1]  # observable
    assert digest(signed) != digest(unsigned)
    shared = pa.array(["a", "b", "a"]).dictionary_encode()
    rechunked = pa.chunked_array([shared.slice(0, 1), shared.slice(1)])
    assert digest(rechunked) == digest(pa.chunked_array([shared]))


# --- caches an object keeps for itself are not part of its value ---


class _ModelLike:
    """Pickles like a pydantic model: its own ``__dict__`` nested in a custom state."""

    def __init__(self, x: int) -> None:
        self.x = x

    def __getstate__(self) -> dict[str, Any]:
        return {"__dict__": self.__dict__, "fields_set": {"x"}}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state["__dict__"])

    @functools.cached_property
    def doubled(self) -> int:
        return self.x * 2


def test_a_cached_property_read_through_a_nested_instance_dict_does_not_change_the_digest() -> None:
    fresh, read = _ModelLike(1), _ModelLike(1)
    assert read.doubled == 2
    assert digest(fresh) == digest(read)
    assert digest(_ModelLike(1)) != digest(_ModelLike(2))


def test_a_pydantic_models_cached_property_does_not_change_its_digest() -> None:
    pydantic = pytest.importorskip("pydantic")

    class Config(pydantic.BaseModel):  # type: ignore[misc, name-defined]
        depth: int = 1

        @functools.cached_property
        def width(self) -> int:
            return self.depth * 2

    fresh, read = Config(depth=3), Config(depth=3)
    assert read.width == 6
    assert digest(fresh) == digest(read)
    assert digest(Config(depth=3)) != digest(Config(depth=4))


def test_an_attrs_instance_keeps_its_digest_once_its_hash_is_cached() -> None:
    attrs = pytest.importorskip("attrs")

    @attrs.define(frozen=True, cache_hash=True, slots=False)
    class Point:
        x: str

    fresh, hashed = Point("a"), Point("a")
    hash(hashed)
    assert digest(fresh) == digest(hashed)
    assert digest(Point("a")) != digest(Point("b"))


def test_arrow_tables_without_columns_differ_by_their_row_count() -> None:
    import pyarrow as pa

    three = pa.table({"a": [1, 2, 3]}).drop_columns(["a"])
    assert len(three) == 3
    assert digest(three) != digest(pa.table({}))
    one = pa.record_batch({"a": [1]}).drop_columns(["a"])
    assert digest(pa.record_batch({"a": [1, 2]}).drop_columns(["a"])) != digest(one)
    assert digest(three) == digest(pa.table({"b": [4, 5, 6]}).drop_columns(["b"]))


def test_an_empty_arrow_array_without_a_data_buffer_is_keyed_as_empty() -> None:
    import pyarrow as pa

    # What the C data interface or IPC may hand over for a length-0 array.
    bare = pa.Array.from_buffers(pa.int64(), 0, [None, None])
    assert digest(bare) == digest(pa.array([], pa.int64()))
    assert digest(pa.chunked_array([bare, pa.array([1])])) == digest(pa.chunked_array([[1]]))


# --- slots a subclass adds to a dataclass are read like attributes set outside fields ---


@dataclasses.dataclass
class _Field:
    a: int


class _FieldWithSlot(_Field):
    __slots__ = ("extra",)


@dataclasses.dataclass(slots=True)
class _SlottedField:
    a: int


class _SlottedFieldWithSlot(_SlottedField):
    __slots__ = ("extra",)


@pytest.mark.parametrize("kind", [_FieldWithSlot, _SlottedFieldWithSlot])
def test_slots_added_by_a_dataclass_subclass_are_part_of_the_digest(kind: Any) -> None:
    def make(extra: object) -> Any:
        obj = kind(1)
        if extra is not None:
            obj.extra = extra
        return obj

    assert digest(make(1)) != digest(make(2))
    assert digest(make(1)) != digest(make(None))
    assert digest(make(1)) == digest(make(1))
    assert digest(make(None)) == digest(make(None))


def test_a_slotted_attrs_instance_keeps_its_digest_once_its_hash_is_cached() -> None:
    # A guard for the slots fix above: attrs keeps its cached hash in a slot here.
    attrs = pytest.importorskip("attrs")

    @attrs.frozen(cache_hash=True)
    class Point:
        x: str

    fresh, hashed = Point("a"), Point("a")
    hash(hashed)
    assert digest(fresh) == digest(hashed)
