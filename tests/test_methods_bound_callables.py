"""Callables that carry their own ``self`` (bound methods, methods of built-in objects) and
built-ins without a signature: memoized directly or keyed with `memokey.key_for`, the
object a method is bound to is part of the key, as if it were an argument named ``self``."""

from __future__ import annotations

import asyncio
import inspect
import threading
import types
from collections import Counter

import pytest

import memokey
from helpers.core import memory_root
from memokey import KeyedLocalRunner, MemoizingRunner, memoize, nil_args, use_runner
from memokey.roots import ENV_VAR

RUNS: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    RUNS.clear()
    monkeypatch.setenv(ENV_VAR, memory_root())


class Scale:
    def __init__(self, k: int) -> None:
        self.k = k

    def apply(self, x: int) -> int:
        RUNS["apply"] += 1
        return self.k * x


def test_bound_methods_memoized_directly_never_share_results() -> None:
    by_two = memoize(Scale(2).apply)
    by_three = memoize(Scale(3).apply)
    assert by_two(5) == 10
    assert by_three(5) == 15
    assert by_two(5) == 10
    assert RUNS["apply"] == 2


def test_methods_of_builtin_objects_memoized_directly_never_share_results() -> None:
    upper_abc = memoize("abc".upper)
    upper_xyz = memoize("xyz".upper)
    assert upper_abc() == "ABC"
    assert upper_xyz() == "XYZ"
    assert upper_abc.key_for() != upper_xyz.key_for()
    assert memoize("abc".upper).key_for() == upper_abc.key_for()


def test_key_for_of_a_plain_bound_method_keys_self() -> None:
    assert memokey.key_for(Scale(2).apply, 5) != memokey.key_for(Scale(3).apply, 5)
    assert memokey.key_for(Scale(2).apply, 5) == memokey.key_for(Scale(2).apply, x=5)
    assert memokey.key_for("abc".upper) != memokey.key_for("xyz".upper)


def test_a_runner_called_with_a_bound_method_keys_self() -> None:
    runner = MemoizingRunner(memory_root())
    assert runner(Scale(2).apply, (5,), {}) == 10
    assert runner(Scale(3).apply, (5,), {}) == 15
    assert runner(Scale(2).apply, (), {"x": 5}) == 10
    assert RUNS["apply"] == 2


def test_a_memoized_bound_method_is_keyed_like_the_memoized_method() -> None:
    class Doubler:
        @memoize
        def run(self, x: int) -> int:
            return 2 * x

    doubler = Doubler.__new__(Doubler)
    assert memoize(Doubler.run.__wrapped__.__get__(doubler)).key_for(3).digest == (
        doubler.run.key_for(3).digest
    )


def test_a_bound_method_memoized_as_a_class_attribute_does_not_bind_again() -> None:
    class Holder:
        scaled = memoize(Scale(4).apply)

    assert Holder().scaled(2) == 8
    assert Holder.scaled(2) == 8


def test_keyfunc_runner_over_a_bound_method_keys_self() -> None:
    class Source:
        def __init__(self, k: int) -> None:
            self.k = k

        def read(self, conn: object, x: int) -> int:
            RUNS["read"] += 1
            return self.k + x

    runner = KeyedLocalRunner(memory_root(), keyfunc=nil_args("conn"))
    one, two = use_runner(runner)(Source(1).read), use_runner(runner)(Source(2).read)
    assert one(threading.Lock(), 1) == 2
    assert two(threading.Lock(), 1) == 3
    assert one(threading.Lock(), 1) == 2
    assert RUNS["read"] == 2


def test_a_builtin_without_a_signature_is_keyed_by_its_raw_arguments() -> None:
    biggest = memoize(max)
    assert biggest(1, 5, 3) == 5
    assert biggest([2, 7]) == 7
    assert biggest([], default=-1) == -1
    assert biggest.key_for(1, 5, 3) != biggest.key_for(1, 3, 5)
    assert biggest.key_for([], default=-1) != biggest.key_for([], default=-2)
    assert memokey.key_for(max, 1, 2) == biggest.key_for(1, 2)


def test_a_builtin_without_a_signature_raises_its_own_error_for_a_bad_call() -> None:
    biggest = memoize(max)
    with pytest.raises(TypeError) as info:
        biggest()
    assert not isinstance(info.value, memokey.MemokeyError)


class Multiplier:
    """A callable object: what it computes depends on its state."""

    def __init__(self, k: int) -> None:
        self.k = k

    def __call__(self, x: int) -> int:
        RUNS["multiplier"] += 1
        return self.k * x


def test_callable_objects_memoized_directly_key_their_state() -> None:
    by_two, by_three = memoize(Multiplier(2)), memoize(Multiplier(3))
    assert by_two(5) == 10
    assert by_three(5) == 15
    assert by_two(x=5) == 10
    assert RUNS["multiplier"] == 2
    assert memokey.key_for(Multiplier(2), 5) == by_two.key_for(5)
    assert by_two.key_for(5).function_id.endswith("Multiplier.__call__")


def test_methods_of_builtin_classes_bound_to_a_subclass_key_the_subclass() -> None:
    class Table(dict):  # type: ignore[type-arg]
        pass

    assert memokey.key_for(dict.fromkeys, "ab") != memokey.key_for(Table.fromkeys, "ab")
    assert memoize(Table.fromkeys)("ab") == {"a": None, "b": None}


def test_nil_args_on_a_builtin_without_a_signature_is_refused_with_advice() -> None:
    runner = KeyedLocalRunner(memory_root(), keyfunc=nil_args("default"))
    with pytest.raises(memokey.KeyfuncError, match="def"):
        use_runner(runner)(max)


class Base:
    @classmethod
    @memoize
    def make(cls, n: int) -> tuple[str, int]:
        return cls.__name__, n


class Derived(Base):
    pass


def test_a_method_of_a_memoized_class_method_wrapper_keys_the_class() -> None:
    # Python >= 3.13 binds ``@classmethod`` above ``@memoize`` as a plain method of the
    # wrapper (no descriptor chaining); memokey.key_for and calls still key the class.
    bound = types.MethodType(vars(Base)["make"].__func__, Derived)
    assert memokey.key_for(bound, 1) == Derived.make.key_for(1)
    assert memokey.key_for(bound, 1) != Base.make.key_for(1)
    assert bound(1) == ("Derived", 1)


class AsyncMultiplier:
    def __init__(self, k: int) -> None:
        self.k = k

    async def __call__(self, x: int) -> int:
        RUNS["async multiplier"] += 1
        return self.k * x


def test_async_callable_objects_and_bound_async_methods_memoize_their_results() -> None:
    by_two = memoize(AsyncMultiplier(2))
    bound = memoize(AsyncMultiplier(3).__call__)

    async def main() -> list[int]:
        return [await by_two(5), await by_two(5), await bound(5), await bound(5)]

    assert asyncio.run(main()) == [10, 10, 15, 15]
    assert RUNS["async multiplier"] == 2
    assert repr(by_two).startswith("<memoized")
    assert inspect.iscoroutinefunction(by_two)
