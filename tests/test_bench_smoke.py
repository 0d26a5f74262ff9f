"""The benchmark suite and `memokey bench` keep working: run both on small inputs.

The suite runs exactly as `nox -s bench` runs it (pytest on benchmarks/, then
`python -m benchmarks.report`), only with `--bench-size=smoke`. Nothing here looks at a
timing: only that every benchmark ran and every result file says what it must.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from memokey.bench import main as bench_main

REPO = Path(__file__).resolve().parents[1]
KINDS = (
    "ndarray",
    "bytes",
    "strided",
    "dict_of_arrays",
    "str",
    "list_of_dicts",
    "df_object",
    "df_arrow",
)
PEERS = ("memokey", "joblib.hash", "dask.tokenize", "pickle+xxh3_128")


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=REPO, capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The suite in smoke mode, then the report, once for every test of this module."""
    where = tmp_path_factory.mktemp("bench")
    raw, out = where / "raw" / "bench.json", where / "results"
    suite = _run(
        "-m",
        "pytest",
        "benchmarks",
        "-p",
        "no:cacheprovider",
        "-q",
        "--bench-size=smoke",
        f"--benchmark-json={raw}",
    )
    report = _run("-m", "benchmarks.report", str(raw), str(out)) if raw.exists() else None
    return {"suite": suite, "report": report, "out": out}


@pytest.mark.slow
def test_benchmark_suite_passes_in_smoke_mode(smoke_run: dict[str, Any]) -> None:
    suite = smoke_run["suite"]
    assert suite.returncode == 0, suite.stdout[-4000:] + suite.stderr[-2000:]


@pytest.mark.slow
def test_report_writes_json_markdown_and_png(smoke_run: dict[str, Any]) -> None:
    report, out = smoke_run["report"], smoke_run["out"]
    assert report is not None, "the suite wrote no benchmark JSON"
    assert report.returncode == 0, report.stderr
    assert json.loads((out / "results.json").read_text())["profile"] == "smoke"
    assert "### Targets (issues 4 and 10)" in (out / "results.md").read_text()
    assert (out / "throughput.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@pytest.mark.slow
def test_report_has_every_input_timed_by_every_approach(smoke_run: dict[str, Any]) -> None:
    summary = json.loads((smoke_run["out"] / "results.json").read_text())
    timed = {
        (case["kind"], name)
        for case in summary["hashing"]
        for name, entry in case["approaches"].items()
        if "seconds" in entry
    }
    missing = [(k, p) for k in KINDS for p in PEERS if (k, p) not in timed]
    assert missing == []


@pytest.mark.slow
def test_report_has_peak_rss_of_memokey_on_every_input(smoke_run: dict[str, Any]) -> None:
    summary = json.loads((smoke_run["out"] / "results.json").read_text())
    probed = {
        case["kind"]
        for case in summary["hashing"]
        if "extra_rss_bytes" in case["approaches"].get("memokey", {})
    }
    assert probed == set(KINDS)


@pytest.mark.slow
def test_report_judges_every_issue_target(smoke_run: dict[str, Any]) -> None:
    summary = json.loads((smoke_run["out"] / "results.json").read_text())
    assert len(summary["targets"]) == 13
    assert [t["input"] for t in summary["targets"] if t["met"] is None] == []


@pytest.mark.slow
def test_report_covers_decorator_and_store_benchmarks(smoke_run: dict[str, Any]) -> None:
    summary = json.loads((smoke_run["out"] / "results.json").read_text())
    assert set(summary["decorator"]) == {"hit", "miss", "hit_big_array"}
    assert {(r["operation"], r["backend"]) for r in summary["store"]} == {
        ("read", "memory://"),
        ("read", "file://"),
        ("write", "memory://"),
        ("write", "file://"),
    }


def test_report_has_compression_ratios_compressed_and_not(smoke_run: dict[str, Any]) -> None:
    summary = json.loads((smoke_run["out"] / "results.json").read_text())
    rows = {(r["case"], r["compress"]): r for r in summary["compression"]}
    assert {compress for _case, compress in rows} == {"none", "zstd:3"}
    for (case, compress), row in rows.items():
        if compress != "none":
            assert row["stored_bytes"] < rows[(case, "none")]["stored_bytes"]
    assert "### Compression" in (smoke_run["out"] / "results.md").read_text()


def test_bench_command_prints_each_input_against_its_yardstick(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert bench_main(["--size-mib", "1", "--dicts", "1000", "--repeat", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for name, yardstick in (
        ("float64 ndarray", "raw xxh3_128"),
        ("bytes", "raw xxh3_128"),
        ("str (ASCII)", "raw xxh3_128"),
        ("list of small dicts", "pickle.dumps"),
    ):
        row = next(line for line in lines if line.startswith(name))
        assert yardstick in row
        assert row.rstrip().endswith("x")


def test_bench_command_refuses_a_zero_size(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        bench_main(["--size-mib", "0"])
    assert exc.value.code == 2
    assert "--size-mib" in capsys.readouterr().err
