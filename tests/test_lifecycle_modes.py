"""Run modes: ``with memokey.mode(...)`` and ``MEMOKEY_MODE`` change how calls use the
store (off, readonly, refresh, offline), on all five backends."""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from typing import Any

import pytest

import memokey
from memokey import OfflineMissError
from memokey_backends import open_store

Location = tuple[str, dict[str, Any]]
RUNS: Counter[Any] = Counter()
VERSION = "MEMOKEY_TEST_MODES_VERSION"


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    RUNS.clear()
    monkeypatch.setenv(VERSION, "1")
    monkeypatch.delenv("MEMOKEY_MODE", raising=False)


def _square(location: Location) -> Any:
    url, options = location

    @memokey.memoize(url, storage_options=options)
    def square(x: int) -> int:
        RUNS[x] += 1
        return x * x + int(os.environ[VERSION]) - 1

    return square


def _stored_objects(location: Location) -> list[str]:
    url, options = location
    return [i.path for i in open_store(url, **options).list("", recursive=True)]


def test_offline_mode_serves_hits_and_raises_on_any_miss(store_root: Location) -> None:
    square = _square(store_root)
    square(2)
    with memokey.mode("offline"):
        assert square(2) == 4
        with pytest.raises(OfflineMissError, match="offline") as caught:
            square(3)
    assert isinstance(caught.value, memokey.MemokeyError)
    assert square.key_for(3).uri in str(caught.value)  # says which entry is missing
    assert Counter({2: 1}) == RUNS
    assert not square.is_cached(3)


def test_readonly_mode_serves_hits_and_computes_misses_without_writing(
    store_root: Location,
) -> None:
    square = _square(store_root)
    square(2)
    before = _stored_objects(store_root)
    with memokey.mode("readonly"):
        assert square(2) == 4
        assert square(3) == 9
        assert square(3) == 9  # computed again: nothing was stored
    assert Counter({2: 1, 3: 2}) == RUNS
    assert _stored_objects(store_root) == before  # no entry, no lease, nothing


def test_off_mode_calls_the_function_and_never_touches_the_store(
    store_root: Location,
) -> None:
    square = _square(store_root)
    with memokey.mode("off"):
        assert square(2) == square(2) == 4
    assert Counter({2: 2}) == RUNS
    assert _stored_objects(store_root) == []


def test_refresh_mode_recomputes_every_call_and_replaces_its_entry(
    store_root: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    square = _square(store_root)
    assert square(2) == 4
    monkeypatch.setenv(VERSION, "2")
    with memokey.mode("refresh"):
        assert square(2) == 5
    assert square(2) == 5  # the replacement is stored
    assert Counter({2: 2}) == RUNS


def test_memokey_mode_applies_outside_any_with_block_and_with_wins(
    store_root: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    square = _square(store_root)
    monkeypatch.setenv("MEMOKEY_MODE", "offline")
    with pytest.raises(OfflineMissError):
        square(2)
    with memokey.mode("normal"):
        assert square(2) == 4
    assert square(2) == 4  # offline, and now a hit


@pytest.mark.parametrize("spelling", ["Offline", " offline "])
def test_mode_names_are_case_and_space_insensitive(spelling: str) -> None:
    with memokey.mode(spelling):  # type: ignore[arg-type]
        assert memokey.modes.current_mode() == "offline"


def test_an_unknown_mode_is_refused_naming_the_choices(
    memory_root: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        pytest.raises(memokey.ConfigurationError, match="'readonly'"),
        memokey.mode("read-only"),  # type: ignore[arg-type]
    ):
        pass
    square = _square(memory_root)
    monkeypatch.setenv("MEMOKEY_MODE", "sometimes")
    with pytest.raises(memokey.ConfigurationError, match="MEMOKEY_MODE"):
        square(1)


def test_modes_apply_to_coroutine_functions_and_background_calls(
    memory_root: Location,
) -> None:
    url, options = memory_root

    @memokey.memoize(url, storage_options=options)
    async def twice(x: int) -> int:
        RUNS[x] += 1
        return 2 * x

    square = _square(memory_root)

    async def offline_call() -> int:
        with memokey.mode("offline"):
            result: int = await twice(1)
            return result

    with pytest.raises(OfflineMissError):
        asyncio.run(offline_call())
    with memokey.mode("offline"):
        future = square.submit(5)
    with pytest.raises(OfflineMissError):
        future.result()
    with memokey.mode("readonly"):
        assert asyncio.run(twice(2)) == 4
    assert not twice.is_cached(2)
