"""Compute once across real processes: racing callers, and a holder killed mid-call."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.core import write_module
from helpers.remote import Root, root_on
from memokey.layout import is_entry
from memokey.leases import read_lease
from memokey_backends import open_store

pytestmark = pytest.mark.slow

MODULE = """
import os, time
import memokey

MARKS = {marks!r}

@memokey.memoize(lease_seconds={lease_seconds})
def slow(x):
    open(os.path.join(MARKS, f"ran-{{os.getpid()}}"), "w").close()
    while os.path.exists(os.path.join(MARKS, "hang")):
        time.sleep(0.05)
    time.sleep({work})
    return x * 2
"""

CALLER = """
import importlib, json, os, sys, time
import memokey
mod = importlib.import_module(sys.argv[1])
go = os.path.join(mod.MARKS, "go")
open(os.path.join(mod.MARKS, f"ready-{os.getpid()}"), "w").close()
while not os.path.exists(go):
    time.sleep(0.01)
with memokey.root(sys.argv[2], **json.loads(sys.argv[3])):
    print(mod.slow(21))
"""


@pytest.fixture(params=["file", "s3", "azure"])
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


def _wait_for(path: Path, pattern: str, count: int) -> None:
    deadline = time.monotonic() + 60
    while len(list(path.glob(pattern))) < count:
        assert time.monotonic() < deadline, f"no {count} x {pattern} in {path}"
        time.sleep(0.02)


def _setup(tmp_path: Path, *, lease_seconds: float, work: float) -> tuple[Path, Path, str]:
    marks = tmp_path / "marks"
    marks.mkdir()
    code = tmp_path / "code"
    code.mkdir()
    source = MODULE.format(marks=str(marks), lease_seconds=lease_seconds, work=work)
    return marks, code, write_module(code, source)


@pytest.mark.parametrize("racers", [4, 16])
def test_racing_processes_compute_once_and_all_get_the_value(
    root: Root, tmp_path: Path, racers: int
) -> None:
    marks, code, module = _setup(tmp_path, lease_seconds=30, work=0.5)
    callers = [_caller(module, root, code) for _ in range(racers)]
    _wait_for(marks, "ready-*", racers)
    (marks / "go").touch()
    outputs = [p.communicate(timeout=180) for p in callers]
    assert [p.returncode for p in callers] == [0] * racers, [err for _, err in outputs]
    assert [out.strip() for out, _ in outputs] == ["42"] * racers
    assert len(list(marks.glob("ran-*"))) == 1


def test_a_waiter_takes_over_after_the_holder_is_killed(root: Root, tmp_path: Path) -> None:
    marks, code, module = _setup(tmp_path, lease_seconds=1.0, work=0)
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
    store = open_store(root.url, **root.options)
    entries = [e.path for e in store.list("memokey-v2/default", recursive=True)]
    (entry,) = [p for p in entries if is_entry(p)]
    assert read_lease(store, entry) is None  # the waiter released the lease it took
