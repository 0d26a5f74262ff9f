"""Observability: memokey.stats() per function, memokey.on_event(cb) for every outcome,
verbose=True / MEMOKEY_VERBOSE=1 one line per outcome on stderr."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import memokey
from memokey.observe import Event, reset_stats

Location = tuple[str, dict[str, Any]]


@pytest.fixture(autouse=True)
def _fresh_stats() -> None:
    reset_stats()


def _busy(location: Location, **options: Any) -> Any:
    url, storage_options = location

    @memokey.memoize(url, storage_options=storage_options, **options)
    def busy(n: int) -> list[int]:
        total = 0
        for i in range(20_000):  # some compute worth saving
            total += i
        return [total] * n

    return busy


def test_stats_count_hits_misses_bytes_and_compute_seconds_saved(store_root: Location) -> None:
    busy = _busy(store_root)
    busy(10), busy(10), busy(10), busy(20)
    mine = memokey.stats()[busy.key_for(10).function_id]
    assert (mine.hits, mine.misses, mine.publishes, mine.errors) == (2, 2, 2, 0)
    stored = {e.size for e in busy.entries()}
    assert mine.bytes_written == sum(stored)
    entry_size = next(e.size for e in busy.entries() if e.arguments["n"] == "10")
    assert mine.bytes_read == 2 * entry_size
    (ten,) = [e for e in busy.entries() if e.arguments["n"] == "10"]
    assert ten.duration_seconds is not None
    assert mine.seconds_saved == pytest.approx(2 * ten.duration_seconds, rel=1e-3, abs=1e-5)
    assert mine.seconds_saved > 0


def test_on_event_receives_every_outcome_until_unsubscribed(memory_root: Location) -> None:
    url, options = memory_root
    seen: list[Event] = []
    unsubscribe = memokey.on_event(seen.append)

    @memokey.memoize(url, storage_options=options)
    def fails(x: int) -> int:
        raise ValueError(x)

    busy = _busy(memory_root)
    try:
        busy(1), busy(1)
        with pytest.raises(ValueError, match="1"):
            fails(1)
    finally:
        unsubscribe()
    busy(2)
    assert [e.kind for e in seen] == ["miss", "publish", "hit", "miss", "error"]
    assert seen[2].uri == busy.key_for(1).uri
    assert isinstance(seen[4].error, ValueError)


def test_a_failing_callback_never_fails_the_call(memory_root: Location) -> None:
    def broken(event: Event) -> None:
        raise RuntimeError("observer bug")

    unsubscribe = memokey.on_event(broken)
    try:
        assert _busy(memory_root)(1) == [199990000]
    finally:
        unsubscribe()


def test_a_caller_that_waited_on_another_is_counted_as_a_lease_wait(tmp_path: Path) -> None:
    url = f"file://{tmp_path}/root"
    signals = tmp_path / "signals"
    signals.mkdir()

    @memokey.memoize(url)
    def slow(x: int, signals: str) -> int:
        Path(signals, "started").touch()
        for _ in range(3000):
            if Path(signals, "go").exists():
                break
            time.sleep(0.01)
        return x

    results: list[int] = []
    first = threading.Thread(target=lambda: results.append(slow(1, str(signals))))
    first.start()
    for _ in range(3000):
        if (signals / "started").exists():
            break
        time.sleep(0.01)
    second = threading.Thread(target=lambda: results.append(slow(1, str(signals))))
    second.start()
    time.sleep(0.2)  # let the second caller start waiting (a count, not a timing, is checked)
    (signals / "go").touch()
    first.join(30)
    second.join(30)
    assert results == [1, 1]
    mine = memokey.stats()[slow.key_for(1, str(signals)).function_id]
    assert mine.publishes == 1
    assert mine.waits == 1
    assert mine.misses == 2  # both missed; one computed, the other waited for it


def test_verbose_prints_one_line_per_outcome_on_stderr(
    memory_root: Location, capsys: pytest.CaptureFixture[str]
) -> None:
    busy = _busy(memory_root, verbose=True)
    busy(3), busy(3)
    lines = capsys.readouterr().err.splitlines()
    assert [line.split()[1] for line in lines] == ["miss", "publish", "hit"]
    assert all(line.startswith("memokey: ") for line in lines)
    assert "saved" in lines[2]


def test_memokey_verbose_turns_lines_on_for_every_function(tmp_path: Path) -> None:
    script = (
        "import memokey\n"
        f"@memokey.memoize('file://{tmp_path}/root')\n"
        "def f(x):\n    return x\n"
        "f(1); f(1)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    quiet = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    env["MEMOKEY_VERBOSE"] = "1"
    loud = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert loud.returncode == 0, loud.stderr
    assert [line.split()[1] for line in loud.stderr.splitlines()] == ["hit", "hit"]
