"""Adversarial review of the runtime: each test pins a behaviour a review found broken or
fragile (leases on awkward exits, context propagation, store errors never a miss)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import memokey
from memokey._heartbeat import heartbeat
from memokey.errors import ResultCorruptedError, StoreError
from memokey.layout import is_entry
from memokey.leases import read_lease
from memokey.shims.base import ExecutorShim
from memokey_backends import open_store

# -- helpers: module-level so cloudpickle sends them by reference ----------------------------


@memokey.memoize
def nested_inner(x: int) -> int:
    """Memoized with no root of its own: it lands wherever the call-time root says."""
    return x * 10


def calls_nested(x: int) -> int:
    return nested_inner(x) + 1


_STARTED: dict[object, asyncio.Event] = {}  # not a closure cell: those are part of the key


CALLS: dict[str, list[int]] = {}


def record_call_dir(x: int) -> int:
    CALLS["dir"].append(x)
    return x


def record_call_truncated(x: int) -> int:
    CALLS["truncated"].append(x)
    return x


async def slow_until_cancelled(x: int) -> int:
    _STARTED[slow_until_cancelled].set()
    await asyncio.sleep(3600)
    return x


def _results_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and is_entry(str(p)))


@pytest.fixture
def env_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """MEMOKEY_ROOT points here: where calls land when no `with root()` is seen."""
    where = tmp_path / "env-root"
    monkeypatch.setenv("MEMOKEY_ROOT", str(where))
    return where


@pytest.fixture
def thread_pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as pool:
        yield pool


# -- (5) `with memokey.root()` must follow a call onto the threads that run it --------------


def test_thread_pool_shim_runs_the_call_inside_the_callers_with_root(
    tmp_path: Path, env_root: Path, thread_pool: ThreadPoolExecutor
) -> None:
    outer = memokey.memoize(shim=ExecutorShim(thread_pool))(calls_nested)
    context_root = tmp_path / "context-root"
    with memokey.root(str(context_root)):
        assert outer(3) == 31
    assert len(_results_under(context_root)) == 2  # outer and nested_inner
    assert _results_under(env_root) == []


def test_submit_runs_the_call_inside_the_callers_with_root(
    tmp_path: Path, env_root: Path, thread_pool: ThreadPoolExecutor
) -> None:
    outer = memokey.memoize(shim=ExecutorShim(thread_pool))(calls_nested)
    context_root = tmp_path / "context-root"
    with memokey.root(str(context_root)):
        assert outer.submit(4).result(timeout=60) == 41
    assert len(_results_under(context_root)) == 2
    assert _results_under(env_root) == []


def test_submit_to_a_remote_shim_sends_the_callers_with_root_to_the_far_side(
    tmp_path: Path, env_root: Path, thread_pool: ThreadPoolExecutor
) -> None:
    elsewhere = ExecutorShim(thread_pool, runs_elsewhere=True)  # runs `execute(uri)`
    outer = memokey.memoize(shim=elsewhere)(calls_nested)
    context_root = tmp_path / "context-root"
    with memokey.root(str(context_root)):
        assert outer.submit(5).result(timeout=60) == 51
    assert len(_results_under(context_root)) == 2
    assert _results_under(env_root) == []


# -- (2) a lease is released on every way out, also from asyncio ----------------------------


def test_async_lease_is_released_when_the_task_is_cancelled_twice(tmp_path: Path) -> None:
    """A second cancellation (wait_for, TaskGroup teardown) arrives while the release is
    queued on a busy default executor: the release must still happen, or the heartbeat
    renews the orphaned lease forever and every other process waits on it."""
    root = f"file://{tmp_path}/memo"
    unblock = threading.Event()
    slow = memokey.memoize(root)(slow_until_cancelled)

    async def main() -> None:
        started = _STARTED[slow_until_cancelled] = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.set_default_executor(ThreadPoolExecutor(1))
        task = asyncio.create_task(slow(1))
        await started.wait()
        blocker = loop.run_in_executor(None, unblock.wait)  # the one worker is busy
        task.cancel()
        for _ in range(5):  # let the task reach its release, queued behind the blocker
            await asyncio.sleep(0)
        task.cancel()
        unblock.set()
        await blocker
        with pytest.raises(asyncio.CancelledError):
            await task
        await loop.run_in_executor(None, lambda: None)  # anything queued before has run
        memo = slow.key_for(1).path
        assert read_lease(open_store(root), memo) is None
        assert not any(getattr(m, "memo_dir", None) == memo for m in list(heartbeat._due))

    asyncio.run(main())


def test_lease_is_released_when_the_result_cannot_be_serialized(tmp_path: Path) -> None:
    root = f"file://{tmp_path}/memo"

    @memokey.memoize(root)
    def unpicklable(x: int) -> Any:
        return threading.Lock()

    with pytest.raises(memokey.SerializationError):
        unpicklable(1)
    memo = unpicklable.key_for(1).path
    assert read_lease(open_store(root), memo) is None
    assert not (tmp_path / "memo" / memo).exists()


def test_lease_is_released_on_keyboard_interrupt_in_the_function(tmp_path: Path) -> None:
    root = f"file://{tmp_path}/memo"

    @memokey.memoize(root)
    def interrupted(x: int) -> int:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted(1)
    assert read_lease(open_store(root), interrupted.key_for(1).path) is None


# -- (1) store errors and corrupt results are never a miss ---------------------------------


def test_a_directory_where_the_result_belongs_is_an_error_not_a_miss(tmp_path: Path) -> None:
    calls = CALLS.setdefault("dir", [])
    f = memokey.memoize(f"file://{tmp_path}/memo")(record_call_dir)

    (tmp_path / "memo" / f.key_for(1).path).mkdir(parents=True)
    with pytest.raises(StoreError):
        f(1)
    assert calls == []


def test_a_truncated_result_is_reported_and_not_recomputed_over(tmp_path: Path) -> None:
    calls = CALLS.setdefault("truncated", [])
    f = memokey.memoize(f"file://{tmp_path}/memo")(record_call_truncated)

    assert f(1) == 1
    result = tmp_path / "memo" / f.key_for(1).path
    result.write_bytes(result.read_bytes()[:-1])
    with pytest.raises(ResultCorruptedError, match="memokey rm"):
        f(1)
    assert calls == [1]
    assert result.stat().st_size > 0  # still there for inspection


# -- (4) local URL spellings reach the same directory ---------------------------------------


def test_file_localhost_url_is_the_same_root_as_file_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "memo dir"
    store = open_store(f"file://localhost{target}")
    store.write("k/result", b"v")
    assert (target / "k" / "result").read_bytes() == b"v"
    assert not (tmp_path / "localhost").exists()


@pytest.mark.parametrize("name", ["with space", "pct%20x", "hash#frag", "uni-é✓"])
def test_odd_characters_in_a_local_root_are_taken_literally(tmp_path: Path, name: str) -> None:
    target = tmp_path / name

    @memokey.memoize(f"file://{target}")
    def f(x: int) -> int:
        return x + 1

    assert f(1) == 2
    assert len(_results_under(target)) == 1
    assert f(1) == 2


def test_a_relative_root_is_resolved_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    @memokey.memoize("relative-memo")
    def f(x: int) -> int:
        return x + 1

    assert f(1) == 2
    assert len(_results_under(tmp_path / "relative-memo")) == 1
    assert os.path.isabs(f.key_for(1).root_url.removeprefix("file://"))


# -- (3)/(6) compute-once holds across event loops of one process --------------------------

LOOP_CALLS: list[int] = []


async def counted_slowly(x: int) -> int:
    LOOP_CALLS.append(x)
    await asyncio.sleep(0.2)  # long enough for the other loop to miss too
    return x


def test_identical_awaits_in_two_event_loops_compute_once_on_a_memory_root() -> None:
    """Each thread's loop has its own asyncio locks and memory:// takes no lease for sync
    calls; async calls must still coordinate across loops (through the lease)."""
    LOOP_CALLS.clear()
    f = memokey.memoize(f"memory://review-two-loops-{os.getpid()}")(counted_slowly)
    barrier = threading.Barrier(2)
    results: list[int] = []

    def run() -> None:
        barrier.wait()
        results.append(asyncio.run(f(7)))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [7, 7]
    assert LOOP_CALLS == [7]


def test_a_root_that_is_a_symlink_stores_into_its_target(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    f = memokey.memoize(f"file://{tmp_path / 'link'}")(record_call_dir)
    CALLS.setdefault("dir", []).clear()
    assert f(2) == 2
    assert f(2) == 2
    assert CALLS["dir"] == [2]
    assert len(_results_under(real)) == 1


def test_a_root_whose_directories_do_not_exist_yet_is_created_on_the_first_miss(
    tmp_path: Path,
) -> None:
    deep = tmp_path / "not" / "there" / "yet"
    f = memokey.memoize(str(deep))(record_call_truncated)
    CALLS.setdefault("truncated", []).clear()
    assert f(3) == 3
    assert f(3) == 3
    assert CALLS["truncated"] == [3]
    assert len(_results_under(deep)) == 1


# Module level: closure values are part of a key, so counters must not be closure cells.
_retries: list[int] = []


@memokey.memoize(lease_seconds=5)
def _retrying(x: int) -> int:
    _retries.append(x)
    if len(_retries) < 3:
        return _retrying(x)  # a retry: same arguments, while this call holds the lease
    return x * 10


@memokey.memoize(lease_seconds=5)
async def _aretrying(x: int) -> int:
    _retries.append(x)
    if len(_retries) < 2:
        return await _aretrying(x)
    return x + 1


def test_a_call_that_reenters_itself_with_the_same_arguments_runs_like_the_plain_function(
    tmp_path: Path,
) -> None:
    _retries.clear()
    with memokey.root(f"file://{tmp_path}/root"):
        assert _retrying(4) == 40
        assert _retries == [4, 4, 4]
        assert _retrying(4) == 40  # stored once, now a hit
    assert _retries == [4, 4, 4]


def test_async_call_that_reenters_itself_does_not_wait_on_its_own_lease(tmp_path: Path) -> None:
    _retries.clear()

    async def main() -> int:
        with memokey.root(f"file://{tmp_path}/root"):
            return await asyncio.wait_for(_aretrying(1), timeout=30)

    assert asyncio.run(main()) == 2
    assert _retries == [1, 1]
