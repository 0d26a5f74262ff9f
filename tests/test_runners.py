"""MemoizingRunner: hit or miss, publishing, errors, and what it leaves in the store."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import memokey
from helpers.core import memory_root
from memokey._compute_once import thread_locks
from memokey.entry_reader import read_entry_meta
from memokey.errors import (
    ResultCorruptedError,
    SerializationError,
    StoreError,
)
from memokey.results import encode_result
from memokey.runners import MemoizingRunner
from memokey_backends import open_store

RUNS: Counter[str] = Counter()


@pytest.fixture(params=["memory", "file"])
def root_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return memory_root() if request.param == "memory" else f"file://{tmp_path}/cache"


def double(x: int) -> int:
    RUNS["double"] += 1
    return 2 * x


class Boom(Exception):
    pass


def explode(x: int) -> int:
    RUNS["explode"] += 1
    raise Boom(f"boom {x}")


def make_lock(x: int) -> Any:
    RUNS["make_lock"] += 1
    return threading.Lock()


@pytest.fixture(autouse=True)
def _reset_runs() -> None:
    RUNS.clear()


def test_first_call_computes_and_second_call_reads(root_url: str) -> None:
    runner = MemoizingRunner(root_url)
    assert runner(double, (21,), {}) == 42
    assert runner(double, (21,), {}) == 42
    assert RUNS["double"] == 1


def test_calls_binding_to_the_same_arguments_share_one_result(root_url: str) -> None:
    runner = MemoizingRunner(root_url)
    runner(double, (3,), {})
    runner(double, (), {"x": 3})
    assert RUNS["double"] == 1


def test_different_arguments_compute_separately(root_url: str) -> None:
    runner = MemoizingRunner(root_url)
    runner(double, (1,), {})
    runner(double, (2,), {})
    assert RUNS["double"] == 2


def test_a_second_runner_on_the_same_root_reads_the_first_ones_result(root_url: str) -> None:
    MemoizingRunner(root_url)(double, (5,), {})
    assert MemoizingRunner(root_url)(double, (5,), {}) == 10
    assert RUNS["double"] == 1


def test_result_is_published_under_the_documented_layout(root_url: str) -> None:
    runner = MemoizingRunner(root_url, namespace="exp")
    runner(double, (4,), {})
    key = runner.key_for(double, (4,), {})
    assert key.code_version is not None  # no logic key: the code fingerprint keys it
    assert key.path == f"memokey-v2/exp/{key.function_id}={key.code_version}/{key.digest}"
    assert key.uri.endswith(key.path)
    function_dir = key.path.rsplit("/", 1)[0]
    names = {e.path.rsplit("/", 1)[-1] for e in open_store(root_url).list(function_dir)}
    assert {n for n in names if not n.startswith(".")} == {key.digest}  # one object


def test_namespaces_keep_results_apart(root_url: str) -> None:
    MemoizingRunner(root_url, namespace="a")(double, (1,), {})
    MemoizingRunner(root_url, namespace="b")(double, (1,), {})
    assert RUNS["double"] == 2


def test_logic_key_rekeys_the_function(root_url: str) -> None:
    MemoizingRunner(root_url)(double, (1,), {})
    runner = MemoizingRunner(root_url, logic_key="v2")
    runner(double, (1,), {})
    assert RUNS["double"] == 2
    assert runner.key_for(double, (1,), {}).path.split("/")[2].endswith("@v2")


def test_exception_from_the_function_propagates_unchanged_and_stores_nothing(
    root_url: str,
) -> None:
    runner = MemoizingRunner(root_url)
    with pytest.raises(Boom, match="boom 1"):
        runner(explode, (1,), {})
    key = runner.key_for(explode, (1,), {})
    assert open_store(root_url).list(key.path, recursive=True) == []


def test_failed_call_is_computed_again_next_time(root_url: str) -> None:
    runner = MemoizingRunner(root_url)
    for _ in range(2):
        with pytest.raises(Boom):
            runner(explode, (1,), {})
    assert RUNS["explode"] == 2


def test_unserializable_result_raises_serialization_error_and_stores_nothing(
    root_url: str,
) -> None:
    runner = MemoizingRunner(root_url)
    with pytest.raises(SerializationError, match="could not be serialized"):
        runner(make_lock, (1,), {})
    key = runner.key_for(make_lock, (1,), {})
    assert open_store(root_url).list(key.path, recursive=True) == []


def test_corrupted_result_raises_and_is_neither_returned_nor_recomputed(root_url: str) -> None:
    runner = MemoizingRunner(root_url)
    runner(double, (7,), {})
    key = runner.key_for(double, (7,), {})
    store = open_store(root_url)
    data = store.read(key.path)
    assert data is not None
    store.delete(key.path)
    store.write(key.path, data[:-3])
    with pytest.raises(ResultCorruptedError) as info:
        runner(double, (7,), {})
    assert key.uri in str(info.value)
    assert RUNS["double"] == 1
    assert store.read(key.path) == data[:-3]


def test_store_failure_raises_store_error_instead_of_computing(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    runner = MemoizingRunner(f"file://{blocker}/cache")
    with pytest.raises(StoreError):
        runner(double, (1,), {})
    assert RUNS["double"] == 0


def test_losing_the_publish_race_returns_the_winners_value(root_url: str) -> None:
    # racing_double reads RACE, set below from the key: code="off" keeps RACE (test
    # plumbing) out of the key, which the code fingerprint would otherwise include.
    runner = MemoizingRunner(root_url, code="off")
    key = runner.key_for(racing_double, (8,), {})
    RACE.update(root=root_url, path=key.path)
    assert runner(racing_double, (8,), {}) == -1
    assert runner(racing_double, (8,), {}) == -1
    assert RUNS["racing_double"] == 1


def test_metadata_trailer_describes_the_call(root_url: str) -> None:
    runner = MemoizingRunner(root_url)
    runner(double, (6,), {})
    key = runner.key_for(double, (6,), {})
    meta = read_entry_meta(open_store(root_url), key.path)
    assert meta is not None
    assert meta["uri"] == key.uri
    assert meta["function_id"] == key.function_id
    assert meta["digest"] == key.digest
    assert meta["namespace"] == "default"
    assert meta["arguments"] == {"x": "6"}
    assert meta["serializer"] == "cloudpickle"
    assert meta["result_type"] == "builtins.int"
    assert meta["memokey_version"] == memokey.__version__
    assert meta["duration_seconds"] >= 0
    assert {"host", "pid", "python", "started", "payload_bytes", "manifest"} <= set(meta)
    assert meta["manifest"]["x"]["type"] == "builtins.int"
    assert meta["manifest"]["x"]["digest"] == memokey.digest(6)


def test_metadata_trailer_truncates_long_argument_reprs(root_url: str) -> None:
    runner = MemoizingRunner(root_url)
    runner(double, ("x" * 10_000,), {})
    key = runner.key_for(double, ("x" * 10_000,), {})
    meta = read_entry_meta(open_store(root_url), key.path)
    assert meta is not None
    assert len(meta["arguments"]["x"]) <= 80


def test_pickle_serializer_is_used_when_asked(root_url: str) -> None:
    runner = MemoizingRunner(root_url, serializer="pickle")
    runner(double, (2,), {})
    key = runner.key_for(double, (2,), {})
    raw = open_store(root_url).read(key.path)
    assert raw is not None
    assert b"pickle" in raw[:16]
    assert MemoizingRunner(root_url, serializer="pickle")(double, (2,), {}) == 4
    assert RUNS["double"] == 1
    # A runner configured with another serializer refuses it (no downgrade, SECURITY.md).
    with pytest.raises(SerializationError, match="configured with 'cloudpickle'"):
        MemoizingRunner(root_url)(double, (2,), {})


def test_one_debug_line_per_miss_and_per_hit_names_the_uri(
    root_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    runner = MemoizingRunner(root_url)
    key = runner.key_for(double, (9,), {})
    with caplog.at_level(logging.DEBUG, logger="memokey"):
        runner(double, (9,), {})
        runner(double, (9,), {})
    lines = [r.getMessage() for r in caplog.records if r.name == "memokey"]
    assert lines == [f"miss {key.uri}", f"hit {key.uri}"]


def test_concurrent_identical_calls_in_threads_compute_once(root_url: str) -> None:
    runner = MemoizingRunner(root_url)
    gate = threading.Barrier(8)
    results: list[int] = []

    def call() -> None:
        gate.wait()
        results.append(runner(slow_double, (3,), {}))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [6] * 8
    assert RUNS["slow_double"] == 1


def test_per_uri_locks_are_released_after_calls(root_url: str) -> None:
    runner = MemoizingRunner(root_url)
    for x in range(20):
        runner(double, (x,), {})
    assert len(thread_locks) == 0


def test_with_root_redirects_a_runner_with_its_own_root(tmp_path: Path) -> None:
    runner = MemoizingRunner(memory_root())
    other = f"file://{tmp_path}/other"
    with memokey.root(other):
        runner(double, (1,), {})
        key = runner.key_for(double, (1,), {})
    assert key.root_url.rstrip("/").endswith(f"{tmp_path}/other")
    assert open_store(other).exists(key.path)


@pytest.mark.parametrize("namespace", ["", "a/b", "..", " padded"])
def test_bad_namespace_is_refused(namespace: str) -> None:
    with pytest.raises(ValueError, match="namespace"):
        MemoizingRunner(memory_root(), namespace=namespace)


def test_non_positive_lease_seconds_is_refused() -> None:
    with pytest.raises(ValueError, match="lease_seconds"):
        MemoizingRunner(memory_root(), lease_seconds=0)


RACE: dict[str, str] = {}


def racing_double(x: int) -> int:
    """Another process publishes this very key while the call computes."""
    RUNS["racing_double"] += 1
    open_store(RACE["root"]).write(RACE["path"], encode_result(-1), exclusive=True)
    return 2 * x


_SLOW = threading.Event()


def slow_double(x: int) -> int:
    RUNS["slow_double"] += 1
    _SLOW.wait(0.2)  # give the other threads time to pile up on the lock
    return 2 * x
