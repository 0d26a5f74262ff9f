"""Concern (d): store read and write throughput per backend (memory://, file://).

A hit is one `Store.read`; a miss publishes with one exclusive `Store.write`. Cloud
backends are left out on purpose: here they would run against local emulators (moto,
Azurite, fake-gcs-server), whose speed says nothing about S3, Azure or GCS.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks import timing
from benchmarks.cases import KiB, MiB, human_size
from benchmarks.conftest import profile_of
from memokey_backends import Store, open_store

PAYLOADS = {"full": (KiB, MiB, 64 * MiB), "smoke": (KiB, 64 * KiB)}
BACKENDS = ("memory://", "file://")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "payload" in metafunc.fixturenames:
        sizes = PAYLOADS[profile_of(metafunc.config)]
        metafunc.parametrize("payload", sizes, ids=[human_size(n).replace(" ", "") for n in sizes])


def _store(backend: str, where: Path) -> Store:
    if backend == "memory://":
        return open_store(f"memory://memokey-bench-store/{where.name}")
    return open_store(where.as_uri())


def _extra(operation: str, backend: str, payload: int) -> dict[str, Any]:
    return {"concern": "store", "operation": operation, "approach": backend, "bytes": payload}


@pytest.mark.parametrize("backend", BACKENDS)
def test_store_write(
    benchmark: BenchmarkFixture, backend: str, payload: int, tmp_path: Path, budget_s: float
) -> None:
    benchmark.group = f"store write {human_size(payload)}"
    store = _store(backend, tmp_path)
    data = os.urandom(payload)
    fresh = itertools.count()
    written: list[str] = []

    def next_path() -> tuple[tuple[Any, ...], dict[str, Any]]:
        while written:  # drop the previous round's object, untimed, so memory stays flat
            store.delete(written.pop())
        path = f"bench/{next(fresh)}/result"
        written.append(path)
        return (path, data), {"exclusive": True}

    timing.run_with_setup(
        benchmark,
        store.write,
        next_path,
        budget_s=budget_s,
        extra=_extra("write", backend, payload),
    )
    store.delete("bench", recursive=True)


@pytest.mark.parametrize("backend", BACKENDS)
def test_store_read(
    benchmark: BenchmarkFixture, backend: str, payload: int, tmp_path: Path, budget_s: float
) -> None:
    benchmark.group = f"store read {human_size(payload)}"
    store = _store(backend, tmp_path)
    data = os.urandom(payload)
    store.write("bench/result", data, exclusive=True)
    timing.run(
        benchmark,
        lambda: store.read("bench/result"),
        budget_s=budget_s,
        extra=_extra("read", backend, payload),
    )
    assert store.read("bench/result") == data
    store.delete("bench", recursive=True)
