"""Namespaces and logic keys: checked once, at decoration, against one safe alphabet."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

import memokey
from memokey.errors import ConfigurationError
from memokey.runners import KeyedLocalRunner, MemoizingRunner

RUNS: Counter[str] = Counter()


def _square(x: int) -> int:
    RUNS["square"] += 1
    return x * x


UNSAFE = [
    "exp?versionId=abc",  # an S3 query string: reads came back corrupted
    "exp?versionid=abc",  # Azure looped forever on it
    "a\x00b",  # raw ValueError from the filesystem
    "..",
    "a..b",
    ".",
    "trailing.",
    "a/b",
    "a b",
    " padded",
    "x#frag",
    "caf\u00e9",
    "\x1b[31mred",
    "",
    "x" * 101,
]


@pytest.mark.parametrize("name", UNSAFE)
def test_unsafe_namespace_is_refused_at_decoration_with_a_usable_suggestion(name: str) -> None:
    with pytest.raises(ConfigurationError, match="namespace") as info:
        memokey.memoize("memory://names", namespace=name)
    message = str(info.value)
    assert "letters, digits and . _ + -" in message
    suggestion = message.rsplit("namespace=", 1)[1].strip("'\"")
    MemoizingRunner("memory://names", namespace=suggestion)  # what it says to write works


@pytest.mark.parametrize("name", UNSAFE)
def test_unsafe_logic_key_is_refused_at_decoration(name: str) -> None:
    with pytest.raises(ConfigurationError, match="logic key"):
        memokey.memoize("memory://names", logic_key=name)


@pytest.mark.parametrize("name", ["..", "v..2", "x" * 101, "v2?versionId=1", "v 2", ""])
def test_unsafe_docstring_logic_key_is_refused_when_the_function_is_decorated(name: str) -> None:
    def f(x: int) -> int:
        return x

    f.__doc__ = f"Doubles.\n\nfunction-logic-key: {name}\n"
    with pytest.raises(ConfigurationError, match="logic key"):
        memokey.memoize("memory://names")(f)


def test_non_string_namespace_is_refused() -> None:
    bad: Any = 3
    with pytest.raises(ConfigurationError, match=r"namespace 3 .*not a string"):
        memokey.memoize("memory://names", namespace=bad)


def test_keyed_runner_checks_names_too() -> None:
    with pytest.raises(ConfigurationError, match="namespace"):
        KeyedLocalRunner("memory://names", keyfunc=memokey.nil_args("x"), namespace="a?b")


@pytest.mark.parametrize("name", ["default", "exp-3", "v1.2+local_build", "A" * 100])
def test_safe_names_are_accepted_and_round_trip_on_every_backend(
    name: str, store_root: tuple[str, dict[str, Any]]
) -> None:
    url, options = store_root
    square = memokey.memoize(url, storage_options=options, namespace=name, logic_key=name)(_square)
    RUNS.clear()
    assert square(7) == 49
    assert square(7) == 49
    assert RUNS["square"] == 1
    assert f"/{name}/" in square.key_for(7).uri
