"""By reference only when the reference round-trips (pickle's rule): a class or function
used as a value is keyed by ``module:qualname`` only when that name leads back to the
very same object; otherwise by its content."""

from __future__ import annotations

import dataclasses
import enum
import functools
import threading
from collections import namedtuple
from collections.abc import Callable
from pathlib import Path
from typing import Any

import memokey
from helpers.modules import ModuleWriter
from memokey.identity import round_trips


class Named:
    pass


def named_function(x: int) -> int:
    return x


def test_round_trips_follows_pickles_rule() -> None:
    assert round_trips(Named)
    assert round_trips(named_function)
    assert not round_trips(type("Named", (), {"__module__": __name__}))
    assert not round_trips(lambda: 0)


def test_namedtuple_classes_made_by_a_factory_with_equal_values_differ() -> None:
    a = namedtuple("Row", ["x", "y"])
    b = namedtuple("Row", ["y", "x"])
    assert memokey.digest(a(1, 2)) != memokey.digest(b(1, 2))


def test_functional_enums_with_the_same_name_differ() -> None:
    first = enum.Enum("Mode", ["FAST", "SLOW"])
    second = enum.Enum("Mode", ["SLOW", "FAST"])
    assert first.FAST.value == second.SLOW.value
    assert memokey.digest(first.FAST) != memokey.digest(second.SLOW)


def test_classes_made_with_type_differ_by_body() -> None:
    first = type("Config", (), {"scale": 1, "__module__": __name__})
    second = type("Config", (), {"scale": 2, "__module__": __name__})
    assert memokey.digest(first()) != memokey.digest(second())


def test_make_dataclass_classes_with_the_same_name_differ() -> None:
    first = dataclasses.make_dataclass("Point", [("x", int, dataclasses.field(default=1))])
    second = dataclasses.make_dataclass("Point", [("x", int, dataclasses.field(default=2))])
    assert memokey.digest(first(5)) != memokey.digest(second(5))  # equal fields, other class


def test_classes_built_in_a_loop_at_module_level_differ(modules: ModuleWriter) -> None:
    module = modules.write(
        "loop",
        """
import dataclasses

MADE = []
for factor in (1, 2):

    @dataclasses.dataclass
    class Scaled:
        value: int

        def scaled(self, factor=factor):
            return self.value * factor

    MADE.append(Scaled)
""",
    )
    first, second = module.MADE
    assert first(3).scaled() != second(3).scaled()
    assert memokey.digest(first(3)) != memokey.digest(second(3))


def scale(factor: int) -> Callable[[Callable[[int], int]], Callable[[int], int]]:
    def decorate(func: Callable[[int], int]) -> Callable[[int], int]:
        lock = threading.Lock()  # live state a decorator keeps: keyed by its type

        @functools.wraps(func)
        def wrapper(x: int) -> int:
            with lock:
                return func(x) * factor

        return wrapper

    return decorate


def apply(func: Callable[[int], int], x: int) -> int:
    return func(x)


def test_wraps_wrappers_with_different_configuration_never_share_results(
    tmp_path: Path,
) -> None:
    memo_apply = memokey.memoize((tmp_path / "memo").as_uri())(apply)
    assert memo_apply(scale(2)(named_function), 5) == 10
    assert memo_apply(scale(3)(named_function), 5) == 15


def test_editing_a_first_party_function_passed_as_an_argument_rekeys(
    modules: ModuleWriter, tmp_path: Path
) -> None:
    memo_apply = memokey.memoize((tmp_path / "memo").as_uri())(apply)
    helper = modules.write("helper", "def step(x):\n    return x + 1\n")
    assert memo_apply(helper.step, 1) == 2
    helper = modules.write("helper", "def step(x):\n    return x + 100\n")
    assert memo_apply(helper.step, 1) == 101


def test_a_memoized_function_passed_as_an_argument_is_keyed_by_what_it_wraps(
    tmp_path: Path,
) -> None:
    root = (tmp_path / "memo").as_uri()
    v1: Any = memokey.memoize(root, logic_key="v1")(named_function)
    v2: Any = memokey.memoize(root, logic_key="v2")(named_function)
    assert memokey.digest(v1) != memokey.digest(v2)
    assert memokey.digest(v1) == memokey.digest(
        memokey.memoize(root, logic_key="v1")(named_function)
    )


def test_a_factory_class_reassigned_an_attribute_is_keyed_by_its_new_body() -> None:
    made = type("Config", (), {"scale": 1, "__module__": __name__})
    before = memokey.digest(made())
    made.scale = 2  # type: ignore[attr-defined]
    assert memokey.digest(made()) != before
    made.scale = 1  # type: ignore[attr-defined]
    assert memokey.digest(made()) == before


def test_a_factory_class_key_does_not_depend_on_what_was_keyed_before() -> None:
    def fresh() -> tuple[type, type]:
        inner = type("Inner", (), {"__module__": __name__})
        outer = type("Outer", (), {"__module__": __name__, "inner": inner})
        return inner, outer

    inner_a, outer_a = fresh()
    first = (memokey.digest(inner_a()), memokey.digest(outer_a()))
    inner_b, outer_b = fresh()
    second = tuple(reversed((memokey.digest(outer_b()), memokey.digest(inner_b()))))
    assert first == second
