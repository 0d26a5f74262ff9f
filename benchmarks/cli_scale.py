"""`memokey ls`, `du` and `gc` over a large local root: wall time and peak memory.

Run as ``python -m benchmarks.cli_scale [--entries 100000] [--baseline /work/main]``;
prints a Markdown table and writes ``benchmarks/results/cli_scale.json``.

Method. A root of N real entries (`memokey.results.encode_result` of a small value, with
a metadata trailer) spread over 2 namespaces x 4 functions is written once with plain
file writes. Each command then runs in a fresh interpreter (`python -c` calling
`memokey.cli.main`, output to /dev/null), which reports its wall time and its peak RSS
(``ru_maxrss``) minus the RSS of the same interpreter after importing the CLI, i.e. the
memory the command itself needed. gc runs with ``--dry-run`` so every command sees the
same root. ``--baseline DIR`` runs ``ls`` from another checkout too (the old CLI).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from memokey.results import encode_result

_PROBE = r"""
import os, resource, sys, time
sys.argv = ["memokey"] + sys.argv[1:]
from memokey.cli import main
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
sink = open(os.devnull, "w")
sys.stdout = sink
start = time.perf_counter()
code = main(sys.argv[1:])
took = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
sys.stderr.write(f"{code} {took:.3f} {(peak - base) / 1024:.1f}\n")
"""

COMMANDS = {
    "ls": ["ls"],
    "ls --uri": ["ls", "--uri"],
    "du": ["du"],
    "gc --older-than 30d --dry-run": ["gc", "--older-than", "30d", "--dry-run"],
    "gc --keep-last 10 --max-size 5M --dry-run": [
        "gc",
        "--keep-last",
        "10",
        "--max-size",
        "5M",
        "--dry-run",
    ],
}


def build_root(root: Path, entries: int) -> None:
    """N entries under 2 namespaces x 4 functions (names only need to look like entries)."""
    data = encode_result(list(range(8)), meta={"arguments": {"i": "0"}})
    dirs = [
        root / "memokey-v2" / ns / f"bench--f{k}={'0' * 32}"
        for ns in ("alpha", "beta")
        for k in range(4)
    ]
    for d in dirs:
        d.mkdir(parents=True, exist_ok=True)
    for i in range(entries):
        (dirs[i % len(dirs)] / f"{i:032x}").write_bytes(data)


def run(root: Path, args: list[str], pythonpath: str) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": pythonpath, "MEMOKEY_TRACK_USE": "0"}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *args[:1], f"file://{root}", *args[1:]],
        env=env,
        cwd=root.parent,  # `python -c` puts the working directory first on sys.path
        capture_output=True,
        text=True,
        check=False,
    )
    lines = done.stderr.strip().splitlines()
    fields = lines[-1].split() if lines else []
    if len(fields) != 3 or fields[0] != "0":
        raise SystemExit(f"{args} failed: {done.stderr[-2000:]}")
    _code, took, extra = fields
    return float(took), float(extra)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--baseline", help="another checkout whose `ls` to measure too")
    options = parser.parse_args()
    here = Path(__file__).resolve().parent.parent
    pythonpath = os.pathsep.join([str(here), str(here / "backends")])
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        started = time.perf_counter()
        build_root(root, options.entries)
        print(f"built {options.entries} entries in {time.perf_counter() - started:.1f} s")
        runs = [(name, args, pythonpath) for name, args in COMMANDS.items()]
        if options.baseline:
            base = Path(options.baseline)
            old = os.pathsep.join([str(base), str(base / "backends")])
            runs.insert(0, ("ls (baseline checkout)", ["ls"], old))
        for name, args, path in runs:
            took, extra = run(root, args, path)
            results.append({"command": name, "seconds": took, "extra_mib": extra})
    print(f"\n| command ({options.entries:,} local entries) | time | peak extra memory |")
    print("|---|---|---|")
    for r in results:
        print(f"| `memokey {r['command']}` | {r['seconds']:.2f} s | {r['extra_mib']:.1f} MiB |")
    out = here / "benchmarks" / "results" / "cli_scale.json"
    out.write_text(json.dumps({"entries": options.entries, "results": results}, indent=2))


if __name__ == "__main__":
    main()
