"""Concern (a): key hashing by input and size, memokey vs its peers vs the raw ceiling.

Every approach hashes the same argument in the same process, right after the raw
xxh3_128 ceiling over the same memory, so the ratios are fair on a shared machine whose
absolute bandwidth moves by ±10 % between runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks import timing
from benchmarks.approaches import CEILING, MEMOKEY, hasher, skip_reason
from benchmarks.cases import Case
from benchmarks.conftest import InputCache, Records

REPO = Path(__file__).resolve().parents[1]


def test_key_hashing(
    benchmark: BenchmarkFixture,
    hash_case: Case,
    approach: str,
    inputs: InputCache,
    budget_s: float,
    records: Records,
) -> None:
    benchmark.group = f"hash {hash_case.kind} {hash_case.label}"
    reason = skip_reason(approach, hash_case)
    if reason is not None:
        records.skip("hashing", hash_case.id, approach, reason)
    built = inputs.get(hash_case)
    extra = {
        "concern": "hashing",
        "case": hash_case.id,
        "kind": hash_case.kind,
        "label": hash_case.label,
        "size": hash_case.n,
        "target": hash_case.target,
        "approach": approach,
        "logical_bytes": built.logical_bytes,
        "objects": built.objects,
    }
    fn = hasher(approach, built)
    timing.run(benchmark, fn, budget_s=budget_s, extra=extra)
    if approach == MEMOKEY and built.ceiling is not None:
        ceiling = hasher(CEILING, built)
        benchmark.extra_info["paired_ratio_vs_ceiling"] = timing.paired_ratio(
            fn, ceiling, budget_s=budget_s
        )


SET_PROBE = (
    "from memokey.hashing import digest\n"
    "records = [{'id': i, 'tags': {f't{i}', f'u{i}', 'shared'}} for i in range(1000)]\n"
    "print(digest(records), digest(frozenset(f's{i}' for i in range(1000))))\n"
)


def test_memokey_set_keys_survive_the_fast_path_for_small_dicts(records: Records) -> None:
    """Speed must not cost the key rules: sets inside records stay order-free (issue 4)."""
    outputs = set()
    for seed in ("1", "2", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", SET_PROBE],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.add(done.stdout)
    records.checks["sets_order_free_across_hash_seeds"] = len(outputs) == 1
    assert len(outputs) == 1, f"set digests changed with PYTHONHASHSEED: {outputs}"
