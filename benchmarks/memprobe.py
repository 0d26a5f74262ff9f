"""Peak extra RSS of one approach keying one argument, measured in a fresh interpreter.

Run as `python -m benchmarks.memprobe PROFILE CASE_ID APPROACH`; prints one JSON line.

Method. A fresh process per (approach, argument) so nothing another approach allocated,
cached or left in the allocator's free lists hides or inflates the number. In it:
1. build the argument (its own memory is not "extra");
2. key a small argument of the same kind once with the same approach, so imports, lazy
   module state and first-call caches are not counted either;
3. `gc.collect()`, then reset the kernel's peak-RSS mark (write "5" to
   /proc/self/clear_refs, Linux ≥ 4.0) and read the current RSS as the baseline;
4. key the argument once; extra = VmHWM (the kernel's exact peak RSS since the reset)
   minus the baseline.
Where clear_refs is unavailable (not Linux), a thread samples RSS with psutil every
millisecond instead; that can miss a peak shorter than a millisecond, so the JSON says
which method was used.
"""

from __future__ import annotations

import gc
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.approaches import hasher
from benchmarks.cases import build, cases, find_case

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_bytes(field: str) -> int:
    for line in STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024  # the kernel reports kB
    raise KeyError(f"{field} not in {STATUS}")


def _reset_peak() -> bool:
    try:
        CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def _peak_by_kernel(fn: Callable[[], object]) -> tuple[int, int, float]:
    baseline = _status_bytes("VmRSS")
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    return baseline, _status_bytes("VmHWM"), seconds


def _peak_by_sampling(fn: Callable[[], object]) -> tuple[int, int, float]:
    import psutil

    proc = psutil.Process()
    baseline = peak = proc.memory_info().rss
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.001):
            peak = max(peak, proc.memory_info().rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    return baseline, max(peak, proc.memory_info().rss), seconds


def probe(profile: str, case_id: str, approach: str) -> dict[str, Any]:
    """Measure the peak extra RSS of `approach` keying case `case_id` of `profile`."""
    case = find_case(profile, case_id)
    built = build(case)
    warm_case = next(c for c in cases("smoke") if c.kind == case.kind)
    hasher(approach, build(warm_case))()
    fn = hasher(approach, built)
    gc.collect()
    exact = _reset_peak()
    baseline, peak, seconds = (_peak_by_kernel if exact else _peak_by_sampling)(fn)
    return {
        "case": case.id,
        "kind": case.kind,
        "label": case.label,
        "approach": approach,
        "logical_bytes": built.logical_bytes,
        "baseline_rss": baseline,
        "peak_rss": peak,
        "extra_rss": max(0, peak - baseline),
        "seconds": seconds,
        "method": "VmHWM after clear_refs" if exact else "psutil sampling at 1 ms",
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print("usage: python -m benchmarks.memprobe PROFILE CASE_ID APPROACH", file=sys.stderr)
        return 2
    print(json.dumps(probe(*args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
