"""How every benchmark is timed: warm-up calls, then rounds sized to a time budget.

pytest-benchmark's automatic calibration spends about a second per benchmark whatever its
cost and runs a 10-second peer many times over; the suite has a hundred of them and must
finish in minutes. So each benchmark first warms up (one call, two when it is under a
second: the first pays for imports and first-touch page faults), derives from the last
warm-up how many calls fit in its budget and hands that to `pedantic`. Calls cheaper than
a millisecond are batched into iterations so the timer's resolution does not dominate;
calls slower than a second still get one measured round after the warm-up.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from typing import Any

from pytest_benchmark.fixture import BenchmarkFixture

MIN_ROUND_S = 1e-3
MAX_ROUNDS = 200


def plan_rounds(once_s: float, budget_s: float) -> tuple[int, int]:
    """(rounds, iterations) for a call that took `once_s` once, to fill about `budget_s`."""
    iterations = max(1, math.ceil(MIN_ROUND_S / max(once_s, 1e-9)))
    per_round = once_s * iterations
    rounds = int(budget_s / per_round) if per_round > 0 else MAX_ROUNDS
    floor = 1 if once_s > 1.0 else 3
    return min(max(rounds, floor), MAX_ROUNDS), iterations


def _warm_up(fn: Callable[[], object]) -> float:
    """Call `fn` once, twice if it is under a second (the first call pays for imports and
    first touches); return the last call's duration as the estimate of one call."""
    once = 0.0
    for _ in range(2):
        start = time.perf_counter()
        fn()
        once = time.perf_counter() - start
        if once > 1.0:
            break
    return once


def run(
    benchmark: BenchmarkFixture,
    fn: Callable[[], object],
    *,
    budget_s: float,
    extra: dict[str, Any],
) -> None:
    """Time `fn` with `benchmark` within about `budget_s`; `extra` goes into the JSON."""
    benchmark.extra_info.update(extra)
    once = _warm_up(fn)
    rounds, iterations = plan_rounds(once, budget_s)
    benchmark.pedantic(fn, rounds=rounds, iterations=iterations, warmup_rounds=0)


def paired_ratio(
    fn: Callable[[], object], reference: Callable[[], object], *, budget_s: float
) -> float:
    """Median over alternating calls of time(reference) / time(fn): fn's speed relative.

    Timing two approaches in separate benchmarks seconds apart lets a neighbour's burst on
    a shared machine land on one of them only; alternating them call by call makes both
    see the same conditions, so the ratio stays put while absolute GB/s moves.
    """
    ratios = []
    deadline = time.perf_counter() + budget_s
    while len(ratios) < 3 or (time.perf_counter() < deadline and len(ratios) < MAX_ROUNDS):
        start = time.perf_counter()
        reference()
        middle = time.perf_counter()
        fn()
        end = time.perf_counter()
        ratios.append((middle - start) / max(end - middle, 1e-9))
    return statistics.median(ratios)


def run_with_setup(
    benchmark: BenchmarkFixture,
    fn: Callable[..., object],
    setup: Callable[[], tuple[tuple[Any, ...], dict[str, Any]]],
    *,
    budget_s: float,
    extra: dict[str, Any],
) -> None:
    """Like `run` for calls that need fresh state each time (a miss, a new store path).

    `setup` runs untimed before every call and returns its (args, kwargs).
    """
    benchmark.extra_info.update(extra)
    args, kwargs = setup()
    start = time.perf_counter()
    fn(*args, **kwargs)
    once = time.perf_counter() - start
    rounds, _ = plan_rounds(max(once, MIN_ROUND_S), budget_s)
    benchmark.pedantic(fn, setup=setup, rounds=rounds, iterations=1, warmup_rounds=0)
