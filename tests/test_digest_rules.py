"""The key rules of DESIGN.md for plain Python values: type tags, value not identity,
dict order kept, sets order-free, objects by type and fields."""

from __future__ import annotations

import collections
import dataclasses
import enum
import functools
import typing
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from memokey.hashing import digest, register_hasher
from memokey.hashing.pickled import MIN_ITEMS


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (1, 1.0),
        (1, True),
        (1, "1"),
        (1, b"1"),
        ("1", b"1"),
        (b"1", bytearray(b"1")),
        (0, False),
        (0, None),
        (0.0, -0.0),
        ([1, 2], (1, 2)),
        ({1, 2}, frozenset({1, 2})),
        ({1, 2}, [1, 2]),
        ({"a": 1}, [("a", 1)]),
        ("", b""),
        ([], ()),
        (2**64, float(2**64)),
    ],
)
def test_values_of_different_types_have_different_digests(left: object, right: object) -> None:
    assert digest(left) != digest(right)


def test_digest_is_32_hex_characters() -> None:
    value = digest({"a": [1, 2.5, "x"]})
    assert len(value) == 32
    int(value, 16)


def test_nan_equals_nan_with_the_same_bits() -> None:
    assert digest(float("nan")) == digest(float("nan"))
    assert digest([float("nan")] * 20) == digest([float("nan")] * 20)


def test_negative_zero_differs_from_zero_inside_containers() -> None:
    assert digest([0.0] * MIN_ITEMS) != digest([-0.0] * MIN_ITEMS)


def test_big_ints_are_keyed_exactly() -> None:
    assert digest(2**100) != digest(2**100 + 1)
    assert digest(-(2**70)) != digest(2**70)


def test_dict_insertion_order_is_part_of_the_key() -> None:
    assert digest({"a": 1, "b": 2}) != digest({"b": 2, "a": 1})


def test_large_dict_insertion_order_is_part_of_the_key() -> None:
    items = [(f"k{i}", i) for i in range(MIN_ITEMS * 2)]
    assert digest(dict(items)) != digest(dict(reversed(items)))


def _built_in_order(items: list[int]) -> set[int]:
    built: set[int] = set()
    for item in items:
        built.add(item)
    return built


#: Equal hashes modulo the table size: a set iterates them in insertion order.
COLLIDING = [1, 9, 17, 25, 33]


def test_set_digest_ignores_insertion_order() -> None:
    left, right = _built_in_order(COLLIDING), _built_in_order(COLLIDING[::-1])
    assert list(left) != list(right)
    assert digest(left) == digest(right)
    assert digest(frozenset(left)) == digest(frozenset(right))


def test_set_inside_a_large_list_is_order_free() -> None:
    left = [{"tags": _built_in_order(COLLIDING)}] + [{"i": i} for i in range(MIN_ITEMS)]
    right = [{"tags": _built_in_order(COLLIDING[::-1])}] + [{"i": i} for i in range(MIN_ITEMS)]
    assert digest(left) == digest(right)


def test_shared_object_and_equal_copy_have_the_same_digest() -> None:
    shared = {"a": [1, 2]}
    assert digest([shared, shared]) == digest([{"a": [1, 2]}, {"a": [1, 2]}])


def test_shared_object_in_large_container_has_the_same_digest_as_copies() -> None:
    shared = {"a": [1, 2]}
    assert digest([shared] * 40) == digest([{"a": [1, 2]} for _ in range(40)])


def test_large_and_small_lists_keep_order() -> None:
    assert digest(list(range(40))) != digest(list(reversed(range(40))))
    assert digest([1, 2]) != digest([2, 1])


def test_strings_that_join_alike_differ() -> None:
    assert digest(["a-b", "c"]) != digest(["a", "b-c"])
    assert digest(["ab", "c"] * 10) != digest(["a", "bc"] * 10)


def test_long_string_is_keyed_by_its_value() -> None:
    text = "é" * 300_000 + "x"
    assert digest(text) == digest("".join(["é" * 300_000, "x"]))
    assert digest(text) != digest(text[:-1] + "y")


def test_lone_surrogates_are_keyed() -> None:
    assert digest("\ud800") != digest("\ud801")


# --- objects -------------------------------------------------------------------------


@dataclasses.dataclass
class Point:
    x: int
    y: list[int]


@dataclasses.dataclass
class OtherPoint:
    x: int
    y: list[int]


@attrs.define
class AttrsPoint:
    x: int
    y: int


class Color(enum.Enum):
    RED = 1
    GREEN = 2


class Pair(typing.NamedTuple):
    a: int
    b: int


class Plain:
    def __init__(self, value: Any) -> None:
        self.value = value


def test_dataclasses_are_keyed_by_type_and_fields() -> None:
    assert digest(Point(1, [2])) == digest(Point(1, [2]))
    assert digest(Point(1, [2])) != digest(Point(1, [3]))
    assert digest(Point(1, [2])) != digest(OtherPoint(1, [2]))


def test_attrs_instances_are_keyed_by_type_and_fields() -> None:
    assert digest(AttrsPoint(1, 2)) == digest(AttrsPoint(1, 2))
    assert digest(AttrsPoint(1, 2)) != digest(AttrsPoint(2, 1))


def test_enums_are_keyed_by_type_and_member() -> None:
    assert digest(Color.RED) == digest(Color(1))
    assert digest(Color.RED) != digest(Color.GREEN)
    assert digest(Color.RED) != digest(1)


def test_namedtuple_differs_from_plain_tuple() -> None:
    assert digest(Pair(1, 2)) == digest(Pair(1, 2))
    assert digest(Pair(1, 2)) != digest((1, 2))


def test_plain_objects_are_keyed_by_their_state() -> None:
    assert digest(Plain([1, 2])) == digest(Plain([1, 2]))
    assert digest(Plain([1, 2])) != digest(Plain([1, 3]))


def test_objects_inside_a_large_list_are_keyed_by_value() -> None:
    assert digest([Plain(i) for i in range(40)]) == digest([Plain(i) for i in range(40)])
    assert digest([Plain(i) for i in range(40)]) != digest([Plain(i + 1) for i in range(40)])


def test_object_state_holding_a_set_is_order_free() -> None:
    left, right = _built_in_order(COLLIDING), _built_in_order(COLLIDING[::-1])
    assert digest(Plain(left)) == digest(Plain(right))


class MyDict(dict):  # type: ignore[type-arg]
    pass


class MyStr(str):
    __slots__ = ()


class MySet(set):  # type: ignore[type-arg]
    pass


def test_builtin_subclasses_differ_from_their_base() -> None:
    assert digest(MyDict(a=1)) != digest({"a": 1})
    assert digest(MyStr("x")) != digest("x")


def test_builtin_subclass_state_is_part_of_the_key() -> None:
    left, right = MyDict(a=1), MyDict(a=1)
    right.extra = 2  # type: ignore[attr-defined]
    assert digest(left) != digest(right)


def test_set_subclass_is_order_free() -> None:
    assert digest(MySet(COLLIDING)) == digest(MySet(COLLIDING[::-1]))


def test_ordered_dict_and_defaultdict_are_keyed_by_value() -> None:
    assert digest(collections.OrderedDict(a=1)) == digest(collections.OrderedDict(a=1))
    assert digest(collections.defaultdict(int)) != digest(collections.defaultdict(list))


def test_classes_are_keyed_by_qualified_name() -> None:
    assert digest(Point) == digest(Point)
    assert digest(Point) != digest(OtherPoint)


def module_function(x: int) -> int:
    return x


def other_function(x: int) -> int:
    return x


def make_adder(n: int) -> Any:
    def add(x: int) -> int:
        return x + n

    return add


def test_functions_are_keyed_by_qualified_name() -> None:
    assert digest(module_function) == digest(module_function)
    assert digest(module_function) != digest(other_function)


def test_closures_passed_as_values_differ_by_captured_values() -> None:
    assert digest(make_adder(1)) == digest(make_adder(1))
    assert digest(make_adder(1)) != digest(make_adder(2))


def test_lambdas_with_the_same_name_differ_by_code() -> None:
    first = lambda x: x + 1  # noqa: E731
    second = lambda x: x * 2  # noqa: E731
    assert digest(first) != digest(second)


def _traced(func: Callable[[int], int]) -> Callable[[int], int]:
    @functools.wraps(func)
    def wrapper(x: int) -> int:
        return func(x)

    return wrapper


def test_a_wraps_wrapper_is_keyed_as_itself_not_as_the_function_it_wraps() -> None:
    # The wrapper's code and closure decide what it computes (scale(2)(f) vs scale(3)(f)).
    assert digest(_traced(module_function)) != digest(module_function)
    assert digest(_traced(module_function)) == digest(_traced(module_function))


def test_partials_are_keyed_by_function_and_arguments() -> None:
    assert digest(functools.partial(module_function, 1)) != digest(
        functools.partial(module_function, 2)
    )


def test_builtin_functions_are_keyed_by_name() -> None:
    assert digest(len) == digest(len)
    assert digest(len) != digest(repr)


# --- the user hook ---------------------------------------------------------------------


class Opaque:
    def __init__(self, key: str, cache: object) -> None:
        self.key = key
        self.cache = cache


def test_register_hasher_keys_objects_by_the_reducer_output() -> None:
    register_hasher(Opaque, lambda obj: obj.key)
    assert digest(Opaque("a", [1])) == digest(Opaque("a", [2]))
    assert digest(Opaque("a", None)) != digest(Opaque("b", None))
    assert digest(Opaque("a", None)) != digest("a")


def test_register_hasher_applies_to_subclasses() -> None:
    class SubOpaque(Opaque):
        pass

    register_hasher(Opaque, lambda obj: obj.key)
    assert digest(SubOpaque("a", [1])) == digest(SubOpaque("a", [2]))


def test_register_hasher_refuses_builtin_types() -> None:
    with pytest.raises(ValueError, match="built-in"):
        register_hasher(dict, lambda obj: 1)


def test_explicit_logic_key_on_a_wrapper_changes_its_digest() -> None:
    @functools.wraps(module_function)
    def wrapper(x: int) -> int:
        return module_function(x)

    wrapper.__memokey_logic_key__ = "v2"  # type: ignore[attr-defined]
    assert digest(wrapper) != digest(module_function)


@pytest.mark.parametrize("text", ["ab" * 40_000, "é✓" * 40_000, "x" * 40_000 + "\ud800"])
def test_long_string_digest_is_its_tagged_utf8(text: str) -> None:
    # Long strings are read in place or in chunks; the bytes hashed must not change.
    import struct

    import xxhash

    data = text.encode("utf-8", "surrogatepass")
    expected = xxhash.xxh3_128(b"s" + struct.pack("<Q", len(text)) + data).hexdigest()
    assert digest(text) == expected
