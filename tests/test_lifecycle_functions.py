"""Every memoized function manages its own results: is_cached, forget, refresh, clear,
entries, on all five backends (the `store_root` fixture)."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import Counter
from typing import Any

import pytest

import memokey
from memokey.lifecycle import StoredEntry

Location = tuple[str, dict[str, Any]]

# Functions read outside state through os.environ (not part of their code fingerprint:
# a test changing a global the function reads would re-key it) and count their runs in
# RUNS (their own side effect, which does not re-key).
RUNS: Counter[Any] = Counter()
MISSES: list[str] = []
VERSION = "MEMOKEY_TEST_LIFECYCLE_VERSION"


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    RUNS.clear()
    MISSES.clear()
    monkeypatch.setenv(VERSION, "1")


def _memoize(location: Location, **options: Any) -> Any:
    url, storage_options = location
    return memokey.memoize(url, storage_options=storage_options, **options)


def test_is_cached_says_whether_a_call_is_stored_without_computing_it(
    store_root: Location,
) -> None:
    @_memoize(store_root)
    def square(x: int) -> int:
        RUNS[x] += 1
        return x * x

    assert square.is_cached(3) is False
    assert square(3) == 9
    assert square.is_cached(3) is True
    assert square.is_cached(x=3) is True  # bound like a call
    assert square.is_cached(4) is False
    assert Counter({3: 1}) == RUNS


def test_forget_deletes_one_call_and_says_whether_it_was_stored(store_root: Location) -> None:
    @_memoize(store_root)
    def square(x: int) -> int:
        RUNS[x] += 1
        return x * x

    square(2), square(3)
    assert square.forget(2) is True
    assert square.forget(2) is False
    assert not square.is_cached(2)
    assert square.is_cached(3)
    assert square(2) == 4
    assert Counter({2: 2, 3: 1}) == RUNS


def test_refresh_recomputes_and_replaces_the_stored_result(
    store_root: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    @_memoize(store_root)
    def current(key: str) -> int:
        return int(os.environ[VERSION])

    assert current("a") == 1
    monkeypatch.setenv(VERSION, "2")
    assert current("a") == 1  # a hit
    assert current.refresh("a") == 2
    assert current("a") == 2  # the replacement is what later calls read
    assert current.refresh("b") == 2  # refreshing an absent call stores it
    assert current.is_cached("b")


def test_clear_deletes_every_stored_call_of_this_version_and_counts_them(
    store_root: Location,
) -> None:
    @_memoize(store_root)
    def double(x: int) -> int:
        return 2 * x

    @_memoize(store_root)
    def triple(x: int) -> int:
        return 3 * x

    for x in range(3):
        double(x), triple(x)
    assert double.clear() == 3
    assert double.clear() == 0
    assert not any(double.is_cached(x) for x in range(3))
    assert all(triple.is_cached(x) for x in range(3))  # another function keeps its own


def test_clear_all_versions_reaches_every_logic_key_of_the_function(
    store_root: Location,
) -> None:
    url, options = store_root

    def make(logic_key: str) -> Any:
        def scale(x: int) -> int:
            return x

        scale.__qualname__ = "scale"
        return memokey.memoize(url, storage_options=options, logic_key=logic_key)(scale)

    old, new = make("v1"), make("v2")
    old(1), old(2), new(1)
    assert new.clear() == 1  # this version only
    assert old.is_cached(1)
    new(1)
    assert new.clear(all_versions=True) == 3
    assert not old.is_cached(1)
    assert not new.is_cached(1)


def test_entries_lists_stored_calls_with_their_metadata(store_root: Location) -> None:
    @_memoize(store_root, namespace="exp")
    def label(name: str, n: int = 2) -> str:
        return name * n

    label("ab"), label("cd", n=3)
    found = list(label.entries())
    assert all(isinstance(e, StoredEntry) for e in found)
    assert sorted(e.arguments["name"] for e in found) == ["'ab'", "'cd'"]
    key = label.key_for("ab")
    (ab,) = [e for e in found if e.arguments["name"] == "'ab'"]
    assert ab.uri == key.uri
    assert ab.digest == key.digest
    assert ab.meta["function_id"] == key.function_id
    assert ab.size > 0
    assert ab.modified is not None
    assert ab.problem is None
    assert ab.duration_seconds is not None
    label.forget("ab")
    assert [e.arguments["name"] for e in label.entries()] == ["'cd'"]


def test_lifecycle_helpers_work_on_coroutine_functions(
    store_root: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    @_memoize(store_root)
    async def fetch(x: int) -> int:
        return x + int(os.environ[VERSION])

    async def scenario() -> None:
        assert not fetch.is_cached(1)
        assert await fetch(1) == 2
        assert fetch.is_cached(1)
        monkeypatch.setenv(VERSION, "10")
        assert await fetch.refresh(1) == 11
        assert await fetch(1) == 11
        assert fetch.forget(1)
        assert fetch.clear() == 0

    asyncio.run(scenario())


def test_lifecycle_helpers_work_on_methods_bound_or_given_the_instance(
    store_root: Location,
) -> None:
    class Model:
        def __init__(self, scale: int) -> None:
            self.scale = scale

        def __reduce__(self) -> Any:
            return (Model, (self.scale,))

        @_memoize(store_root)
        def predict(self, x: int) -> int:
            return self.scale * x

    model = Model(3)
    assert model.predict(2) == 6
    assert model.predict.is_cached(2)  # bound: the instance is the first argument
    assert Model.predict.is_cached(model, 2)
    assert not Model(4).predict.is_cached(2)
    assert [e.arguments["x"] for e in model.predict.entries()] == ["2"]
    assert model.predict.refresh(2) == 6
    assert model.predict.forget(2)
    assert not Model.predict.forget(model, 2)
    model.predict(5)
    assert model.predict.clear() == 1


@pytest.mark.parametrize("backend", ["file", "memory", "s3"])
def test_readers_during_refresh_always_get_a_whole_old_or_new_value(
    backend: str, request: pytest.FixtureRequest
) -> None:
    """No reader sees a missing or partial result while the entry is replaced: every
    read is a hit (the function never runs in a reader thread) and every value is one
    of the whole values ever stored."""
    url, options = request.getfixturevalue(f"{backend}_root")

    @memokey.memoize(url, storage_options=options)
    def blob(size: int) -> bytes:
        name = threading.current_thread().name
        if name.startswith("reader"):
            MISSES.append(name)
        return bytes([time.perf_counter_ns() % 251]) * size

    size = 3 * 1024 * 1024  # large enough that a torn write would show
    blob(size)
    stop = threading.Event()
    bad: list[str] = []
    reads = Counter[str]()

    def reader() -> None:
        while not stop.is_set():
            value = blob(size)
            reads[threading.current_thread().name] += 1
            if len(value) != size or value.count(value[:1]) != size:
                bad.append(f"torn value of {len(value)} bytes")

    threads = [threading.Thread(target=reader, name=f"reader-{i}") for i in range(3)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(8):
            blob.refresh(size)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not bad
    assert not MISSES, f"readers missed during refresh: {MISSES[:3]}"
    assert sum(reads.values()) > 0
    last = blob.refresh(size)
    assert blob(size) == last
