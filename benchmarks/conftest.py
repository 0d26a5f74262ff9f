"""Shared fixtures of the benchmark suite: the size profile, time budgets, input cache.

The size profile comes from `--bench-size` or MEMOKEY_BENCH_SIZE (default `full`).
Results that are not timings (peak RSS, skipped peers) are collected here and written
into pytest-benchmark's JSON under the key "memokey", where `benchmarks.report` reads them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

from benchmarks.approaches import APPROACHES, MEMOKEY, applies
from benchmarks.cases import PROFILES, Built, Case, build, cases, profile_from_env

# Seconds of timed calls per benchmark, per profile.
BUDGET_S = {"full": 1.0, "smoke": 0.01}


@dataclass
class Records:
    """What the suite measured besides timings, for the JSON's "memokey" section."""

    profile: str
    peak_rss: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    checks: dict[str, bool] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    local_entries: dict[str, Any] = field(default_factory=dict)
    large: list[dict[str, Any]] = field(default_factory=list)
    compression: list[dict[str, Any]] = field(default_factory=list)

    def skip(self, concern: str, case: str, approach: str, reason: str) -> NoReturn:
        """Record why a peer is not measured on an input, then skip the test."""
        self.skipped.append(
            {"concern": concern, "case": case, "approach": approach, "reason": reason}
        )
        pytest.skip(reason)


_RECORDS = pytest.StashKey[Records]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--bench-size",
        choices=PROFILES,
        default=None,
        help="benchmark input sizes: full (issue 4's sizes) or smoke (small, seconds); "
        "default: $MEMOKEY_BENCH_SIZE or full",
    )


def profile_of(config: pytest.Config) -> str:
    """The size profile of this run: --bench-size, else MEMOKEY_BENCH_SIZE, else full."""
    option = config.getoption("--bench-size")
    return str(option) if option else profile_from_env()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_RECORDS] = Records(profile=profile_of(config))
    json_path = config.getoption("--benchmark-json", None)
    if json_path is not None:  # e.g. benchmarks/results/raw/, which git ignores
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)


def pytest_report_header(config: pytest.Config) -> str:
    return f"memokey benchmarks: size profile {config.stash[_RECORDS].profile!r}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """(hash_case, approach): every applicable pair, case-major so one input lives at once.

    (mem_case, mem_approach): the peak-RSS probes, at the issue's sizes only.
    """
    profile = profile_of(metafunc.config)
    names = set(metafunc.fixturenames)
    if {"hash_case", "approach"} <= names:
        pairs = [
            pytest.param(case, approach, id=f"{case.id}-{approach}")
            for case in cases(profile)
            for approach in APPROACHES
            if applies(approach, case.kind)
        ]
        metafunc.parametrize(("hash_case", "approach"), pairs)
    if {"mem_case", "mem_approach"} <= names:
        probes = [
            pytest.param(case, approach, id=f"{case.id}-{approach}")
            for case in cases(profile)
            if case.target
            for approach in APPROACHES
            if applies(approach, case.kind) and probed(profile, case, approach)
        ]
        metafunc.parametrize(("mem_case", "mem_approach"), probes)


def probed(profile: str, case: Case, approach: str) -> bool:
    """Full runs probe every pair; smoke runs memokey everywhere and every peer once.

    Each probe is a fresh interpreter (about a second to start with pandas), so the smoke
    profile keeps to the pairs that exercise every code path of the probe.
    """
    return profile == "full" or approach == MEMOKEY or case.kind == "ndarray"


def pytest_benchmark_update_json(
    config: pytest.Config, benchmarks: Any, output_json: dict[str, Any]
) -> None:
    records = config.stash[_RECORDS]
    output_json["memokey"] = {
        "profile": records.profile,
        "peak_rss": records.peak_rss,
        "skipped": records.skipped,
        "checks": records.checks,
        "requests": records.requests,
        "local_entries": records.local_entries,
        "large": records.large,
        "compression": records.compression,
    }


@pytest.fixture(scope="session")
def records(pytestconfig: pytest.Config) -> Records:
    return pytestconfig.stash[_RECORDS]


@pytest.fixture(scope="session")
def profile(records: Records) -> str:
    return records.profile


@pytest.fixture(scope="session")
def budget_s(profile: str) -> float:
    return BUDGET_S[profile]


class InputCache:
    """Builds each case's argument once and keeps only the latest: 1 GiB inputs add up."""

    def __init__(self) -> None:
        self._case: Case | None = None
        self._built: Built | None = None

    def get(self, case: Case) -> Built:
        if self._case != case or self._built is None:
            self._built = None  # free the previous input before building the next
            self._built = build(case)
            self._case = case
        return self._built

    def clear(self) -> None:
        self._case, self._built = None, None


@pytest.fixture(scope="module")
def inputs() -> Iterator[InputCache]:
    """Module-scoped: the last (largest) input is freed when the hashing module ends."""
    cache = InputCache()
    yield cache
    cache.clear()
