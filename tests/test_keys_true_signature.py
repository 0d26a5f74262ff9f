"""A call is keyed by the parameters the function really receives, never by what its
``__signature__`` or ``__wrapped__`` claims: a plain function binds by its own code,
defaults and keyword defaults. A signature that lies (reordered, renamed, other defaults),
set before or after the first calls, in one process or several, never makes two different
calls share a key."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import memokey
from helpers.core import script_runner
from memokey.keys import bind_call
from memokey.signatures import true_signature

_P = inspect.Parameter
_REORDERED = inspect.Signature(
    [_P("b", _P.POSITIONAL_OR_KEYWORD), _P("a", _P.POSITIONAL_OR_KEYWORD)]
)


#: What the functions below really computed (a global: a closure cell would be keyed).
RUNS: list[Any] = []


@pytest.fixture(autouse=True)
def _fresh_runs() -> None:
    RUNS.clear()


def _pair() -> Callable[..., Any]:
    """A fresh ``f(a, b)`` (each test installs its own lies on it)."""

    def f(a: Any, b: Any) -> tuple[str, Any, str, Any]:
        RUNS.append((a, b))
        return ("a", a, "b", b)

    return f


def _reordered_by_wrapped(f: Callable[..., Any]) -> None:
    def g(b: Any, a: Any) -> None:  # what __wrapped__ claims f is
        raise AssertionError("never called")

    f.__wrapped__ = g  # type: ignore[attr-defined]


def _reordered_by_signature(f: Callable[..., Any]) -> None:
    f.__signature__ = _REORDERED  # type: ignore[attr-defined]


_LIES = {"__signature__": _reordered_by_signature, "__wrapped__": _reordered_by_wrapped}


@pytest.mark.parametrize("lie", sorted(_LIES))
def test_a_reordered_signature_never_serves_one_call_the_result_of_another(
    tmp_path: Path, lie: str
) -> None:
    f = _pair()
    _LIES[lie](f)
    memo = memokey.memoize(tmp_path.as_uri())(f)
    assert memo(1, 2) == ("a", 1, "b", 2)
    assert memo(b=1, a=2) == ("a", 2, "b", 1)  # really a=2, b=1: another call
    assert memo(2, 1) == ("a", 2, "b", 1)  # that call again: a hit
    assert memo(a=1, b=2) == ("a", 1, "b", 2)  # the first call again: a hit
    assert RUNS == [(1, 2), (2, 1)]


@pytest.mark.parametrize("lie", sorted(_LIES))
def test_a_lie_installed_after_warm_calls_changes_no_binding(tmp_path: Path, lie: str) -> None:
    f = _pair()
    memo = memokey.memoize(tmp_path.as_uri())(f)
    for _ in range(3):
        assert memo(1, 2) == ("a", 1, "b", 2)  # the binding plan is warm
    _LIES[lie](f)
    assert memo(1, 2) == ("a", 1, "b", 2)
    assert memo(b=1, a=2) == ("a", 2, "b", 1)
    assert memo(a=1, b=2) == ("a", 1, "b", 2)
    assert RUNS == [(1, 2), (2, 1)]


@pytest.mark.parametrize("lie", sorted(_LIES))
def test_a_lie_removed_after_warm_calls_changes_no_binding(tmp_path: Path, lie: str) -> None:
    f = _pair()
    _LIES[lie](f)
    memo = memokey.memoize(tmp_path.as_uri())(f)
    for _ in range(3):
        assert memo(1, 2) == ("a", 1, "b", 2)
    delattr(f, lie)
    assert memo(a=2, b=1) == ("a", 2, "b", 1)
    assert memo(2, 1) == ("a", 2, "b", 1)
    assert memo(a=1, b=2) == ("a", 1, "b", 2)
    assert RUNS == [(1, 2), (2, 1)]


def test_a_lie_reassigned_to_another_lie_changes_no_binding(tmp_path: Path) -> None:
    f = _pair()
    f.__signature__ = inspect.signature(lambda a, b: None)  # type: ignore[attr-defined]
    memo = memokey.memoize(tmp_path.as_uri())(f)
    for _ in range(3):
        assert memo(1, 2) == ("a", 1, "b", 2)
    f.__signature__ = _REORDERED  # type: ignore[attr-defined]
    assert memo(b=1, a=2) == ("a", 2, "b", 1)
    assert memo(1, 2) == ("a", 1, "b", 2)
    assert RUNS == [(1, 2), (2, 1)]


def test_renamed_parameters_bind_by_their_real_names(tmp_path: Path) -> None:
    f = _pair()
    f.__signature__ = inspect.signature(lambda x, y: None)  # type: ignore[attr-defined]
    memo = memokey.memoize(tmp_path.as_uri())(f)
    assert memo(1, 2) == ("a", 1, "b", 2)
    assert memo(a=1, b=2) == ("a", 1, "b", 2)  # the real names: the same call, a hit
    assert memo.key_for(a=1, b=2) == memo.key_for(1, 2)
    with pytest.raises(TypeError):  # as calling f(x=1, y=2) would
        memo(x=1, y=2)
    assert RUNS == [(1, 2)]


def test_a_signature_that_lies_about_a_default_never_serves_the_explicit_call(
    tmp_path: Path,
) -> None:
    def f(a: Any, b: Any = 2) -> tuple[Any, Any]:
        RUNS.append((a, b))
        return (a, b)

    f.__signature__ = inspect.signature(lambda a, b=5: None)  # type: ignore[attr-defined]
    memo = memokey.memoize(tmp_path.as_uri())(f)
    assert memo(1) == (1, 2)  # computed with the real default
    assert memo(1, 5) == (1, 5)  # not f(1)'s entry
    assert memo(1, 2) == (1, 2)  # f(1) again
    assert RUNS == [(1, 2), (1, 5)]


def test_a_keyword_only_default_is_read_from_the_function_not_its_signature(
    tmp_path: Path,
) -> None:
    def f(a: Any, *, k: Any = "real") -> tuple[Any, Any]:
        return (a, k)

    f.__signature__ = inspect.signature(  # type: ignore[attr-defined]
        lambda a, *, k="claimed": None
    )
    memo = memokey.memoize(tmp_path.as_uri())(f)
    assert memo(1) == (1, "real")
    assert memo(1, k="claimed") == (1, "claimed")
    assert memo(1, k="real") == (1, "real")


# --- wrappers made with functools.wraps --------------------------------------------------


def _inner(a: Any, b: Any = 2) -> tuple[Any, Any]:
    return (a, b)


def test_a_forwarding_wraps_wrapper_keeps_working_and_hits_the_same_call(tmp_path: Path) -> None:
    @functools.wraps(_inner)
    def wrapper(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        RUNS.append((args, kwargs))
        return _inner(*args, **kwargs)

    memo = memokey.memoize(tmp_path.as_uri())(wrapper)
    assert memo(1, 2) == (1, 2)
    assert memo(1, 2) == (1, 2)  # a hit
    assert memo(a=1) == (1, 2)  # another call as the wrapper receives it: computed
    assert memo(a=1) == (1, 2)  # a hit
    assert RUNS == [((1, 2), {}), ((), {"a": 1})]
    assert inspect.signature(memo) == inspect.signature(_inner)  # what users still see


def test_a_wraps_wrapper_is_keyed_by_the_arguments_it_receives(tmp_path: Path) -> None:
    @functools.wraps(_inner)
    def flipped(*args: Any, **kwargs: Any) -> tuple[Any, Any]:
        return _inner(*reversed(args), **kwargs)

    memo = memokey.memoize(tmp_path.as_uri())(flipped)
    assert memo(a=1, b=2) == (1, 2)
    assert memo(1, 2) == (2, 1)  # binds like a=1, b=2 for _inner, but is another call
    assert memo(b=2, a=1) == (1, 2)  # keyword order is keyed: computed again, same answer


def test_a_wraps_wrapper_with_its_own_parameters_binds_by_them(tmp_path: Path) -> None:
    @functools.wraps(_inner)
    def scaled(a: Any, b: Any = 10) -> tuple[Any, Any]:  # its own default, not _inner's
        return _inner(a, b)

    memo = memokey.memoize(tmp_path.as_uri())(scaled)
    assert memo(1) == (1, 10)
    assert memo(1, 2) == (1, 2)  # _inner's default would have made this f(1)'s entry


# --- methods ------------------------------------------------------------------------------


class _Pairs:
    def __memokey__(self) -> object:
        return "pairs"

    def pair(self, a: Any, b: Any) -> tuple[str, Any, str, Any]:
        RUNS.append((a, b))
        return ("a", a, "b", b)

    pair.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [_P("self", _P.POSITIONAL_OR_KEYWORD), *_REORDERED.parameters.values()]
    )


def test_a_method_with_a_reordered_signature_binds_by_its_real_parameters(tmp_path: Path) -> None:
    class Pairs(_Pairs):
        pair = memokey.memoize(tmp_path.as_uri())(_Pairs.pair)

    obj = Pairs()
    assert obj.pair(1, 2) == ("a", 1, "b", 2)
    assert obj.pair(b=1, a=2) == ("a", 2, "b", 1)
    assert Pairs.pair(obj, 2, 1) == ("a", 2, "b", 1)  # a hit
    assert obj.pair.key_for(a=1, b=2) == obj.pair.key_for(1, 2)
    assert RUNS == [(1, 2), (2, 1)]


def test_a_bound_method_memoized_directly_binds_by_its_real_parameters(tmp_path: Path) -> None:
    memo = memokey.memoize(tmp_path.as_uri())(_Pairs().pair)
    assert memo(1, 2) == ("a", 1, "b", 2)
    assert memo(b=1, a=2) == ("a", 2, "b", 1)
    assert RUNS == [(1, 2), (2, 1)]


# --- keyfuncs ---------------------------------------------------------------------------


def test_nil_args_finds_the_real_parameter_behind_a_renamed_signature(tmp_path: Path) -> None:
    def q(conn: Any, table: str) -> str:
        RUNS.append(table)
        return table

    q.__signature__ = inspect.signature(lambda c, t: None)  # type: ignore[attr-defined]
    runner = memokey.KeyedLocalRunner(tmp_path.as_uri(), keyfunc=memokey.nil_args("conn"))
    memo = memokey.use_runner(runner)(q)
    assert memo(object(), "t") == "t"  # an unkeyable conn: keyed as None
    assert memo(conn=object(), table="t") == "t"  # a hit
    assert RUNS == ["t"]


def _logged(func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    return wrapper


def test_nil_args_refuses_a_name_a_wraps_wrapper_only_declares_positionally(
    tmp_path: Path,
) -> None:
    # Its own code takes *args: a conn passed positionally could not be found to nil.
    @_logged
    def q(conn: Any, table: str) -> str:
        return table

    runner = memokey.KeyedLocalRunner(tmp_path.as_uri(), keyfunc=memokey.nil_args("conn"))
    with pytest.raises(memokey.KeyfuncError, match="below the other decorator"):
        memokey.use_runner(runner)(q)


def test_nil_args_on_a_wraps_wrapper_nils_a_keyword_only_name(tmp_path: Path) -> None:
    @_logged
    def q(table: str, *, verbose: bool = False) -> str:
        RUNS.append((table, verbose))
        return table

    runner = memokey.KeyedLocalRunner(tmp_path.as_uri(), keyfunc=memokey.nil_args("verbose"))
    memo = memokey.use_runner(runner)(q)
    assert memo("t", verbose=True) == "t"
    assert memo("t", verbose=False) == "t"  # a hit: verbose is keyed as None
    assert RUNS == [("t", True)]


# --- across processes ----------------------------------------------------------------------

_PROCESS = """
import inspect, sys
import memokey
from memokey.keys import bind_call
from memokey.signatures import true_signature

def f(a, b):
    return ("a", a, "b", b, "computed by", sys.argv[2])

P = inspect.Parameter
lie = inspect.Signature([P("b", P.POSITIONAL_OR_KEYWORD), P("a", P.POSITIONAL_OR_KEYWORD)])
memo = memokey.memoize(sys.argv[1], code="off", logic_key="v1")(f)
how = sys.argv[2]
if how.startswith("warm"):  # warm calls first, then the lie
    memo(10, 20)
    memo(10, 20)
f.__signature__ = lie
if how.endswith("positional"):
    print(repr(memo(1, 2)))
else:
    print(repr(memo(b=1, a=2)))
"""


def test_processes_with_a_lying_signature_never_read_each_others_other_calls(
    tmp_path: Path,
) -> None:
    root = (tmp_path / "root").as_uri()
    script = script_runner(_PROCESS, tmp_path, "lie.py")

    def run(how: str) -> str:
        return script(root, how)

    # code="off" with one logic key: every process shares one directory.
    assert run("positional") == repr(("a", 1, "b", 2, "computed by", "positional"))
    assert run("keyword") == repr(("a", 2, "b", 1, "computed by", "keyword"))
    assert run("warm-keyword") == repr(("a", 2, "b", 1, "computed by", "keyword"))
    assert run("warm-positional") == repr(("a", 1, "b", 2, "computed by", "positional"))


# --- keys that must not move ------------------------------------------------------------


def _shapes() -> list[Callable[..., Any]]:
    k = 3

    def closure(a: Any, b: Any = k) -> Any:
        return a, b, k

    def every_kind(p: Any, /, q: Any = 1, *rest: Any, kw: Any, kd: Any = 2, **more: Any) -> None:
        pass

    def varargs_only(*args: Any, **kwargs: Any) -> None:
        pass

    def kw_only(*, a: Any, b: Any = None) -> None:
        pass

    return [closure, every_kind, varargs_only, kw_only, _inner, lambda: None]


@pytest.mark.parametrize("func", _shapes(), ids=lambda f: f.__name__)
def test_an_honest_function_binds_exactly_as_inspect_signature_says(
    func: Callable[..., Any],
) -> None:
    # Keys of functions that claim nothing beyond their code do not move.
    declared = inspect.signature(func)
    real = true_signature(func)
    assert [(p.name, p.kind, p.default) for p in real.parameters.values()] == [
        (p.name, p.kind, p.default) for p in declared.parameters.values()
    ]


def test_a_method_binds_its_object_as_its_first_parameter_whatever_it_claims() -> None:
    method = _Pairs().pair
    assert list(true_signature(method).parameters) == ["a", "b"]
    assert list(inspect.signature(method).parameters) == ["b", "a"]  # the claim


def test_a_wrapper_object_binds_by_what_it_declares_now_not_what_it_declared_first() -> None:
    # A C wrapper (lru_cache) shows only its declaration; a warm plan must follow it, as
    # a fresh process would (no process history in a key).
    def f(a: Any, b: Any) -> tuple[Any, Any]:
        return (a, b)

    def claimed(b: Any, a: Any) -> None:
        raise AssertionError("never called")

    cached = functools.lru_cache(maxsize=None)(f)
    for _ in range(3):
        assert bind_call(cached, (1, 2), {}).arguments == {"a": 1, "b": 2}
    cached.__wrapped__ = claimed  # type: ignore[attr-defined]
    assert bind_call(cached, (1, 2), {}).arguments == {"b": 1, "a": 2}
    cached.__signature__ = inspect.signature(f)  # type: ignore[attr-defined]
    assert bind_call(cached, (1, 2), {}).arguments == {"a": 1, "b": 2}
