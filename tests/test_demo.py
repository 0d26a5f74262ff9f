"""`memokey demo`: a real pipeline that shows misses, then hits, and where results live."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _demo(*args: str) -> list[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "memokey", "demo", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def _statuses(lines: list[str]) -> list[str]:
    return [line.split()[0] for line in lines if line.startswith(("miss", "hit"))]


@pytest.mark.slow
def test_demo_misses_then_hits_and_a_second_run_only_hits(tmp_path: Path) -> None:
    root_url = f"file://{tmp_path}/demo-root"
    first = _demo("--root", root_url)
    assert _statuses(first) == ["miss", "hit", "miss", "hit", "hit"]
    assert _statuses(_demo("--root", root_url)) == ["hit"] * 5
    uris = [line.strip() for line in first if "/memokey-v2/demo/" in line]
    assert len(uris) == 5
    assert all(str(tmp_path / "demo-root") in uri for uri in uris)


@pytest.mark.slow
def test_demo_through_the_subprocess_shim_runs_the_slow_step_in_a_child(tmp_path: Path) -> None:
    root_url = f"file://{tmp_path}/shim-root"
    first = _demo("--root", root_url, "--shim", "subprocess")
    assert _statuses(first) == ["miss", "hit", "miss", "hit", "hit"]
    assert "(ran in a subprocess)" in first[1]
    assert _statuses(_demo("--root", root_url)) == ["hit"] * 5  # same keys as in-process


@pytest.mark.slow
def test_demo_uses_memokey_root_when_no_root_is_given(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "memokey", "demo"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "MEMOKEY_ROOT": str(tmp_path / "env-root")},
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "env-root" / "memokey-v2" / "demo").is_dir()


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sqlite_nil_args.py"


@pytest.mark.slow
def test_seed_example_script_computes_once_and_a_rerun_reads(tmp_path: Path) -> None:
    root_url = f"file://{tmp_path}/example-root"

    def run() -> str:
        proc = subprocess.run(
            [sys.executable, str(EXAMPLE), root_url],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert "the query ran 1 time(s)" in run()
    assert "the query ran 0 time(s)" in run()
