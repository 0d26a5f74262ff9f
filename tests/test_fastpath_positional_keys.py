"""A call with every parameter given positionally as atoms is keyed without binding
(`memokey.keys.positional_digest`): it must key exactly as the general path does, and
a miss keyed that way still records its arguments."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memokey
from memokey.entry_reader import read_entry_meta
from memokey.keys import bind_call, call_digest, positional_digest
from memokey.runners import MemoizingRunner
from memokey_backends import open_store

RUNS: list[tuple[Any, ...]] = []

atoms = st.one_of(
    st.integers(),  # beyond 64 bits too (not atoms: the general path)
    st.floats(allow_nan=True),
    st.text(max_size=300),  # long and non-ASCII strings are not atoms either
    st.booleans(),
    st.none(),
)


def three(a: Any, b: Any, c: Any = "default") -> tuple[Any, ...]:
    RUNS.append((a, b, c))
    return (a, b, c)


@settings(max_examples=300, deadline=None)
@given(st.tuples(atoms, atoms, atoms))
def test_positional_calls_key_exactly_as_bound_calls(args: tuple[Any, Any, Any]) -> None:
    call_digest(three, bind_call(three, args, {}))  # the general path, as a first call
    fast = positional_digest(three, args)
    expected = call_digest(three, bind_call(three, args, {}))
    if fast is not None:
        assert fast[0] == expected
        assert fast[1]().arguments == bind_call(three, args, {}).arguments


def test_equal_values_of_different_types_never_share_a_key() -> None:
    call_digest(three, bind_call(three, (1, 1, 1), {}))
    digests = {positional_digest(three, (value, 0, 0)) for value in (1, True, 1.0, "1", None, 0.0)}
    assert None not in digests
    assert len({entry[0] for entry in digests if entry is not None}) == 6
    assert positional_digest(three, (-0.0, 0, 0)) != positional_digest(three, (0.0, 0, 0))
    nan = positional_digest(three, (math.nan, 0, 0))
    assert nan is not None
    assert nan[0] == call_digest(three, bind_call(three, (math.nan, 0, 0), {}))


def test_a_positional_hit_is_the_entry_of_the_keyword_call(tmp_path: Path) -> None:
    RUNS.clear()
    f = memokey.memoize(tmp_path.as_uri())(three)
    assert f(1, "x", 2.5) == (1, "x", 2.5)
    assert f(a=1, b="x", c=2.5) == (1, "x", 2.5)
    assert f(1, "x", c=2.5) == (1, "x", 2.5)
    assert f(1, "x", 2.5) == (1, "x", 2.5)
    assert RUNS == [(1, "x", 2.5)]


def test_a_miss_keyed_positionally_records_its_arguments(tmp_path: Path) -> None:
    runner = MemoizingRunner(tmp_path.as_uri())
    runner(three, (7, "y", None), {})
    key = runner.key_for(three, (7, "y", None), {})
    meta = read_entry_meta(open_store(tmp_path.as_uri()), key.path)
    assert meta is not None
    assert "7" in str(meta["arguments"])
    assert "'y'" in str(meta["arguments"])


def test_defaults_rebound_after_warm_positional_hits_rekey_calls_that_use_them(
    tmp_path: Path,
) -> None:
    RUNS.clear()
    f = memokey.memoize(tmp_path.as_uri())(three)
    for _ in range(20):
        f(1, 2, 3)
        f(1, 2)
    three.__defaults__ = ("other",)
    try:
        assert f(1, 2) == (1, 2, "other")
        assert f(1, 2, 3) == (1, 2, 3)  # every parameter given: the same key as before
    finally:
        three.__defaults__ = ("default",)
    assert RUNS == [(1, 2, 3), (1, 2, "default"), (1, 2, "other")]


def test_a_keyfunc_runner_never_takes_the_positional_path(tmp_path: Path) -> None:
    RUNS.clear()
    runner = memokey.KeyedLocalRunner(tmp_path.as_uri(), keyfunc=memokey.nil_args("a"))
    runner(three, (1, 2, 3), {})
    runner(three, (99, 2, 3), {})  # a is not in the key: a hit
    assert RUNS == [(1, 2, 3)]


@pytest.mark.parametrize("value", [[1], {"k": 1}, b"bytes", 2**70, "é" * 3])
def test_non_atoms_take_the_general_path_and_still_hit(tmp_path: Path, value: Any) -> None:
    RUNS.clear()
    f = memokey.memoize(tmp_path.as_uri())(three)
    f(value, 0, 0)
    f(value, 0, 0)
    assert len(RUNS) == 1
