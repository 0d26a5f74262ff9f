"""Concern (c): peak extra RSS per approach, one fresh interpreter per (approach, input).

The method is in `benchmarks/memprobe.py`: the kernel's own peak-RSS mark, reset right
before the one call, minus the RSS just before it. Peaks are recorded into the JSON's
"memokey" section for the report; no test asserts a size (or a timing).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.approaches import skip_reason
from benchmarks.cases import Case
from benchmarks.conftest import Records

REPO = Path(__file__).resolve().parents[1]


def test_peak_extra_rss(mem_case: Case, mem_approach: str, profile: str, records: Records) -> None:
    reason = skip_reason(mem_approach, mem_case)
    if reason is not None:
        records.skip("memory", mem_case.id, mem_approach, reason)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.memprobe", profile, mem_case.id, mem_approach],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"memory probe failed:\n{done.stderr}"
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["peak_rss"] >= result["baseline_rss"] > 0
    records.peak_rss.append(result)
