"""Crash recovery: a lease whose holder ran on this machine and has ended (SIGKILL, OOM)
is taken over at once; a caller waiting on anyone else logs one line naming the holder."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from helpers.core import write_module
from helpers.crash_jobs import SLOW_MODULE
from helpers.remote import Root, root_on
from memokey import leases
from memokey._holders import this_process
from memokey.errors import LeaseError
from memokey.leases import LeaseRecord, acquire_or_wait, read_lease, try_acquire
from memokey_backends import open_store
from memokey_backends.protocol import Store

MEMO = "memokey-v2/default/mod--f/0123456789abcdef0123456789abcdef"

pytestmark = pytest.mark.skipif(
    this_process().machine is None, reason="needs /proc (Linux) to see processes"
)


@pytest.fixture
def store(store_root: tuple[str, dict[str, Any]]) -> Store:
    url, options = store_root
    return open_store(url, **options)


def _plant(store: Store, **changes: Any) -> LeaseRecord:
    """A live (unexpired, 10 minutes) lease record held by this process, changed by
    `changes`, written where a holder would have written it."""
    record = replace(LeaseRecord.fresh(600.0), **changes)
    store.write(f"{MEMO}.lease", record.encode())
    return record


def _ended_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_lease_whose_holder_process_has_ended_is_taken_over_at_once(store: Store) -> None:
    _plant(store, pid=_ended_pid())
    lease = try_acquire(store, MEMO, lease_seconds=600.0)
    assert lease is not None
    with lease:
        assert read_lease(store, MEMO) == lease.record


def test_a_killed_holder_left_as_a_zombie_is_taken_over(store: Store) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        os.kill(child.pid, signal.SIGKILL)
        time.sleep(0.2)  # not reaped yet: the pid still exists, as a zombie
        me = this_process()
        started = int(Path(f"/proc/{child.pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        _plant(store, pid=child.pid, started=started, machine=me.machine)
        lease = try_acquire(store, MEMO, lease_seconds=600.0)
        assert lease is not None
        lease.release()
    finally:
        child.wait()


def test_a_reused_pid_is_not_mistaken_for_the_holder(store: Store) -> None:
    me = this_process()
    assert me.started is not None
    _plant(store, pid=me.pid, started=me.started - 1)  # same pid, another process's start
    lease = try_acquire(store, MEMO, lease_seconds=600.0)
    assert lease is not None
    lease.release()


def test_a_live_holder_on_this_machine_keeps_its_lease(store: Store) -> None:
    planted = _plant(store)  # this very process: alive
    assert try_acquire(store, MEMO, lease_seconds=600.0) is None
    assert read_lease(store, MEMO) == planted


@pytest.mark.parametrize(
    "elsewhere",
    [{"host": "another-host"}, {"machine": "another-boot/pid:[1]"}, {"machine": None}],
    ids=["other-host", "other-machine-or-container", "unknown-machine"],
)
def test_a_holder_that_cannot_be_seen_from_here_keeps_its_lease_until_it_expires(
    store: Store, elsewhere: dict[str, Any]
) -> None:
    planted = _plant(store, pid=_ended_pid(), **elsewhere)
    assert try_acquire(store, MEMO, lease_seconds=600.0) is None
    assert read_lease(store, MEMO) == planted


def test_a_waiting_caller_logs_one_line_naming_the_holder_and_the_expiry(
    store: Store, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(leases, "REPORT_AFTER", 0.1)
    _plant(store, host="gpu-node-7", pid=4242)
    with caplog.at_level(logging.INFO, logger="memokey"), pytest.raises(LeaseError):
        acquire_or_wait(store, MEMO, done=lambda: False, lease_seconds=600.0, timeout=1.0)
    lines = [r.getMessage() for r in caplog.records if "waiting for" in r.getMessage()]
    assert len(lines) == 1, lines
    assert "host gpu-node-7 pid 4242" in lines[0]
    assert "expires in" in lines[0]


# -- real processes, SIGKILLed mid-call ------------------------------------------------------

CALLER = """
import importlib, json, sys, time
import memokey
mod = importlib.import_module(sys.argv[1])
with memokey.root(sys.argv[2], **json.loads(sys.argv[3])):
    began = time.monotonic()
    value = mod.slow(21)
    print(json.dumps({"value": value, "seconds": time.monotonic() - began, "at": time.time()}))
"""


@pytest.fixture(params=["file", "s3"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Root]:
    yield from root_on(request.param, request, tmp_path)


def _caller(module: str, root: Root, path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(path), *sys.path])}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CALLER), module, root.url, json.dumps(root.options)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
@pytest.mark.parametrize("already_waiting", [False, True], ids=["next-caller", "waiting-caller"])
def test_after_the_holder_is_sigkilled_the_next_caller_computes_before_its_lease_expires(
    root: Root, tmp_path: Path, already_waiting: bool
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    code = tmp_path / "code"
    code.mkdir()
    module = write_module(code, SLOW_MODULE.format(marks=str(marks)))
    (marks / "hang").touch()
    holder = _caller(module, root, code)
    deadline = time.monotonic() + 60
    while not list(marks.glob("ran-*")):
        assert holder.poll() is None, holder.stderr
        assert time.monotonic() < deadline
        time.sleep(0.02)
    store = open_store(root.url, **root.options)
    paths = [e.path for e in store.list("memokey-v2", recursive=True)]
    leased = [p for p in paths if p.endswith(".lease")]
    if root.kind == "file":  # kernel byte-range locks: no lease object at all
        assert leased == []
        expires_at = time.time() + 60  # the module's lease_seconds
    else:
        held = read_lease(store, leased[0].removesuffix(".lease"))
        assert held is not None
        assert held.pid == holder.pid
        expires_at = held.expires_at
    waiter = _caller(module, root, code) if already_waiting else None
    if waiter is not None:
        time.sleep(1.0)  # let it start and begin polling the lease
    killed_at = time.time()
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    (marks / "hang").unlink()
    out, err = (waiter or _caller(module, root, code)).communicate(timeout=120)
    report = json.loads(out)
    assert report["value"] == 42, err
    assert report["at"] < expires_at  # taken over, not waited out
    who = "waiting caller" if already_waiting else "next caller"
    print(f"{root.kind}: {who} returned {report['at'] - killed_at:.2f} s after the SIGKILL")


@pytest.mark.parametrize("seconds", [float("inf"), float("nan"), 0.0])
def test_a_lease_that_could_never_expire_is_refused(store: Store, seconds: float) -> None:
    with pytest.raises(LeaseError, match="positive and finite"):
        try_acquire(store, MEMO, lease_seconds=seconds)
