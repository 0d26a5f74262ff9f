"""Concern (b'): what the code fingerprint costs: once per decoration, and per hit.

A generated module holds `train`, which calls 50 first-party helpers (each using a
module-level constant, some calling each other). Cold: a fresh module each round, so
the measured time includes reading and parsing its source, as a first decoration in a
new process does (target: <= 20 ms). Hit: `train(1)` on a `file://` root, where every
call re-checks that the code it was keyed for is still current.
"""

from __future__ import annotations

import importlib
import itertools
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from benchmarks import timing

HELPERS = 50
_fresh = itertools.count()


def _source(root: str) -> str:
    lines = ["import memokey", "", "SCALE = 3", "WEIGHTS = {'a': 1.0, 'b': 2.0}", ""]
    for i in range(HELPERS):
        calls = f" + helper_{i - 1}(x)" if i % 5 else ""
        lines += [
            f"def helper_{i}(x):",
            f'    """Helper {i}."""',
            f"    return x * SCALE + {i}{calls}",
            "",
        ]
    body = " + ".join(f"helper_{i}(x)" for i in range(HELPERS))
    lines += [f"@memokey.memoize({root!r})", "def train(x):", f"    return {body}", ""]
    return "\n".join(lines)


def _module(directory: Path, root: str) -> ModuleType:
    name = f"bench_fingerprint_{next(_fresh)}"
    (directory / f"{name}.py").write_text(_source(root))
    importlib.invalidate_caches()
    return importlib.import_module(name)


@pytest.fixture
def module_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    return tmp_path


def test_fingerprint_of_a_function_with_50_helpers_cold(
    benchmark: BenchmarkFixture, module_dir: Path
) -> None:
    import memokey

    benchmark.group = "code fingerprint, 50 first-party helpers (cold, per decoration)"
    benchmark.extra_info.update({"concern": "fingerprint", "scenario": "cold", "helpers": 50})
    root = (module_dir / "memo").as_uri()

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        return (_module(module_dir, root).train,), {}

    fingerprint = benchmark.pedantic(
        memokey.code_fingerprint, setup=setup, rounds=15, iterations=1, warmup_rounds=1
    )
    assert len(fingerprint.parts) == HELPERS + 2  # body, 50 helpers, SCALE (WEIGHTS unused)
    assert benchmark.stats.stats.median < 0.020  # the budget per decoration


def test_hit_of_a_function_with_50_helpers(
    benchmark: BenchmarkFixture, module_dir: Path, budget_s: float
) -> None:
    benchmark.group = "decorator train(1) hit, 50 first-party helpers"
    module = _module(module_dir, (module_dir / "memo").as_uri())
    expected = module.train(1)
    extra = {"concern": "fingerprint", "scenario": "hit", "helpers": 50}
    timing.run(benchmark, lambda: module.train(1), budget_s=budget_s, extra=extra)
    assert module.train(1) == expected
