"""Concern (b): what the decorator costs per call, hit and miss, next to the peers.

A tiny call `add(1, 2)` measures the fixed overhead (key derivation, one store lookup,
and on a miss the publish); a hit whose argument is a 100 MiB ndarray measures what
hashing big arguments costs on every call. Misses use a fresh first argument per call so
every call really misses; no store is cleared inside the timed region.
"""

from __future__ import annotations

import functools
import itertools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks import timing
from benchmarks.cases import MiB
from benchmarks.summary import DECORATOR_APPROACHES, MEMOKEY_FILE

ARRAY_BYTES = {"full": 100 * MiB, "smoke": MiB}
TINY = DECORATOR_APPROACHES
BIG = (MEMOKEY_FILE, "joblib.Memory")


def add(a: int, b: int) -> int:
    return a + b


def array_sum(arr: np.ndarray[Any, Any]) -> float:
    return float(arr.sum())


def memoized(approach: str, func: Callable[..., Any], where: Path) -> Callable[..., Any]:
    """`func` under `approach`, each with its own empty cache in `where`."""
    if approach == MEMOKEY_FILE:
        import memokey

        return memokey.memoize(where.as_uri())(func)
    if approach == "memokey memory://":
        import memokey

        return memokey.memoize(f"memory://memokey-bench/{where.name}")(func)
    if approach == "diskcache":
        import diskcache

        cache = diskcache.Cache(str(where))
        return cache.memoize()(func)  # type: ignore[no-any-return]
    if approach == "joblib.Memory":
        import joblib

        return joblib.Memory(str(where), verbose=0).cache(func)  # type: ignore[no-any-return]
    if approach == "lru_cache":
        return functools.lru_cache(maxsize=1024)(func)
    raise KeyError(approach)


def _extra(scenario: str, approach: str, **more: Any) -> dict[str, Any]:
    return {"concern": "decorator", "scenario": scenario, "approach": approach, **more}


@pytest.mark.parametrize("approach", TINY)
def test_tiny_call_hit(
    benchmark: BenchmarkFixture, approach: str, tmp_path: Path, budget_s: float
) -> None:
    benchmark.group = "decorator add(1, 2) hit"
    f = memoized(approach, add, tmp_path)
    assert f(1, 2) == 3  # the miss that fills the cache
    timing.run(benchmark, lambda: f(1, 2), budget_s=budget_s, extra=_extra("hit", approach))


@pytest.mark.parametrize("approach", TINY)
def test_tiny_call_miss(
    benchmark: BenchmarkFixture, approach: str, tmp_path: Path, budget_s: float
) -> None:
    benchmark.group = "decorator add(i, 2) miss"
    f = memoized(approach, add, tmp_path)
    if hasattr(os, "sync"):
        os.sync()  # misses create files: don't time the write-back of earlier benchmarks
    fresh = itertools.count(1_000_000)
    timing.run(
        benchmark, lambda: f(next(fresh), 2), budget_s=budget_s, extra=_extra("miss", approach)
    )


@pytest.mark.parametrize("approach", BIG)
def test_hit_with_big_array_argument(
    benchmark: BenchmarkFixture, approach: str, tmp_path: Path, budget_s: float, profile: str
) -> None:
    nbytes = ARRAY_BYTES[profile]
    benchmark.group = f"decorator hit, {nbytes // MiB} MiB ndarray argument"
    arr = np.random.default_rng(7).random(nbytes // 8)
    f = memoized(approach, array_sum, tmp_path)
    expected = f(arr)
    extra = _extra("hit_big_array", approach, argument_bytes=nbytes)
    timing.run(benchmark, lambda: f(arr), budget_s=budget_s, extra=extra)
    assert f(arr) == expected
