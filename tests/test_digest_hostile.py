"""Whatever user or library code raises while a value is keyed, the caller gets
`UnkeyableArgumentError` naming the argument path (``cfg['x'][3]``), never a raw error
from inside memokey; a malformed ``__reduce_ex__`` is refused with what was wrong."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memokey
import memokey.keys as keys
from memokey.errors import MemokeyError, UnkeyableArgumentError
from memokey.hashing import digest


def run(cfg: Any, n: int = 0) -> None:
    pass


def _refusal(value: object) -> UnkeyableArgumentError:
    bound = keys.bind_call(run, (value,), {})
    with pytest.raises(UnkeyableArgumentError) as info:
        keys.call_digest(run, bound)
    return info.value


class Reduces:
    """An object whose ``__reduce_ex__`` returns `result` (or raises it)."""

    def __init__(self, result: object) -> None:
        self.result = result

    def __reduce_ex__(self, protocol: object) -> Any:
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


@pytest.mark.parametrize(
    "result",
    [42, None, (), (len,), ("not callable", ()), (dict, "not a tuple"), (dict, (), 1, 2, 3, 4, 5)],
    ids=["int", "none", "empty", "one-tuple", "non-callable", "args-not-tuple", "seven"],
)
def test_malformed_reduce_ex_is_refused_with_its_path(result: object) -> None:
    error = _refusal({"x": [0, 1, 2, Reduces(result)]})
    assert error.parameter == "cfg"
    assert error.path == "cfg['x'][3]"
    assert "__reduce_ex__" in str(error)


def test_reduce_ex_that_raises_is_refused_with_its_path() -> None:
    error = _refusal({"x": [0, Reduces(ZeroDivisionError("boom"))]})
    assert error.path == "cfg['x'][1]"
    assert "boom" in str(error)


@dataclasses.dataclass
class WithProperty:
    a: int

    @property
    def b(self) -> int:
        raise RuntimeError("property exploded")


@dataclasses.dataclass
class Broken:
    value: Any


def test_raising_dataclass_field_is_refused_with_its_path() -> None:
    cls = dataclasses.make_dataclass("Bad", [("a", int)])
    cls.a = property(lambda self: 1 / 0)  # type: ignore[attr-defined]
    error = _refusal([Broken(cls.__new__(cls))])
    assert error.path == "cfg[0].value"
    assert isinstance(error, MemokeyError)


class BadLen(list):  # type: ignore[type-arg]
    def __len__(self) -> int:
        raise RuntimeError("len exploded")


def test_broken_len_in_a_list_subclass_is_refused_with_its_path() -> None:
    error = _refusal({"rows": BadLen([1, 2])})
    assert error.path == "cfg['rows']"


class BadGetState:
    def __getstate__(self) -> Any:
        raise OSError("state unavailable")


def test_raising_getstate_is_refused() -> None:
    error = _refusal((1, BadGetState()))
    assert error.path == "cfg[1]"
    with pytest.raises(UnkeyableArgumentError, match="state unavailable"):
        digest(BadGetState())


class Flaky:
    """Fails only the first time it is reduced, as a racy or stateful object might."""

    calls = 0

    def __reduce_ex__(self, protocol: object) -> Any:
        Flaky.calls += 1
        if Flaky.calls == 1:
            raise ValueError("first time only")
        return (Flaky, ())


def test_an_object_that_fails_only_once_still_surfaces_as_unkeyable() -> None:
    Flaky.calls = 0
    error = _refusal([Flaky()])
    assert error.parameter == "cfg"


_HOSTILE_RESULTS = st.one_of(
    st.integers(),
    st.text(max_size=3).map(lambda s: s + "\0"),  # not a usable global name either
    st.tuples(st.integers()),
    st.tuples(st.none(), st.integers()),
    st.tuples(st.just(dict), st.integers()),
    st.sampled_from(
        [ValueError("v"), TypeError("t"), KeyError("k"), RecursionError("r"), MemoryError()]
    ),
)


@settings(max_examples=60, deadline=None)
@given(result=_HOSTILE_RESULTS, depth=st.integers(min_value=0, max_value=4))
def test_hostile_reducers_never_escape_as_raw_errors(result: object, depth: int) -> None:
    value: Any = Reduces(result)
    suffix = ""
    for level in range(depth):  # wrapped from the inside out
        value = [level, value] if level % 2 else {"k": value}
        suffix = ("[1]" if level % 2 else "['k']") + suffix
    path = "cfg" + suffix
    refused: UnkeyableArgumentError | None = None
    try:
        keys.call_digest(run, keys.bind_call(run, (value,), {}))
    except UnkeyableArgumentError as error:
        refused = error
    except MemoryError:
        return  # never swallowed: memory exhaustion is not a property of the value
    if refused is not None:
        assert refused.parameter == "cfg"
        assert refused.path in (path, "cfg")


class _RaisingIter(list):  # type: ignore[type-arg]
    def __iter__(self) -> Any:
        raise LookupError("iteration exploded")


class _RaisingDictState:
    @property
    def __dict__(self) -> Any:  # type: ignore[override]
        raise PermissionError("no state for you")


class _LyingSlots:
    __slots__ = ("a",)

    def __getstate__(self) -> Any:
        return (None, {"a": _RaisingDictState()})


def _hostile_objects() -> list[Any]:
    return [
        _RaisingIter([1]),
        _RaisingDictState(),
        _LyingSlots(),
        Reduces((dict, (), "state", iter([1]))),  # list items that are not a sequence
        Reduces((dict, (), None, None, [1])),  # dict items that are not pairs
        Broken(WithProperty(1)),
    ]


@settings(max_examples=40, deadline=None)
@given(
    index=st.integers(min_value=0, max_value=len(_hostile_objects()) - 1),
    position=st.integers(min_value=0, max_value=30),
)
def test_hostile_objects_anywhere_in_an_argument_are_unkeyable_or_keyed(
    index: int, position: int
) -> None:
    items: list[Any] = list(range(position))
    items.append(_hostile_objects()[index])  # long lists take the C-pickler fast path
    refused: UnkeyableArgumentError | None = None
    try:
        keys.call_digest(run, keys.bind_call(run, ({"x": items},), {}))
    except UnkeyableArgumentError as error:
        refused = error
    if refused is not None:
        assert refused.path.startswith(f"cfg['x'][{position}]")


def test_a_memoized_call_with_a_hostile_argument_raises_unkeyable_and_runs_nothing(
    tmp_path: Path,
) -> None:
    calls: list[object] = []

    @memokey.memoize(root=tmp_path.as_uri())
    def load(cfg: Any) -> int:
        calls.append(cfg)
        return 1

    with pytest.raises(UnkeyableArgumentError) as info:
        load({"source": [Reduces(42)]})
    assert info.value.path == "cfg['source'][0]"
    assert calls == []


def test_the_original_error_is_chained_for_debugging() -> None:
    error = _refusal([BadGetState()])
    assert isinstance(error.__cause__, OSError)
