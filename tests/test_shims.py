"""Shims run a call: here, in a child process, on any executor; remote ones refuse
roots other processes cannot see."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from helpers.core import memory_root
from memokey.errors import ShimError
from memokey.layout import sibling
from memokey.remote import Invocation, encode_invocation
from memokey.results import decode_result
from memokey.shims import (
    ExecutorShim,
    Job,
    Shim,
    SubprocessShim,
    same_thread,
    subprocess_shim,
)
from memokey_backends import Store, open_store


def triple(x: int) -> int:
    return 3 * x


def report_pid() -> int:
    return os.getpid()


class Boom(Exception):
    pass


def explode(x: int) -> int:
    raise Boom(f"boom {x}")


def die_without_publishing() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


# The store is rooted at the function directory; the entry is one object in it and the
# invocation and error are its siblings.
ENTRY = "entry"
RESULT = ENTRY
INVOCATION = sibling(ENTRY, "invocation")
ERROR = sibling(ENTRY, "error")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"file://{tmp_path}/memo")


def _staged(store: Store, func: Any, *args: Any) -> Job:
    store.write(INVOCATION, encode_invocation(Invocation(func, args, {})))
    return Job(call=lambda: func(*args), memo_uri=store.uri(ENTRY), label=func.__name__)


def _result(store: Store) -> Any:
    return decode_result(store.read(RESULT) or b"", store.uri(RESULT))


def test_same_thread_runs_the_call_in_the_calling_thread() -> None:
    future = same_thread.start(Job(call=threading.get_ident, memo_uri="memory://unused"))
    assert future.result() == threading.get_ident()


def test_same_thread_future_carries_the_calls_exception() -> None:
    future = same_thread.start(Job(call=lambda: explode(1), memo_uri="memory://unused"))
    with pytest.raises(Boom):
        future.result()


def test_subprocess_shim_runs_the_invocation_in_another_process(store: Store) -> None:
    subprocess_shim.start(_staged(store, report_pid)).result()
    assert _result(store) != os.getpid()


def test_subprocess_shim_publishes_the_result(store: Store) -> None:
    subprocess_shim.start(_staged(store, triple, 14)).result()
    assert _result(store) == 42


def test_subprocess_shim_publishes_the_error(store: Store) -> None:
    subprocess_shim.start(_staged(store, explode, 2)).result()
    assert not store.exists(RESULT)
    assert b"boom 2" in (store.read(ERROR) or b"")


def test_subprocess_child_killed_before_publishing_is_a_shim_error(store: Store) -> None:
    future = subprocess_shim.start(_staged(store, die_without_publishing))
    with pytest.raises(ShimError, match="killed by signal 9"):
        future.result()


def test_subprocess_shim_that_cannot_start_raises_shim_error(store: Store) -> None:
    shim = SubprocessShim(python="/nonexistent/python")
    with pytest.raises(ShimError, match="could not start"):
        shim.start(_staged(store, triple, 1))


def test_subprocess_shim_refuses_storage_options_that_are_not_json(store: Store) -> None:
    job = Job(call=lambda: None, memo_uri=store.uri(ENTRY), storage_options={"token": object()})
    with pytest.raises(ShimError, match="not JSON"):
        subprocess_shim.start(job)


def test_executor_shim_over_threads_runs_in_this_process() -> None:
    with ThreadPoolExecutor(1) as pool:
        shim = ExecutorShim(pool)
        assert not shim.runs_elsewhere
        future = shim.start(Job(call=lambda: triple(2), memo_uri="memory://unused"))
        assert future.result() == 6


def test_executor_shim_over_processes_runs_the_stored_invocation(store: Store) -> None:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        shim = ExecutorShim(pool)
        assert shim.runs_elsewhere
        shim.start(_staged(store, triple, 5)).result()
    assert _result(store) == 15


def test_executor_shim_on_a_shut_down_executor_raises_shim_error() -> None:
    pool = ThreadPoolExecutor(1)
    pool.shutdown()
    with pytest.raises(ShimError, match="Keep the executor open"):
        ExecutorShim(pool).start(Job(call=lambda: 1, memo_uri="memory://unused"))


@pytest.mark.parametrize(
    "shim",
    [subprocess_shim, ExecutorShim(ThreadPoolExecutor(1), runs_elsewhere=True)],
    ids=["subprocess", "executor"],
)
def test_shims_that_run_elsewhere_refuse_a_process_local_root(shim: Shim) -> None:
    with pytest.raises(ShimError, match="process-local root memory://"):
        shim.check_store(open_store(memory_root()))


def test_in_process_shims_accept_a_process_local_root() -> None:
    same_thread.check_store(open_store(memory_root()))
