"""`.submit()` fan-out, shared in-flight calls, and recursion memoizing every inner call."""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import pytest

import memokey
from memokey.errors import UnkeyableArgumentError
from memokey.layout import is_entry
from memokey.shims import ExecutorShim
from memokey_backends import open_store

RUNS: Counter[str] = Counter()
release = threading.Event()


@pytest.fixture(autouse=True)
def _reset() -> None:
    RUNS.clear()
    release.clear()


def square(x: int) -> int:
    RUNS["square"] += 1
    return x * x


def gated_square(x: int) -> int:
    RUNS["gated_square"] += 1
    assert release.wait(30)
    return x * x


class Boom(Exception):
    pass


def explode(x: int) -> int:
    raise Boom(f"boom {x}")


def _count_results(root: str) -> int:
    return sum(is_entry(e.path) for e in open_store(root).list("", recursive=True))


def test_submit_returns_a_future_of_the_value(tmp_path: Path) -> None:
    f = memokey.memoize(f"file://{tmp_path}")(square)
    assert f.submit(7).result() == 49


def test_submit_with_the_same_thread_shim_has_finished_when_it_returns(tmp_path: Path) -> None:
    f = memokey.memoize(f"file://{tmp_path}")(square)
    assert f.submit(3).done()


def test_many_submissions_through_a_pool_all_complete(tmp_path: Path) -> None:
    with ThreadPoolExecutor(4) as pool:
        f = memokey.memoize(f"file://{tmp_path}", shim=ExecutorShim(pool))(square)
        futures = [f.submit(i) for i in range(20)]
        assert [fut.result() for fut in futures] == [i * i for i in range(20)]
    assert _count_results(f"file://{tmp_path}") == 20


def test_identical_concurrent_submissions_share_one_computation(tmp_path: Path) -> None:
    with ThreadPoolExecutor(4) as pool:
        f = memokey.memoize(f"file://{tmp_path}", shim=ExecutorShim(pool))(gated_square)
        futures = [f.submit(6) for _ in range(5)]
        assert len({id(fut) for fut in futures}) == 1
        release.set()
        wait(futures)
    assert [fut.result() for fut in futures] == [36] * 5
    assert RUNS["gated_square"] == 1


def test_submitted_call_that_raises_delivers_the_error_through_its_future(
    tmp_path: Path,
) -> None:
    with ThreadPoolExecutor(2) as pool:
        f = memokey.memoize(f"file://{tmp_path}", shim=ExecutorShim(pool))(explode)
        with pytest.raises(Boom, match="boom 2"):
            f.submit(2).result()


def test_unkeyable_argument_raises_at_submit_time(tmp_path: Path) -> None:
    f = memokey.memoize(f"file://{tmp_path}")(square)
    with pytest.raises(UnkeyableArgumentError):
        f.submit(threading.Lock())  # type: ignore[arg-type]


def test_coroutine_functions_are_not_submitted(tmp_path: Path) -> None:
    @memokey.memoize(f"file://{tmp_path}")
    async def coro(x: int) -> int:
        return x

    with pytest.raises(TypeError, match="asyncio"):
        coro.submit(1)


def test_a_finished_submission_is_not_shared_with_a_later_one(tmp_path: Path) -> None:
    with ThreadPoolExecutor(2) as pool:
        f = memokey.memoize(f"file://{tmp_path}", shim=ExecutorShim(pool))(square)
        first = f.submit(5)
        first.result()
        deadline = time.monotonic() + 10
        while f.submit(5) is first:  # the in-flight entry is dropped once it completes
            assert time.monotonic() < deadline
        assert RUNS["square"] == 1  # the later submission is a hit


@memokey.memoize
def fib(n: int) -> int:
    RUNS["fib"] += 1
    return n if n < 2 else fib(n - 1) + fib(n - 2)


@memokey.memoize
def total(n: int) -> int:
    return sum(fib(i) for i in range(n))


def test_recursive_calls_are_each_memoized(tmp_path: Path) -> None:
    root = f"file://{tmp_path}"
    with memokey.root(root):
        assert fib(10) == 55
    assert _count_results(root) == 11  # fib(0) .. fib(10)
    assert RUNS["fib"] == 11


def test_a_memoized_function_calling_another_memoizes_both(tmp_path: Path) -> None:
    root = f"file://{tmp_path}"
    with memokey.root(root):
        assert total(5) == 0 + 1 + 1 + 2 + 3
    assert _count_results(root) == 1 + 5  # total(5) and fib(0) .. fib(4)
