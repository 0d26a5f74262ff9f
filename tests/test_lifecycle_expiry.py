"""Expiry: ``memoize(..., ttl=...)`` turns an entry older than ttl into a miss, judged
by the creation time in the entry's own header (no extra request), and replaces it."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

import memokey
from helpers.expiry import age_entry as _age
from memokey import OfflineMissError
from memokey.expiry import created_at, expired
from memokey_backends import open_store

Location = tuple[str, dict[str, Any]]
RUNS: Counter[Any] = Counter()
VERSION = "MEMOKEY_TEST_EXPIRY_VERSION"


@pytest.fixture(autouse=True)
def _fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    RUNS.clear()
    monkeypatch.setenv(VERSION, "1")


def _versioned(location: Location, **options: Any) -> Any:
    url, storage_options = location

    @memokey.memoize(url, storage_options=storage_options, **options)
    def version(name: str) -> int:
        RUNS[name] += 1
        return int(os.environ[VERSION])

    return version


def test_an_entry_younger_than_ttl_is_a_hit(store_root: Location) -> None:
    version = _versioned(store_root, ttl=3600)
    assert version("a") == version("a") == 1
    assert Counter({"a": 1}) == RUNS


def test_an_entry_older_than_ttl_is_recomputed_and_replaced(
    store_root: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = _versioned(store_root, ttl=timedelta(hours=1))
    assert version("a") == 1
    _age(store_root, version.key_for("a").uri, 7200)
    monkeypatch.setenv(VERSION, "2")
    assert version("a") == 2
    assert version("a") == 2  # the replacement is fresh: a hit
    assert Counter({"a": 2}) == RUNS


def test_every_entry_records_its_creation_time_in_its_header(store_root: Location) -> None:
    url, options = store_root
    version = _versioned(store_root)  # no ttl: the time is recorded anyway
    before = time.time()
    version("a")
    key = version.key_for("a")
    data = open_store(url, **options).read(key.path)
    created = created_at(data)
    assert created is not None
    assert before - 1 <= created <= time.time() + 1
    assert not expired(data, 3600)
    assert expired(data, 3600, now=created + 3600)


def test_an_expired_entry_is_a_miss_in_offline_mode(store_root: Location) -> None:
    version = _versioned(store_root, ttl=60)
    version("a")
    _age(store_root, version.key_for("a").uri, 120)
    with memokey.mode("offline"), pytest.raises(OfflineMissError):
        version("a")


def test_expiry_applies_to_coroutine_functions(
    memory_root: Location, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, options = memory_root

    @memokey.memoize(url, storage_options=options, ttl=60)
    async def version(name: str) -> int:
        RUNS[name] += 1
        return int(os.environ[VERSION])

    assert asyncio.run(version("a")) == 1
    _age(memory_root, version.key_for("a").uri, 120)
    monkeypatch.setenv(VERSION, "2")
    assert asyncio.run(version("a")) == 2
    assert asyncio.run(version("a")) == 2
    assert Counter({"a": 2}) == RUNS


@pytest.mark.parametrize("ttl", [0, -1, float("nan"), "1h", True])
def test_a_ttl_that_is_not_a_positive_duration_is_refused(ttl: Any) -> None:
    with pytest.raises(memokey.ConfigurationError, match="ttl="):
        memokey.memoize("memory://x", ttl=ttl)
