"""Outside review of the tiny-hit fast path (`memokey.keys.positional_digest`, the
signature plan, `memokey._decoded`): ways a call could be answered with another call's
result. Each test is a false hit found in review, or a probe of one that must not exist."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import memokey
from helpers.core import script_runner
from memokey_backends import open_store


def test_a_function_whose_code_is_replaced_binds_calls_by_its_new_parameters(
    tmp_path: Path,
) -> None:
    def f(a: Any, b: Any) -> tuple[str, Any, Any]:
        return ("a", a, b)

    def g(b: Any, a: Any) -> tuple[str, Any, Any]:
        return ("a", a, b)

    memo = memokey.memoize(tmp_path.as_uri())(f)
    for _ in range(3):
        assert memo(1, 2) == ("a", 1, 2)  # the plan for (a, b) is warm
    f.__code__ = g.__code__  # now f(b, a)
    assert memo(2, 1) == ("a", 1, 2)  # b=2, a=1
    assert memo(a=2, b=1) == ("a", 2, 1)  # not the entry of f(2, 1)
    assert memo(b=2, a=1) == ("a", 1, 2)  # f(2, 1) again: a hit of the same call


_PROCESS = """
import sys
import pytest

import memokey
from memokey_backends import open_store

def f(a, b):
    return ("a", a, b, "computed by", sys.argv[2])

def g(b, a):
    return ("a", a, b, "computed by", sys.argv[2])

memo = memokey.memoize(sys.argv[1], code="off", logic_key="v1")(f)
memo(10, 20)
memo(10, 20)  # warm: the signature plan is cached for (a, b)
f.__code__ = g.__code__
if sys.argv[2] == "positional":
    print(repr(memo(2, 1)))
else:
    print(repr(memo(a=2, b=1)))
"""


def test_processes_that_replace_a_functions_code_never_read_each_others_other_calls(
    tmp_path: Path,
) -> None:
    root = (tmp_path / "root").as_uri()
    script = script_runner(_PROCESS, tmp_path, "swap.py")

    def run(how: str) -> str:
        return script(root, how)

    # code="off" with one logic key: both processes share a directory (the user says
    # the logic did not change); f(2, 1) and f(a=2, b=1) are still different calls.
    assert run("positional") == repr(("a", 1, 2, "computed by", "positional"))
    assert run("keyword") == repr(("a", 2, 1, "computed by", "keyword"))


class _ExitsOnce:
    """Raises GeneratorExit on its first call (as a plain call would show it), then
    returns its argument."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, a: int) -> tuple[str, int]:
        self.calls += 1
        if self.calls == 1:
            raise GeneratorExit("the function's own")
        return ("ok", a)


@pytest.mark.timeout(60)  # the bug was a lock never released: the second call hung
@pytest.mark.parametrize("where", ["file", "memory"])
def test_a_generator_exit_raised_by_the_function_reaches_the_caller_and_frees_the_call(
    tmp_path: Path, where: str
) -> None:
    exits = _ExitsOnce()

    def f(a: int) -> tuple[str, int]:
        return exits(a)

    root = tmp_path.as_uri() if where == "file" else f"memory://review-fastpath-{tmp_path.name}"
    memo = memokey.memoize(root)(f)
    with pytest.raises(GeneratorExit, match="the function's own"):
        memo(1)
    assert memo(1) == ("ok", 1)  # computed again: nothing was stored, nothing is held
    assert exits.calls == 2


@pytest.mark.timeout(60)
@pytest.mark.parametrize("where", ["file", "memory"])
def test_a_generator_exit_raised_by_a_coroutine_function_reaches_the_caller_and_frees_the_call(
    tmp_path: Path, where: str
) -> None:
    exits = _ExitsOnce()

    async def f(a: int) -> tuple[str, int]:
        return exits(a)

    root = tmp_path.as_uri() if where == "file" else f"memory://review-fastpath-a{tmp_path.name}"
    memo = memokey.memoize(root)(f)

    async def twice() -> tuple[str, int]:
        with pytest.raises(GeneratorExit, match="the function's own"):
            await memo(1)
        return await memo(1)

    assert asyncio.run(twice()) == ("ok", 1)
    assert exits.calls == 2


def _long_text(seed: int) -> str:
    return str(seed) + "a" * 1_000_000  # compresses to well under a kilobyte


def _long_texts(seed: int) -> tuple[str, ...]:
    return tuple(str(seed) + "b" * 200_000 for _ in range(5))


@pytest.mark.parametrize("compute", [_long_text, _long_texts])
def test_a_large_value_from_a_small_compressed_entry_is_not_kept_between_hits(
    tmp_path: Path, compute: Any
) -> None:
    # Only small decoded values may stay in memory: a few hundred URIs of compressed
    # megabyte strings held gigabytes. Not kept, each hit decodes a fresh object.
    memo = memokey.memoize(tmp_path.as_uri(), compress="zstd")(compute)
    memo(1)
    entry = open_store(tmp_path.as_uri()).read(memo.key_for(1).path)
    assert entry is not None
    assert len(entry) < 4096  # small enough to be reused by its bytes
    assert memo(1) == compute(1)
    assert memo(1) is not memo(1)
