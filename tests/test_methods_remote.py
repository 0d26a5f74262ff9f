"""Memoized methods of a script's own classes run through a shim in another process: the
class travels by value (cloudpickle), its memoized methods with their runner settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import os, sys
import memokey
from memokey.shims import subprocess_shim

class Model:
    def __init__(self, k):
        self.k = k

    @memokey.memoize(sys.argv[1], namespace="remote", shim=subprocess_shim)
    def apply(self, x):
        return (self.k * x, os.getpid(), self.helper(x))

    @memokey.memoize(sys.argv[1], namespace="remote")
    def helper(self, x):
        return self.k + x

two, three = Model(2).apply(5), Model(3).apply(5)
print(two[0], three[0], two[2], three[2], two[1] != os.getpid(), Model(2).apply(5) == two)
"""


@pytest.mark.slow
def test_a_memoized_method_of_a_script_class_runs_through_a_subprocess_shim(
    tmp_path: Path,
) -> None:
    script = tmp_path / "pipeline.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [sys.executable, str(script), f"file://{tmp_path}/root"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["10", "15", "7", "8", "True", "True"]
