"""Compute-once on local roots: kernel byte-range locks, no lock or lease file per miss."""

from __future__ import annotations

import gc
import os
import signal
import threading
from pathlib import Path

import pytest

import memokey
from helpers.remote import Root
from memokey import _local_locks
from memokey._local_locks import LOCK_FILE, LocalLock, lock_for
from test_leases_processes import _caller, _setup, _wait_for

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX byte-range locks")


def square(x: int) -> int:
    return x * x


def test_a_local_miss_leaves_exactly_one_file_per_entry(tmp_path: Path) -> None:
    f = memokey.memoize(f"file://{tmp_path}")(square)
    for x in range(3):
        f(x)
    function_dir = tmp_path / f.key_for(0).path.rsplit("/", 1)[0]
    names = sorted(p.name for p in function_dir.iterdir())
    assert names == sorted([LOCK_FILE, *(f.key_for(x).digest for x in range(3))])
    assert (function_dir / LOCK_FILE).stat().st_size == 0  # locks only, never data


def test_threads_of_one_process_exclude_each_other_on_one_key(tmp_path: Path) -> None:
    entry = str(tmp_path / "fn" / "0123456789abcdef0123456789abcdef")
    inside: list[int] = []
    overlaps: list[int] = []

    def hold() -> None:
        lock = lock_for(entry, "0123456789abcdef0123456789abcdef")
        assert lock is not None
        with lock:
            inside.append(1)
            if len(inside) > 1:
                overlaps.append(len(inside))
            threading.Event().wait(0.01)
            inside.pop()

    threads = [threading.Thread(target=hold) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []


def test_different_keys_do_not_wait_for_each_other(tmp_path: Path) -> None:
    a = LocalLock(str(tmp_path / LOCK_FILE), "a" * 32)
    b = LocalLock(str(tmp_path / LOCK_FILE), "b" * 32)
    with a:
        got = threading.Event()

        def take_b() -> None:
            with b:
                got.set()

        t = threading.Thread(target=take_b)
        t.start()
        t.join(timeout=30)
        assert got.is_set()


@pytest.mark.slow
def test_a_holder_killed_on_this_machine_never_makes_the_next_caller_wait(
    tmp_path: Path,
) -> None:
    # A lease of an hour: only the kernel dropping the dead holder's lock lets the
    # waiter in; with a lease object it would wait the whole hour.
    root = Root(f"file://{tmp_path}/root", {})
    marks, code, module = _setup(tmp_path, lease_seconds=3600, work=0)
    (marks / "hang").touch()
    (marks / "go").touch()
    holder = _caller(module, root, code)
    _wait_for(marks, "ran-*", 1)
    waiter = _caller(module, root, code)
    _wait_for(marks, "ready-*", 2)
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    (marks / "hang").unlink()
    out, err = waiter.communicate(timeout=120)
    assert waiter.returncode == 0, err
    assert out.strip() == "42"
    assert (marks / f"ran-{waiter.pid}").exists()


def test_a_long_run_of_distinct_keys_keeps_no_per_key_state_in_the_process(
    tmp_path: Path,
) -> None:
    f = memokey.memoize(f"file://{tmp_path}")(square)
    for x in range(2000):
        f(x)
    gc.collect()
    assert len(_local_locks._in_process) < 10  # one shared lock per key in use, none kept


def test_a_key_in_use_by_two_threads_shares_one_in_process_lock(tmp_path: Path) -> None:
    lock_file = str(tmp_path / LOCK_FILE)
    first = LocalLock(lock_file, "ab" * 16)
    second = LocalLock(lock_file, "ab" * 16)
    assert first._thread_lock is second._thread_lock
