"""Call keys: function ids, logic keys, binding with defaults, call digests, memo paths."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import memokey.keys as keys


def f(x: int, y: int = 2) -> int:
    return x + y


def g(x: int, y: int = 2) -> int:
    return x + y


def variadic(a: int, *args: int, b: int = 0, **kwargs: int) -> None:
    pass


def positional_only(a: int, /, b: int = 1) -> None:
    pass


def _key(func: Any, *args: Any, **kwargs: Any) -> str:
    return keys.call_digest(func, keys.bind_call(func, args, kwargs))


def test_positional_keyword_and_default_calls_share_a_key() -> None:
    assert _key(f, 1) == _key(f, x=1) == _key(f, 1, 2) == _key(f, 1, y=2) == _key(f, y=2, x=1)


def test_different_argument_values_give_different_keys() -> None:
    assert _key(f, 1) != _key(f, 1, 3)
    assert _key(f, 1) != _key(f, 1.0)


def test_star_args_and_kwargs_keep_their_own_slots() -> None:
    assert _key(variadic, 1, 2) != _key(variadic, 1, b=2)
    assert _key(variadic, 1, 2) != _key(variadic, 1, z=2)
    assert _key(variadic, 1, b=0) == _key(variadic, 1)


def test_kwargs_order_is_part_of_the_key() -> None:
    assert _key(variadic, 1, p=1, q=2) != _key(variadic, 1, q=2, p=1)


def test_positional_only_parameters_bind() -> None:
    assert _key(positional_only, 1) == _key(positional_only, 1, b=1)


def test_bind_call_applies_defaults() -> None:
    bound = keys.bind_call(f, (1,), {})
    assert isinstance(bound, inspect.BoundArguments)
    assert bound.arguments == {"x": 1, "y": 2}
    assert bound.args == (1, 2)


@pytest.mark.parametrize(
    ("args", "kwargs"), [((), {}), ((1, 2, 3), {}), ((1,), {"z": 1}), ((1,), {"x": 1})]
)
def test_bind_call_rejects_calls_that_do_not_bind(args: Any, kwargs: Any) -> None:
    with pytest.raises(TypeError):
        keys.bind_call(f, args, kwargs)


def test_same_arguments_to_different_functions_share_the_digest_but_not_the_id() -> None:
    # The digest covers the arguments; the function id and logic key complete the key.
    assert _key(f, 1) == _key(g, 1)
    assert keys.function_id(f) != keys.function_id(g)


def make_adder(n: int) -> Any:
    def add(x: int) -> int:
        return x + n

    return add


def test_closure_cells_are_part_of_the_call_key() -> None:
    assert _key(make_adder(1), 5) == _key(make_adder(1), 5)
    assert _key(make_adder(1), 5) != _key(make_adder(2), 5)


def test_recursive_closure_is_keyed() -> None:
    def outer() -> Any:
        def fact(n: int) -> int:
            return 1 if n <= 1 else n * fact(n - 1)

        return fact

    assert _key(outer(), 3) == _key(outer(), 3)


def test_function_id_is_module_and_qualname() -> None:
    assert keys.function_id(f) == f"{__name__}--f"
    assert keys.function_id(make_adder(1)) == f"{__name__}--make_adder.<locals>.add"


def test_function_id_of_a_bound_method_names_the_class() -> None:
    class Service:
        def run(self) -> None:
            pass

    assert keys.function_id(Service().run).endswith("Service.run")


def _run(tmp_path: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


SCRIPT = """
import memokey.keys as keys
def process(x):
    return x
print(keys.function_id(process))
"""


def test_function_id_in_a_script_uses_the_file_stem(tmp_path: Path) -> None:
    (tmp_path / "etl_job.py").write_text(textwrap.dedent(SCRIPT))
    assert _run(tmp_path, "etl_job.py") == "etl_job--process"


def test_function_id_under_dash_m_uses_the_module_name(tmp_path: Path) -> None:
    package = tmp_path / "pipeline"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "step.py").write_text(textwrap.dedent(SCRIPT))
    assert _run(tmp_path, "-m", "pipeline.step") == "pipeline.step--process"


def documented() -> None:
    """Does things.

    function-logic-key: v2
    """


def test_logic_key_from_docstring_line() -> None:
    assert keys.logic_key_of(documented) == "v2"


def test_explicit_logic_key_wins_over_docstring() -> None:
    assert keys.logic_key_of(documented, "v3") == "v3"


def test_no_logic_key_is_none() -> None:
    assert keys.logic_key_of(f) is None


def test_logic_key_from_wrapper_attribute() -> None:
    def wrapper() -> None:
        pass

    wrapper.__memokey_logic_key__ = "v7"  # type: ignore[attr-defined]
    assert keys.logic_key_of(wrapper) == "v7"


def test_logic_key_unusable_in_a_path_is_rejected() -> None:
    with pytest.raises(ValueError, match="storage path"):
        keys.logic_key_of(f, "a/b")


def test_logic_key_changes_the_digest_of_a_function_passed_as_argument() -> None:
    from memokey.hashing import digest

    def plain() -> None:
        pass

    def bumped() -> None:
        pass

    bumped.__qualname__ = plain.__qualname__
    bumped.__code__ = plain.__code__
    bumped.__memokey_logic_key__ = "v2"  # type: ignore[attr-defined]
    assert digest(plain) != digest(bumped)


def test_memo_dir_layout() -> None:
    assert (
        keys.memo_dir("default", "m--f", None, "ab" * 16) == f"memokey-v2/default/m--f/{'ab' * 16}"
    )
    assert keys.memo_dir("exp", "m--f", "v2", "cd") == "memokey-v2/exp/m--f@v2/cd"


def test_memo_dir_rejects_a_namespace_with_a_slash() -> None:
    with pytest.raises(ValueError, match="namespace"):
        keys.memo_dir("a/b", "m--f", None, "cd")


def test_memokey_build_joins_root_and_path() -> None:
    key = keys.MemoKey.build("default", "m--f", "v2", "cd", "file:///tmp/root/")
    assert key.path == "memokey-v2/default/m--f@v2/cd"
    assert key.uri == "file:///tmp/root/memokey-v2/default/m--f@v2/cd"
    assert keys.SCHEME == "memokey-v2"
