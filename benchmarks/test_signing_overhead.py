"""What signing costs a hit: the same 1 GiB result read back signed and unsigned.

A signed hit verifies an AES-GMAC over every byte instead of the xxh3_128 checksum (see
`memokey.signing`); the target is at most 10 % over the unsigned hit. A tiny call shows
the fixed cost (key derivation, one HMAC-SHA256). Both variants run in one session so
their ratio compares like with like.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks import timing
from benchmarks.cases import MiB

RESULT_BYTES = {"full": 1024 * MiB, "smoke": MiB}
KEY = "benchmark signing key 0123456789"


def ones(n: int) -> Any:
    return np.ones(n, dtype=np.uint8)


def add(a: int, b: int) -> int:
    return a + b


def _extra(scenario: str, signed: bool, **more: Any) -> dict[str, Any]:
    return {"concern": "signing", "scenario": scenario, "signed": signed, **more}


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
def test_big_result_hit(
    benchmark: BenchmarkFixture, signed: bool, tmp_path: Path, budget_s: float, profile: str
) -> None:
    import memokey

    nbytes = RESULT_BYTES[profile]
    benchmark.group = f"hit of a {nbytes // MiB} MiB result, signed vs unsigned"
    f = memokey.memoize(tmp_path.as_uri(), signing_key=KEY if signed else None)(ones)
    f(nbytes)  # the miss that stores it
    extra = _extra("hit_big_result", signed, result_bytes=nbytes)
    timing.run(benchmark, lambda: f(nbytes), budget_s=budget_s, extra=extra)


@pytest.mark.parametrize("signed", [False, True], ids=["unsigned", "signed"])
def test_tiny_call_hit(
    benchmark: BenchmarkFixture, signed: bool, tmp_path: Path, budget_s: float
) -> None:
    import memokey

    benchmark.group = "add(1, 2) hit, signed vs unsigned"
    f = memokey.memoize(tmp_path.as_uri(), signing_key=KEY if signed else None)(add)
    assert f(1, 2) == 3
    timing.run(benchmark, lambda: f(1, 2), budget_s=budget_s, extra=_extra("hit", signed))
