"""The hit path's shortcuts in `memokey.keys` give exactly what the general path gives.

`bind_call` binds simple signatures without `inspect`, and `call_digest` hashes calls made
of small atoms in one shot; both must be indistinguishable from the slow path, or stored
results would be orphaned.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import memokey.keys as keys
from memokey.hashing import Encoder


def plain(a: Any, b: Any) -> None:
    pass


def with_default(a: Any, b: Any = 2, c: Any = "c") -> None:
    pass


def star_args(a: Any, *rest: Any) -> None:
    pass


def star_kwargs(a: Any, **extra: Any) -> None:
    pass


def keyword_only(a: Any, *, b: Any, c: Any = 3) -> None:
    pass


def positional_only(a: Any, /, b: Any = 1) -> None:
    pass


def everything(a: Any, /, b: Any, *rest: Any, c: Any, d: Any = 4, **extra: Any) -> None:
    pass


def _slow_bind(func: Callable[..., Any], args: Any, kwargs: Any) -> list[tuple[str, Any]]:
    bound = inspect.signature(func).bind(*args, **kwargs)
    bound.apply_defaults()
    return list(bound.arguments.items())


def _slow_digest(bound: inspect.BoundArguments) -> str:
    """The general encoder over the same stream `call_digest` hashes (no closure)."""
    names = Encoder()
    names.encode(tuple(bound.arguments))
    enc = Encoder()
    enc.write(b"@" + names.digest())
    enc.write(b"\0" * 8)
    for value in bound.arguments.values():
        enc.encode(value)
    return enc.hexdigest()


CALLS = [
    (plain, (1, 2), {}),
    (plain, (1,), {"b": 2}),
    (plain, (), {"b": 2, "a": 1}),
    (with_default, (1,), {}),
    (with_default, (1, 5), {}),
    (with_default, (1,), {"c": 9}),
    (with_default, (1, 2, "c"), {}),
    (star_args, (1,), {}),
    (star_args, (1, 2, 3), {}),
    (star_kwargs, (1,), {"z": 2, "y": 3}),
    (star_kwargs, (), {"a": 1}),
    (keyword_only, (1,), {"b": 2}),
    (keyword_only, (1,), {"c": 0, "b": 2}),
    (positional_only, (1,), {}),
    (positional_only, (1, 2), {}),
    (positional_only, (1,), {"b": 2}),
    (everything, (1, 2, 3, 4), {"c": 5}),
    (everything, (1,), {"b": 2, "c": 3, "x": 4}),
]


@pytest.mark.parametrize(("func", "args", "kwargs"), CALLS)
def test_fast_binding_equals_inspect_binding(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    bound = keys.bind_call(func, args, kwargs)
    assert list(bound.arguments.items()) == _slow_bind(func, args, kwargs)


@pytest.mark.parametrize(("func", "args", "kwargs"), CALLS)
def test_fast_digest_equals_the_general_encoder(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    bound = keys.bind_call(func, args, kwargs)
    assert keys.call_digest(func, bound) == _slow_digest(bound)


@pytest.mark.parametrize(
    ("func", "args", "kwargs"),
    [
        (plain, (1,), {}),
        (plain, (1, 2, 3), {}),
        (plain, (1, 2), {"a": 1}),
        (plain, (1, 2), {"z": 1}),
        (keyword_only, (1, 2), {}),
        (positional_only, (), {"a": 1}),
    ],
)
def test_fast_binding_refuses_what_inspect_refuses(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    with pytest.raises(TypeError):
        _slow_bind(func, args, kwargs)
    with pytest.raises(TypeError):
        keys.bind_call(func, args, kwargs)


atoms = st.one_of(
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=300),
    st.booleans(),
    st.none(),
)


@given(atoms, atoms)
def test_digest_of_any_atoms_equals_the_general_encoder(a: Any, b: Any) -> None:
    bound = keys.bind_call(plain, (a, b), {})
    assert keys.call_digest(plain, bound) == _slow_digest(bound)


def test_int_and_bool_and_float_atoms_stay_distinct() -> None:
    digests = {keys.call_digest(plain, keys.bind_call(plain, (v, 0), {})) for v in (1, True, 1.0)}
    assert len(digests) == 3


def test_atoms_inside_a_container_take_the_general_path_and_match_it() -> None:
    bound = keys.bind_call(plain, ([1, 2], {"k": 1.5}), {})
    assert keys.call_digest(plain, bound) == _slow_digest(bound)


def test_a_closure_is_still_keyed_when_arguments_are_atoms() -> None:
    def make(n: int) -> Callable[[Any, Any], None]:
        def inner(a: Any, b: Any) -> None:
            print(n)

        return inner

    one, two = make(1), make(2)
    bound = keys.bind_call(one, (1, 2), {})
    assert keys.call_digest(one, bound) != keys.call_digest(two, bound)
    assert keys.call_digest(one, bound) != _slow_digest(bound)
