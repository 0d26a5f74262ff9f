"""memoize / use_runner / key_for: the shapes users write and what the wrapper exposes."""

from __future__ import annotations

import inspect
from collections import Counter
from pathlib import Path

import pytest

import memokey
from helpers.core import memory_root
from memokey import MemoizingRunner, memoize, use_runner
from memokey.roots import ENV_VAR

RUNS: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    RUNS.clear()
    monkeypatch.setenv(ENV_VAR, memory_root())


def test_bare_decorator_memoizes_into_the_default_root() -> None:
    @memoize
    def add(a: int, b: int = 1) -> int:
        RUNS["add"] += 1
        return a + b

    assert add(1, 2) == add(1, b=2) == 3
    assert RUNS["add"] == 1
    assert isinstance(add.runner, MemoizingRunner)
    assert add.runner.root is None


def test_root_may_be_given_positionally(tmp_path: Path) -> None:
    @memoize(f"file://{tmp_path}")
    def one() -> int:
        return 1

    assert one.runner.root == f"file://{tmp_path}"
    one()
    assert (tmp_path / "memokey-v2").is_dir()


def test_root_may_be_given_by_keyword(tmp_path: Path) -> None:
    @memoize(root=tmp_path, namespace="exp")
    def one() -> int:
        return 1

    one()
    assert (tmp_path / "memokey-v2" / "exp").is_dir()


def test_root_given_twice_is_refused() -> None:
    with pytest.raises(TypeError, match="once"):
        memoize("memory://a", root="memory://b")  # type: ignore[call-overload]


def test_wrapper_keeps_name_doc_and_signature() -> None:
    def area(width: float, height: float = 1.0) -> float:
        """Area of a rectangle."""
        return width * height

    wrapped = memoize(area)
    assert wrapped.__name__ == "area"
    assert wrapped.__doc__ == "Area of a rectangle."
    assert inspect.signature(wrapped) == inspect.signature(area)
    assert wrapped.__wrapped__ is area


def test_wrapper_key_for_matches_memokey_key_for() -> None:
    @memoize(namespace="k")
    def f(x: int) -> int:
        return x

    key = f.key_for(3)
    assert key == memokey.key_for(f, x=3)
    assert key.namespace == "k"
    assert key.uri.endswith(f"/memokey-v2/k/{key.function_id}={key.code_version}/{key.digest}")
    assert len(key.digest) == 32


def test_key_for_a_plain_function_uses_the_default_runner() -> None:
    def plain(x: int) -> int:
        return x

    assert memokey.key_for(plain, 1) == memoize(plain).key_for(1)


def test_key_for_computes_nothing() -> None:
    @memoize
    def f(x: int) -> int:
        RUNS["f"] += 1
        return x

    f.key_for(1)
    assert RUNS["f"] == 0


def test_logic_key_from_the_decorator_rekeys() -> None:
    def f(x: int) -> int:
        return x

    assert memoize(f).key_for(1) != memoize(logic_key="v2")(f).key_for(1)


def test_docstring_logic_key_line_rekeys() -> None:
    def f(x: int) -> int:
        """Doubles.

        function-logic-key: v3
        """
        return 2 * x

    key = memoize(f).key_for(1)
    assert key.logic_key == "v3"
    assert f"/{key.function_id}@v3=" in key.uri  # a nested function: always fingerprinted


def test_old_entries_stay_when_the_logic_key_changes() -> None:
    def f(x: int) -> int:
        RUNS["f"] += 1
        return x

    memoize(f)(1)
    memoize(logic_key="v2")(f)(1)
    memoize(f)(1)
    assert RUNS["f"] == 2


def test_malformed_logic_key_fails_at_decoration_time() -> None:
    def f(x: int) -> int:
        return x

    with pytest.raises(ValueError, match="logic key"):
        memoize(logic_key="no/slashes")(f)


def test_use_runner_memoizes_through_the_given_runner() -> None:
    runner = MemoizingRunner(memory_root(), namespace="via-runner")

    @use_runner(runner)
    def f(x: int) -> int:
        return x

    assert f.runner is runner
    assert f.key_for(1).namespace == "via-runner"


def test_use_runner_refuses_something_that_is_not_a_runner() -> None:
    with pytest.raises(TypeError, match="MemoizingRunner"):
        use_runner(lambda f, a, k: None)  # type: ignore[arg-type]


def test_memoizing_twice_is_refused() -> None:
    @memoize
    def f() -> int:
        return 1

    with pytest.raises(TypeError, match="already memoized"):
        memoize(f)


def test_generator_functions_are_refused_with_advice() -> None:
    def gen() -> object:
        yield 1

    with pytest.raises(TypeError, match="returns a list"):
        memoize(gen)


def test_methods_bind_self_like_plain_functions() -> None:
    class Scaler:
        def __init__(self, k: int) -> None:
            self.k = k

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Scaler) and other.k == self.k

        def __hash__(self) -> int:
            return self.k

        @memoize
        def scale(self, x: int) -> int:
            RUNS["scale"] += 1
            return self.k * x

    assert Scaler(2).scale(5) == 10
    assert Scaler(2).scale(5) == 10
    assert Scaler(3).scale(5) == 15
    assert RUNS["scale"] == 2


def test_call_that_does_not_bind_raises_type_error_like_the_function() -> None:
    @memoize
    def f(x: int) -> int:
        RUNS["f"] += 1
        return x

    with pytest.raises(TypeError):
        f(1, 2)  # type: ignore[call-arg]
    assert RUNS["f"] == 0


def test_with_root_beats_the_decorators_root(tmp_path: Path) -> None:
    @memoize(memory_root())
    def f(x: int) -> int:
        return x

    with memokey.root(f"file://{tmp_path}"):
        f(1)
    assert (tmp_path / "memokey-v2").is_dir()
