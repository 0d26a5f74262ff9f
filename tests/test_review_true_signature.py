"""Outside review of binding by a function's own code: a plain function reached through a
C wrapper's ``__wrapped__`` (``functools.lru_cache``, ``functools.cache``) receives the
call as given, so it too is bound by its own code, never by a ``__signature__`` it
carries."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import memokey
from memokey.keys import bind_call

_P = inspect.Parameter
_REORDERED = inspect.Signature(
    [_P("b", _P.POSITIONAL_OR_KEYWORD), _P("a", _P.POSITIONAL_OR_KEYWORD)]
)

#: What the functions below really computed (a global: a closure cell would be keyed).
RUNS: list[Any] = []


@pytest.fixture(autouse=True)
def _fresh_runs() -> None:
    RUNS.clear()


def _lying_pair() -> Callable[..., Any]:
    def f(a: Any, b: Any) -> tuple[str, Any, str, Any]:
        RUNS.append((a, b))
        return ("a", a, "b", b)

    f.__signature__ = _REORDERED  # type: ignore[attr-defined]
    return f


_C_WRAPPERS: dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]] = {
    "lru_cache": functools.lru_cache(maxsize=None),
    "cache": functools.cache,
}


@pytest.mark.parametrize("wrapper", sorted(_C_WRAPPERS))
def test_a_cached_function_with_a_lying_signature_never_serves_another_call(
    tmp_path: Path, wrapper: str
) -> None:
    memo = memokey.memoize(tmp_path.as_uri())(_C_WRAPPERS[wrapper](_lying_pair()))
    assert memo(1, 2) == ("a", 1, "b", 2)
    assert memo(b=1, a=2) == ("a", 2, "b", 1)  # really a=2, b=1: another call
    assert RUNS == [(1, 2), (2, 1)]


def test_a_lie_set_on_a_cached_function_after_warm_calls_binds_as_a_fresh_wrapper() -> None:
    def f(a: Any, b: Any) -> tuple[Any, Any]:
        return (a, b)

    cached = functools.lru_cache(maxsize=None)(f)
    for _ in range(3):
        assert bind_call(cached, (1, 2), {}).arguments == {"a": 1, "b": 2}
    f.__signature__ = _REORDERED  # type: ignore[attr-defined]
    fresh = functools.lru_cache(maxsize=None)(f)  # as another process would see it
    for func in (cached, fresh):
        assert bind_call(func, (1, 2), {}).arguments == {"a": 1, "b": 2}
        assert bind_call(func, (), {"b": 1, "a": 2}).arguments == {"a": 2, "b": 1}


def test_defaults_longer_than_the_parameters_bind_as_python_binds_them(tmp_path: Path) -> None:
    # Python gives the *last* defaults to the parameters (f() is f(2, 3));
    # inspect.signature gives the first ones to the last parameters (b=1), so f(5) and
    # f(5, 1) would share a key while computing (5, 3) and (5, 1).
    def f(a: Any, b: Any) -> tuple[Any, Any]:
        RUNS.append((a, b))
        return (a, b)

    f.__defaults__ = (1, 2, 3)
    memo = memokey.memoize(tmp_path.as_uri())(f)
    assert memo(5) == (5, 3)
    assert memo(5, 1) == (5, 1)
    assert memo() == (2, 3)
    assert memo(2, 3) == (2, 3)  # the same call as memo(): a hit
    assert RUNS == [(5, 3), (5, 1), (2, 3)]


class Pair:
    """A class whose ``__init__`` carries a reordered ``__signature__``: a memoized call
    of the class receives its arguments in the real order."""

    def __init__(self, a: Any, b: Any) -> None:
        RUNS.append((a, b))
        self.value = ("a", a, "b", b)


Pair.__init__.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [_P("self", _P.POSITIONAL_OR_KEYWORD), *_REORDERED.parameters.values()]
)


def test_a_class_whose_init_lies_about_its_signature_binds_by_its_real_parameters(
    tmp_path: Path,
) -> None:
    memo = memokey.memoize(tmp_path.as_uri())(Pair)
    assert memo(1, 2).value == ("a", 1, "b", 2)
    assert memo(b=1, a=2).value == ("a", 2, "b", 1)  # really a=2, b=1: another call
    assert memo(2, 1).value == ("a", 2, "b", 1)  # that call again: a hit
    assert RUNS == [(1, 2), (2, 1)]


class Scaled:
    """A memoized class whose ``__init__`` (or its defaults) a test replaces while warm."""

    def __init__(self, a: Any, b: Any = 1) -> None:
        RUNS.append((a, b))
        self.value = (a, b)


def _init_with_another_default(self: Scaled, a: Any, b: Any = 2) -> None:
    RUNS.append((a, b))
    self.value = (a, b)


def _replace_init(cls: type[Scaled]) -> None:
    cls.__init__ = _init_with_another_default  # type: ignore[method-assign]


def _reassign_defaults(cls: type[Scaled]) -> None:
    cls.__init__.__defaults__ = (2,)


_INIT_CHANGES = {"__init__": _replace_init, "__defaults__": _reassign_defaults}


@pytest.mark.parametrize("change", sorted(_INIT_CHANGES))
def test_a_class_binds_by_its_init_as_it_is_now_not_as_it_was_at_the_first_call(
    tmp_path: Path, change: str
) -> None:
    # A fresh process binds Scaled(5) as Scaled(5, 2) after the change; a warm one must
    # too, or Scaled(5) is served the result of Scaled(5, 1).
    memo = memokey.memoize(tmp_path.as_uri())(Scaled)
    original = Scaled.__dict__["__init__"]
    try:
        assert memo(5).value == (5, 1)
        _INIT_CHANGES[change](Scaled)
        assert memo(5).value == (5, 2)
        assert memo(5, 1).value == (5, 1)  # the first call again: a hit
    finally:
        Scaled.__init__ = original  # type: ignore[method-assign]
        original.__defaults__ = (1,)
    assert RUNS == [(5, 1), (5, 2)]
