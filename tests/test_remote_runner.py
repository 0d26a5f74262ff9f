"""Memoized calls through a shim that runs elsewhere: values and errors come back, the
store keeps what the layout promises, and the lease is released on every way out."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

import memokey
from helpers.core import memory_root
from memokey.entry_reader import read_entry_meta
from memokey.errors import ConfigurationError, RemoteError, ShimError
from memokey.layout import is_entry
from memokey.leases import read_lease
from memokey.remote import ERROR, INVOCATION
from memokey.runners import MemoizingRunner
from memokey.shims import Job, Shim, subprocess_shim
from memokey_backends import Store, open_store

pytestmark = pytest.mark.slow


class Boom(Exception):
    pass


class LockedError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.lock = threading.Lock()


def pid_of_runner(x: int) -> tuple[int, int]:
    return x, os.getpid()


def explode(marks: str) -> None:
    Path(marks, f"ran-{os.getpid()}").touch()
    raise Boom("remote boom")


def explode_unpicklably() -> None:
    raise LockedError("cannot travel")


def inner(x: int) -> int:
    return x + 1


def outer(x: int) -> int:
    return memoized_inner(x) * 10


memoized_inner = memokey.memoize(inner)


@pytest.fixture
def root(tmp_path: Path) -> str:
    return f"file://{tmp_path}/memo"


def _runner(root: str, **kwargs: Any) -> MemoizingRunner:
    return MemoizingRunner(root, shim=subprocess_shim, **kwargs)


def _store_of(root: str) -> Store:
    return open_store(root)


def test_value_computed_in_a_child_process_comes_back(root: str) -> None:
    value, pid = _runner(root)(pid_of_runner, (7,), {})
    assert value == 7
    assert pid != os.getpid()


def test_remote_result_is_a_hit_for_the_next_caller_here(root: str) -> None:
    runner = _runner(root)
    first = runner(pid_of_runner, (1,), {})
    assert MemoizingRunner(root)(pid_of_runner, (1,), {}) == first


def test_invocation_is_removed_after_success_and_meta_is_written(root: str) -> None:
    runner = _runner(root)
    runner(pid_of_runner, (2,), {})
    key = runner.key_for(pid_of_runner, (2,), {})
    function_dir = key.path.rsplit("/", 1)[0]
    names = {e.path.rsplit("/", 1)[-1] for e in _store_of(root).list(function_dir)}
    assert {n for n in names if not n.startswith(".")} == {key.digest}
    meta = read_entry_meta(_store_of(root), key.path)
    assert meta is not None
    assert (meta["runner"], meta["digest"]) == ("remote", key.digest)


def test_remote_error_is_reraised_with_type_message_and_remote_traceback(
    root: str, tmp_path: Path
) -> None:
    with pytest.raises(Boom, match="remote boom") as info:
        _runner(root)(explode, (str(tmp_path),), {})
    notes = getattr(info.value, "__notes__", [])
    assert any("Remote traceback" in n and "in explode" in n for n in notes)


def test_remote_error_is_stored_for_inspection_with_its_invocation(
    root: str, tmp_path: Path
) -> None:
    runner = _runner(root)
    with pytest.raises(Boom):
        runner(explode, (str(tmp_path),), {})
    key = runner.key_for(explode, (str(tmp_path),), {})
    store = _store_of(root)
    assert store.exists(f"{key.path}.{ERROR}")
    assert store.exists(f"{key.path}.{INVOCATION}")
    assert not store.exists(key.path)


def test_remote_error_is_not_served_as_a_cached_value(root: str, tmp_path: Path) -> None:
    runner = _runner(root)
    for _ in range(2):
        with pytest.raises(Boom):
            runner(explode, (str(tmp_path),), {})
    assert len(list(tmp_path.glob("ran-*"))) == 2


def test_with_cache_errors_the_stored_error_is_raised_without_running_again(
    root: str, tmp_path: Path
) -> None:
    runner = _runner(root, cache_errors=True)
    for _ in range(2):
        with pytest.raises(Boom, match="remote boom"):
            runner(explode, (str(tmp_path),), {})
    assert len(list(tmp_path.glob("ran-*"))) == 1


def test_unpicklable_remote_exception_arrives_as_remote_error(root: str) -> None:
    with pytest.raises(RemoteError, match="LockedError: cannot travel"):
        _runner(root)(explode_unpicklably, (), {})


def test_nested_memoized_call_on_the_far_side_lands_in_the_callers_root(
    tmp_path: Path,
) -> None:
    context_root = f"file://{tmp_path}/ctx"
    with memokey.root(context_root):
        assert MemoizingRunner(shim=subprocess_shim)(outer, (1,), {}) == 20
        assert memoized_inner.key_for(1).root_url.endswith("/ctx")
        stored = [e.path for e in open_store(context_root).list("", recursive=True)]
    assert sum(is_entry(p) for p in stored) == 2


def test_subprocess_shim_refuses_a_memory_root_and_leaves_no_lease() -> None:
    root = memory_root()
    runner = _runner(root)
    with pytest.raises(ShimError, match="process-local root memory://"):
        runner(pid_of_runner, (3,), {})
    assert open_store(root).list("", recursive=True) == []


def test_runner_refuses_an_object_that_is_not_a_shim() -> None:
    with pytest.raises(ConfigurationError, match="is not a memokey shim"):
        MemoizingRunner(memory_root(), shim=object())  # type: ignore[arg-type]


class FailingToStart(Shim):
    runs_elsewhere = True

    def start(self, job: Job) -> Any:
        raise ShimError("the cluster is down")


class Interrupted(Shim):
    runs_elsewhere = True

    def start(self, job: Job) -> Any:
        raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("shim", "raised"),
    [(FailingToStart(), ShimError), (Interrupted(), KeyboardInterrupt)],
    ids=["shim-fails-to-start", "keyboard-interrupt"],
)
def test_lease_is_released_when_the_shim_cannot_run_the_call(
    root: str, shim: Shim, raised: type[BaseException]
) -> None:
    runner = MemoizingRunner(root, shim=shim)
    with pytest.raises(raised):
        runner(pid_of_runner, (4,), {})
    key = runner.key_for(pid_of_runner, (4,), {})
    assert read_lease(_store_of(root), key.path) is None


def test_lease_is_released_when_a_local_call_raises(root: str, tmp_path: Path) -> None:
    runner = MemoizingRunner(root)
    with pytest.raises(Boom):
        runner(explode, (str(tmp_path),), {})
    key = runner.key_for(explode, (str(tmp_path),), {})
    assert read_lease(_store_of(root), key.path) is None
