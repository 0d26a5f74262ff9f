"""Keyfuncs rewrite the call that is keyed: both shapes, binding checks and nil_args."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from memokey.errors import KeyfuncError
from memokey.keyfuncs import Keyfunc, apply_keyfunc, check_keyfunc, nil_args


def q(conn: Any, tbl_name: str, limit: int = 3) -> Any:
    raise AssertionError("a keyfunc never calls the function")


def other(tbl_name: str) -> Any:
    raise AssertionError("the function a keyfunc returns is never called")


def keyed(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    key_func, bound = apply_keyfunc(nil_args("conn"), func, args, kwargs)
    assert key_func is func
    return dict(bound.arguments)


def test_nil_args_keys_a_positional_argument_as_none() -> None:
    assert keyed(q, (object(), "t"), {}) == {"conn": None, "tbl_name": "t", "limit": 3}


def test_nil_args_keys_a_keyword_argument_as_none() -> None:
    assert keyed(q, (), {"conn": object(), "tbl_name": "t"}) == {
        "conn": None,
        "tbl_name": "t",
        "limit": 3,
    }


def test_nil_args_keys_a_defaulted_argument_as_none() -> None:
    def f(x: int, conn: Any = "default-connection") -> None: ...

    assert keyed(f, (1,), {}) == {"x": 1, "conn": None}


def test_nil_args_makes_the_seed_calls_bind_identically() -> None:
    c1, c2 = object(), object()
    calls = [((c1, "t"), {}), ((c2, "t"), {"limit": 3}), ((), {"conn": c1, "tbl_name": "t"})]
    assert len({repr(keyed(q, a, k)) for a, k in calls}) == 1


def test_nil_args_nils_a_name_passed_through_var_keyword() -> None:
    def f(x: int, **options: Any) -> None: ...

    assert keyed(f, (1,), {"conn": object(), "mode": "r"}) == {
        "x": 1,
        "options": {"conn": None, "mode": "r"},
    }


def test_nil_args_leaves_a_var_keyword_name_that_was_not_passed_absent() -> None:
    def f(x: int, **options: Any) -> None: ...

    assert keyed(f, (1,), {}) == {"x": 1, "options": {}}


def test_nil_args_with_a_call_that_does_not_bind_raises_the_calls_type_error() -> None:
    with pytest.raises(TypeError, match="tbl_name"):
        keyed(q, (object(),), {})


def test_nil_args_check_refuses_a_name_that_is_not_a_parameter() -> None:
    with pytest.raises(KeyfuncError, match=r"'connection'.*conn, tbl_name, limit") as info:
        check_keyfunc(nil_args("connection"), q)
    assert info.value.argument == "connection"


def test_nil_args_check_accepts_any_name_when_the_function_takes_var_keyword() -> None:
    def f(**options: Any) -> None: ...

    check_keyfunc(nil_args("conn"), f)


def test_nil_args_check_refuses_a_variadic_parameter() -> None:
    def f(*conns: Any) -> None: ...

    with pytest.raises(KeyfuncError, match="variadic"):
        check_keyfunc(nil_args("conns"), f)


def test_nil_args_needs_at_least_one_name() -> None:
    with pytest.raises(ValueError, match="at least one"):
        nil_args()


def test_nil_args_refuses_names_that_are_not_identifiers() -> None:
    with pytest.raises(ValueError, match="parameter names"):
        nil_args("not a name")


def test_nil_args_is_a_keyfunc_taking_c() -> None:
    keyfunc = nil_args("conn")
    assert isinstance(keyfunc, Keyfunc)
    assert next(iter(inspect.signature(keyfunc).parameters)) == "c"


def test_keyfunc_taking_c_may_return_another_function_for_the_key() -> None:
    def to_other(c: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return other, (args[1],), {}

    key_func, bound = apply_keyfunc(to_other, q, (object(), "t"), {})
    assert key_func is other
    assert bound.arguments == {"tbl_name": "t"}


def test_plain_keyfunc_gets_the_calls_own_arguments_and_returns_args_kwargs() -> None:
    seen: list[Any] = []

    def drop_conn(conn: Any, tbl_name: str, limit: int = 3) -> Any:
        seen.append((conn, tbl_name, limit))
        return (None, tbl_name), {"limit": limit}

    key_func, bound = apply_keyfunc(drop_conn, q, ("c", "t"), {"limit": 5})
    assert seen == [("c", "t", 5)]
    assert key_func is q
    assert bound.arguments == {"conn": None, "tbl_name": "t", "limit": 5}


def test_keyfunc_result_gets_defaults_applied() -> None:
    def keep(*args: Any, **kwargs: Any) -> Any:
        return args, kwargs

    _, bound = apply_keyfunc(keep, q, ("c", "t"), {})
    assert bound.arguments["limit"] == 3


def test_keyfunc_result_that_misses_an_argument_names_it() -> None:
    def bad(c: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return c, (), {}

    with pytest.raises(KeyfuncError, match=r"do not bind.*'conn'") as info:
        apply_keyfunc(bad, q, ("c", "t"), {})
    assert info.value.argument == "conn"


def test_keyfunc_result_with_an_unexpected_keyword_names_it() -> None:
    def bad(*args: Any, **kwargs: Any) -> Any:
        return args, {**kwargs, "colour": "red"}

    with pytest.raises(KeyfuncError, match="colour") as info:
        apply_keyfunc(bad, q, ("c", "t"), {})
    assert info.value.argument == "colour"


def test_keyfunc_result_with_too_many_positionals_names_the_first_extra() -> None:
    def bad(*args: Any, **kwargs: Any) -> Any:
        return (*args, 1, 2), kwargs

    with pytest.raises(KeyfuncError, match="positional argument #4") as info:
        apply_keyfunc(bad, q, ("c", "t"), {})
    assert info.value.argument == "positional argument #4"


@pytest.mark.parametrize(
    ("returned", "wanted"),
    [
        (None, "a .c, args, kwargs. tuple"),
        ((q, ()), "a .c, args, kwargs. tuple"),
        (("not callable", (), {}), "a callable as c"),
        ((q, "ct", {}), "args as a tuple or list"),
        ((q, (), [("limit", 1)]), "kwargs as a dict"),
    ],
)
def test_keyfunc_taking_c_with_a_wrong_shape_is_a_keyfunc_error(returned: Any, wanted: str) -> None:
    def bad(c: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return returned

    with pytest.raises(KeyfuncError, match=wanted):
        apply_keyfunc(bad, q, ("c", "t"), {})


def test_plain_keyfunc_returning_three_items_is_a_keyfunc_error() -> None:
    def bad(*args: Any, **kwargs: Any) -> Any:
        return q, args, kwargs

    with pytest.raises(KeyfuncError, match=r"\(args, kwargs\)"):
        apply_keyfunc(bad, q, ("c", "t"), {})


def test_exception_raised_by_a_keyfunc_propagates_unchanged() -> None:
    class Boom(Exception):
        pass

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise Boom

    with pytest.raises(Boom):
        apply_keyfunc(boom, q, ("c", "t"), {})


def test_nil_args_keys_the_defaults_the_function_has_now() -> None:
    def q(conn: object, limit: int = 3) -> int:
        return limit

    keyfunc = nil_args("conn")
    _, before = apply_keyfunc(keyfunc, q, (object(),), {})
    q.__defaults__ = (5,)
    _, after = apply_keyfunc(keyfunc, q, (object(),), {})
    assert before.arguments == {"conn": None, "limit": 3}
    assert after.arguments == {"conn": None, "limit": 5}
