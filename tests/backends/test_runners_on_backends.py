"""The runners, unchanged, on every backend: memory, file, S3, GCS and Azure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

import memokey
from helpers.backend_seed import COMPUTED, connect, memoized_query
from memokey.layout import is_entry
from memokey_backends import open_store

TESTS_DIR = Path(__file__).resolve().parents[1]
Location = tuple[str, dict[str, Any]]
# Module globals, not closure cells: a memoized closure's key includes its cells' values.
CALLS: list[Any] = []
CALLS_LOCK = threading.Lock()


def result_path(key: memokey.MemoKey) -> str:
    return key.path  # the entry is one object at the key's path


@pytest.fixture(autouse=True)
def _reset_counts() -> None:
    COMPUTED.clear()
    CALLS.clear()


def test_seed_example_computes_once_for_three_spellings_of_one_call(store_root: Location) -> None:
    url, options = store_root
    q = memoized_query(url, options)
    c1, c2 = connect(), connect()
    first = q(c1, "t")
    assert q(c2, "t", limit=3) == first
    assert q(conn=c1, tbl_name="t") == first
    assert first == [(0,), (1,), (2,)]
    assert COMPUTED["query"] == 1


def test_seed_example_hits_from_a_second_process(store_root: Location) -> None:
    url, options = store_root
    if open_store(url, **options).process_local:
        pytest.skip("memory:// is process-local: another process cannot see its results")
    memoized_query(url, options)(connect(), "t")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), *sys.path])}
    out = subprocess.run(
        [sys.executable, "-m", "helpers.backend_seed", url, json.dumps(options)],
        capture_output=True,
        text=True,
        env=env,
        cwd=TESTS_DIR,
        timeout=120,
        check=True,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report == {"computed": 0, "rows": [[0], [1], [2]]}


def test_default_runner_computes_once_and_stores_under_the_root(store_root: Location) -> None:
    url, options = store_root

    @memokey.memoize(url, storage_options=options)
    def square(x: int) -> int:
        CALLS.append(x)
        return x * x

    assert (square(7), square(7), square(x=7)) == (49, 49, 49)
    assert CALLS == [7]
    key = square.key_for(7)
    assert key.uri.startswith(open_store(url, **options).url + "/memokey-v2/")
    assert open_store(url, **options).exists(result_path(key))


def test_root_context_switches_backends_mid_program(
    store_root: Location, request: pytest.FixtureRequest
) -> None:
    other: Location = request.getfixturevalue(
        "file_root" if store_root[0].startswith("memory://") else "memory_root"
    )

    @memokey.memoize
    def tag(x: str) -> str:
        CALLS.append(x)
        return x.upper()

    for url, options in (store_root, other, store_root, other):
        with memokey.root(url, **options):
            assert tag("a") == "A"
    assert CALLS == ["a", "a"]  # once per backend; the second visit to each is a hit
    for url, options in (store_root, other):
        with memokey.root(url, **options):
            key = memokey.key_for(tag, "a")
        assert open_store(url, **options).exists(result_path(key))


def test_sixteen_threads_on_one_key_leave_one_whole_result(store_root: Location) -> None:
    url, options = store_root

    @memokey.memoize(url, storage_options=options)
    def blob(n: int) -> bytes:
        with CALLS_LOCK:
            CALLS.append(n)
        return bytes(range(256)) * (n // 256)

    barrier = threading.Barrier(16)
    results: list[Any] = [None] * 16

    def call(i: int) -> None:
        barrier.wait()
        results[i] = blob(256 * 1024)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = bytes(range(256)) * 1024
    assert CALLS == [256 * 1024]
    assert all(r == expected for r in results)
    store = open_store(url, **options)
    key = blob.key_for(256 * 1024)
    function_dir = key.path.rsplit("/", 1)[0]
    assert [e.path for e in store.list(function_dir) if is_entry(e.path)] == [result_path(key)]


@pytest.mark.parametrize("damage", ["truncated", "tampered"])
def test_damaged_result_raises_result_corrupted(store_root: Location, damage: str) -> None:
    url, options = store_root

    @memokey.memoize(url, storage_options=options)
    def payload(x: int) -> list[int]:
        return list(range(x))

    payload(100)
    store = open_store(url, **options)
    path = result_path(payload.key_for(100))
    data = store.read(path)
    assert data is not None
    flipped = data[:-3] + bytes([data[-3] ^ 0xFF]) + data[-2:]
    broken = data[:-7] if damage == "truncated" else flipped
    store.write(path, broken)
    with pytest.raises(memokey.ResultCorruptedError):
        payload(100)
