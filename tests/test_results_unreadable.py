"""A result that serializes but cannot be read back: refused when small, and when it is
stored anyway (too large to check), the error names a `memokey rm` command that works."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import memokey
from memokey._roundtrip import ROUND_TRIP_LIMIT
from memokey.errors import SerializationError
from memokey_backends import open_store

RUNS: Counter[str] = Counter()


def _refuse_to_rebuild(blob: bytes) -> Any:
    raise ValueError("this object cannot be rebuilt")


class Unreadable:
    """Pickles fine; unpickling it always raises."""

    def __init__(self, size: int) -> None:
        self.blob = b"x" * size

    def __reduce__(self) -> tuple[Any, ...]:
        return (_refuse_to_rebuild, (self.blob,))


def test_a_small_result_that_cannot_be_read_back_is_refused_and_nothing_is_stored(
    store_root: tuple[str, dict[str, Any]],
) -> None:
    url, options = store_root

    @memokey.memoize(url, storage_options=options)
    def make(size: int) -> Unreadable:
        RUNS["small"] += 1
        return Unreadable(size)

    with pytest.raises(SerializationError, match=r"cannot be read back.*nothing was stored"):
        make(10)
    key = make.key_for(10)
    assert not open_store(url, **options).exists(key.path)


def test_a_large_unreadable_result_names_a_rm_command_that_works_when_pasted(
    tmp_path: Path,
) -> None:
    url = f"file://{tmp_path}/a root"

    @memokey.memoize(url)
    def make(size: int) -> Unreadable:
        RUNS["large"] += 1
        return Unreadable(size)

    size = ROUND_TRIP_LIMIT + 1  # too large to check: stored as it was
    make(size)
    with pytest.raises(SerializationError, match="memokey rm") as info:
        make(size)
    command = str(info.value).split("`memokey rm ", 1)[1].split("`", 1)[0]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        f"{shlex.quote(sys.executable)} -m memokey rm {command}",
        shell=True,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    before = RUNS["large"]
    make(size)  # the entry is gone: computed again (and stored again)
    assert RUNS["large"] == before + 1


def test_a_remote_run_refuses_to_publish_a_result_that_cannot_be_read_back(
    tmp_path: Path,
) -> None:
    from memokey.shims import subprocess_shim

    url = f"file://{tmp_path}/remote"

    @memokey.memoize(url, shim=subprocess_shim)
    def make_remote(size: int) -> Unreadable:
        return Unreadable(size)

    with pytest.raises(SerializationError, match="cannot be read back"):
        make_remote(10)
    key = make_remote.key_for(10)
    assert not open_store(url).exists(key.path)
