"""memoize on `async def`: a coroutine wrapper, store I/O off the loop, compute once."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections import Counter

import pytest

import memokey
from helpers.core import memory_root
from memokey import memoize
from memokey._compute_once import async_locks
from memokey.roots import ENV_VAR
from memokey_backends import open_store

RUNS: Counter[str] = Counter()
LOOP_THREADS: list[int] = []


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    RUNS.clear()
    monkeypatch.setenv(ENV_VAR, memory_root())


@memoize
async def fetch(x: int) -> int:
    RUNS["fetch"] += 1
    LOOP_THREADS.append(threading.get_ident())
    await asyncio.sleep(0.05)  # let concurrent awaits pile up
    return x + 100


async def boom(x: int) -> int:
    RUNS["boom"] += 1
    raise KeyError(x)


def test_async_wrapper_is_a_coroutine_function() -> None:
    assert inspect.iscoroutinefunction(fetch)


def test_async_function_computes_once_then_hits() -> None:
    async def main() -> list[int]:
        return [await fetch(1), await fetch(1)]

    assert asyncio.run(main()) == [101, 101]
    assert RUNS["fetch"] == 1


def test_concurrent_identical_awaits_compute_once() -> None:
    async def main() -> list[int]:
        return list(await asyncio.gather(*(fetch(2) for _ in range(10))))

    assert asyncio.run(main()) == [102] * 10
    assert RUNS["fetch"] == 1


def test_concurrent_different_awaits_each_compute() -> None:
    async def main() -> list[int]:
        return list(await asyncio.gather(fetch(3), fetch(4)))

    assert asyncio.run(main()) == [103, 104]
    assert RUNS["fetch"] == 2


def test_coroutine_runs_on_the_event_loop_thread() -> None:
    async def main() -> int:
        await fetch(5)
        return threading.get_ident()

    LOOP_THREADS.clear()
    loop_thread = asyncio.run(main())
    assert [loop_thread] == LOOP_THREADS


def test_async_exception_propagates_unchanged_and_stores_nothing() -> None:
    memoized = memoize(boom)

    async def main() -> None:
        await memoized(1)

    with pytest.raises(KeyError):
        asyncio.run(main())
    with pytest.raises(KeyError):
        asyncio.run(main())
    assert RUNS["boom"] == 2


def test_async_locks_are_released_after_awaits() -> None:
    async def main() -> int:
        await asyncio.gather(*(fetch(x) for x in range(5)))
        return len(async_locks())

    assert asyncio.run(main()) == 0


def test_with_root_applies_inside_a_coroutine() -> None:
    url = memory_root()

    async def main() -> str:
        with memokey.root(url):
            await fetch(6)
            return fetch.key_for(6).path

    path = asyncio.run(main())
    assert open_store(url).exists(path)
