"""The call path written once for plain and coroutine functions (`memokey._steps`):
what a function raises reaches its caller unchanged on every path, including the
exceptions a generator-driven path could swallow or rewrite."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import memokey
from memokey.runners import MemoizingRunner
from memokey_backends import open_store

CALLS: list[str] = []


def next_of_empty(x: int) -> int:
    CALLS.append("next_of_empty")
    return int(next(iter(())))  # raises StopIteration


class Stop(KeyboardInterrupt):
    """A BaseException that is not an Exception (like KeyboardInterrupt)."""


def interrupted(x: int) -> int:
    raise Stop("stop")


@pytest.fixture(autouse=True)
def _reset() -> None:
    CALLS.clear()


@pytest.mark.parametrize("cache_errors", [False, True])
def test_a_stop_iteration_raised_by_the_function_reaches_the_caller_unchanged(
    tmp_path: Path, cache_errors: bool
) -> None:
    runner = MemoizingRunner(tmp_path.as_uri(), cache_errors=cache_errors)
    with pytest.raises(StopIteration):
        runner(next_of_empty, (1,), {})
    key = runner.key_for(next_of_empty, (1,), {})
    assert open_store(tmp_path.as_uri()).read(key.path) is None  # no result stored


def test_a_stop_iteration_is_reported_as_the_functions_own_error(tmp_path: Path) -> None:
    seen: list[BaseException | None] = []
    unsubscribe = memokey.on_event(lambda event: seen.append(event.error))
    try:
        with pytest.raises(StopIteration):
            MemoizingRunner(tmp_path.as_uri())(next_of_empty, (2,), {})
    finally:
        unsubscribe()
    assert any(isinstance(error, StopIteration) for error in seen)


def test_a_base_exception_from_the_function_releases_the_lock_and_stores_nothing(
    tmp_path: Path,
) -> None:
    runner = MemoizingRunner(tmp_path.as_uri())
    with pytest.raises(Stop):
        runner(interrupted, (1,), {})
    # The per-URI and cross-process locks were released: the next call computes at once.
    assert runner(lambda x: x + 1, (1,), {}) == 2
    with pytest.raises(Stop):
        runner(interrupted, (1,), {})


def test_refresh_mode_and_a_plain_call_of_a_coroutine_function_agree(tmp_path: Path) -> None:
    async def square(x: int) -> int:
        CALLS.append("square")
        return x * x

    runner = MemoizingRunner(tmp_path.as_uri())

    async def scenario() -> list[int]:
        first = await runner.acall(square, (3,), {})
        second = await runner.acall(square, (3,), {})
        with memokey.mode("refresh"):
            third = await runner.acall(square, (3,), {})
        return [first, second, third]

    assert asyncio.run(scenario()) == [9, 9, 9]
    assert CALLS == ["square", "square"]
