"""Write results.json, results.md and throughput.png from a pytest-benchmark JSON file.

    python -m benchmarks.report benchmarks/results/raw/bench.json benchmarks/results

results.json is the machine-readable summary (benchmarks/summary.py says how each number
is derived); results.md is the same for people, its first tables ready for the README.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.approaches import APPROACHES, PICKLE_DUMPS
from benchmarks.cases import KIND_TITLES
from benchmarks.plot import plot
from benchmarks.summary import DECORATOR_APPROACHES, MB, MEMOKEY_FILE, SCENARIOS, summarize

REPRODUCE = (
    "pytest benchmarks -p no:cacheprovider --benchmark-json=benchmarks/results/raw/bench.json\n"
    "python -m benchmarks.report benchmarks/results/raw/bench.json benchmarks/results"
)


def fmt_seconds(seconds: float) -> str:
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def fmt_ratio(ratio: float) -> str:
    """2.10×, 300×, or 1/43 for small ratios (easier to read than 0.02×)."""
    if ratio >= 10:
        return f"{ratio:,.0f}×"
    if ratio >= 0.1:
        return f"{ratio:.2f}×"
    return f"1/{1 / ratio:,.0f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _hash_cell(entry: dict[str, Any], kind: str, notes: list[str]) -> str:
    if "skipped" in entry and "seconds" not in entry:
        if entry["skipped"] not in notes:
            notes.append(entry["skipped"])
        return f"skipped ({notes.index(entry['skipped']) + 1})"
    if "seconds" not in entry:
        return "—"
    parts = [fmt_seconds(entry["seconds"])]
    if kind == "list_of_dicts":
        parts.append(f"{entry['objects_per_s'] / 1e6:.2f} M obj/s")
    else:
        parts.append(f"{entry['gb_per_s']:.2f} GB/s")
    if "ratio_vs_ceiling" in entry:
        parts.append(f"{entry['ratio_vs_ceiling']:.2f}×")
    return " · ".join(parts)


def _rss_cell(entry: dict[str, Any]) -> str:
    if "extra_rss_bytes" in entry:
        return f"+{entry['extra_rss_bytes'] / MB:,.1f} MB"
    return "skipped" if "skipped" in entry else "—"


def hashing_tables(summary: dict[str, Any]) -> list[str]:
    """Throughput and peak RSS per input at the issue's sizes (the README's table)."""
    targets = [c for c in summary["hashing"] if c["target"]]
    notes: list[str] = []
    rows, rss_rows = [], []
    for case in targets:
        name = f"{KIND_TITLES[case['kind']]}, {case['label']}"
        entries = [case["approaches"].get(a, {}) for a in APPROACHES]
        rows.append([name] + [_hash_cell(e, case["kind"], notes) for e in entries])
        rss_rows.append([name] + [_rss_cell(e) for e in entries])
    lines = [
        "### Key hashing at the issue's sizes",
        "",
        "Each cell: median time per key · throughput (logical bytes, or objects for the list) "
        "· speed relative to raw xxh3_128 over the same memory, in the same run "
        "(memokey's: median ratio over calls alternating with raw xxh3_128). "
        f"`{PICKLE_DUMPS}` alone is the yardstick for the list of dicts only.",
        "",
        *_table(["input", *APPROACHES], rows),
        "",
    ]
    lines += [f"({i}) {note}" for i, note in enumerate(notes, 1)]
    lines += [
        "",
        "### Peak extra RSS while keying (fresh interpreter per approach and input)",
        "",
        *_table(["input", *APPROACHES], rss_rows),
        "",
    ]
    return lines


def targets_table(summary: dict[str, Any]) -> list[str]:
    verdict = {True: "**met**", False: "**missed**", None: "not measured"}
    rows = [[t["input"], t["target"], t["measured"], verdict[t["met"]]] for t in summary["targets"]]
    return [
        "### Targets (issues 4 and 10)",
        "",
        *_table(["input", "target", "measured", "verdict"], rows),
        "",
    ]


def decorator_table(summary: dict[str, Any]) -> list[str]:
    rows = []
    for scenario, title in SCENARIOS.items():
        per = summary["decorator"].get(scenario, {})
        if not per:
            continue
        cells = []
        for approach in DECORATOR_APPROACHES:
            entry = per.get(approach)
            if entry is None:
                cells.append("—")
                continue
            cell = fmt_seconds(entry["seconds"])
            if "memokey_file_time_ratio" in entry:
                cell += f" ({fmt_ratio(entry['memokey_file_time_ratio'])})"
            cells.append(cell)
        size = max(e.get("argument_bytes", 0) for e in per.values())
        rows.append([title.replace("a big", f"a {size >> 20} MiB") if size else title, *cells])
    misses = summary["decorator"].get("miss", {})
    if misses:
        ours = misses.get(MEMOKEY_FILE, {}).get("mean_seconds")
        cells = []
        for approach in DECORATOR_APPROACHES:
            mean = misses.get(approach, {}).get("mean_seconds")
            if mean is None:
                cells.append("—")
            elif ours is None or approach == MEMOKEY_FILE:
                cells.append(fmt_seconds(mean))
            else:
                cells.append(f"{fmt_seconds(mean)} ({fmt_ratio(ours / mean)})")
        rows.append(["tiny call add(i, 2), miss, **mean**", *cells])
    return [
        "### Decorator overhead per call (median; misses also as a mean)",
        "",
        "In brackets: memokey file://'s time as a multiple of that column's time.",
        "",
        *_table(["call", *DECORATOR_APPROACHES], rows),
        "",
    ]


def store_table(summary: dict[str, Any]) -> list[str]:
    cells: dict[tuple[str, int], dict[str, str]] = {}
    backends: list[str] = []
    for row in summary["store"]:
        if row["backend"] not in backends:
            backends.append(row["backend"])
        cell = f"{fmt_seconds(row['seconds'])} · {row['mb_per_s']:,.0f} MB/s"
        cells.setdefault((row["operation"], row["bytes"]), {})[row["backend"]] = cell
    rows = [
        [op, f"{size:,} B", *(per.get(b, "—") for b in backends)]
        for (op, size), per in sorted(cells.items())
    ]
    return [
        "### Store read/write (median)",
        "",
        *_table(["operation", "payload", *backends], rows),
        "",
    ]


def requests_table(summary: dict[str, Any]) -> list[str]:
    """Requests per operation and backend (writes in brackets), counted on the wire."""
    cells: dict[str, dict[str, str]] = {}
    backends: list[str] = []
    for row in summary.get("requests", []):
        if row["backend"] not in backends:
            backends.append(row["backend"])
        writes = f" ({row['writes']} writes)" if row["writes"] else ""
        cells.setdefault(row["operation"], {})[row["backend"]] = f"{row['requests']}{writes}"
    lines: list[str] = []
    if cells:
        rows = [[op, *(per.get(b, "—") for b in backends)] for op, per in cells.items()]
        lines += [
            "### Requests per operation (counted by a proxy in front of the emulators)",
            "",
            *_table(["operation", *backends], rows),
            "",
        ]
    large = summary.get("large") or []
    if large:
        lines += [
            "### One large result: ndarray, DataFrame, Arrow Table (extra = peak RSS beyond the"
            " value)",
            "",
            *_table(
                [
                    "backend",
                    "compress",
                    "size",
                    "operation",
                    "time",
                    "extra peak RSS",
                    "memory-mapped",
                ],
                [
                    [
                        row["backend"],
                        row.get("compress") or "none",
                        f"{row['bytes'] >> 20} MiB",
                        row["operation"],
                        fmt_seconds(row["seconds"]),
                        f"{row['extra_bytes'] / 1e6:+.1f} MB",
                        "—" if row.get("mapped") is None else f"{row['mapped']:.0%}",
                    ]
                    for row in large
                ],
            ),
            "",
        ]
    packed = summary.get("compression") or []
    if packed:
        lines += [
            "### Compression (entry bytes in memory; throughput of the uncompressed value)",
            "",
            *_table(
                ["value", "compress", "size", "stored", "ratio", "write", "read"],
                [
                    [
                        row["case"],
                        row["compress"],
                        f"{row['raw_bytes'] / 1e6:.1f} MB",
                        f"{row['stored_bytes'] / 1e6:.1f} MB",
                        f"{row['raw_bytes'] / row['stored_bytes']:.2f}x",
                        f"{row['raw_bytes'] / row['write_seconds'] / 1e9:.2f} GB/s",
                        f"{row['raw_bytes'] / row['read_seconds'] / 1e9:.2f} GB/s",
                    ]
                    for row in packed
                ],
            ),
            "",
        ]
    local = summary.get("local_entries") or {}
    if local:
        lines += [
            "### A tiny local entry",
            "",
            *_table(
                ["entries", "files per entry", "disk per entry (directory included)", "entry size"],
                [
                    [
                        f"{local['entries']:,}",
                        f"{local['files_per_entry']:.2f}",
                        f"{local['disk_bytes_per_entry'] / 1000:.2f} KB",
                        f"{local['entry_bytes']} B",
                    ]
                ],
            ),
            "",
        ]
    return lines


def markdown(summary: dict[str, Any]) -> str:
    machine = summary["machine"]
    lines = [
        "# memokey benchmark results",
        "",
        f"Profile `{summary['profile']}`, {summary['datetime']}, commit {summary['commit']}; "
        f"{machine.get('cpu')}, {machine.get('cores')} cores, Python {machine.get('python')}. "
        "GB = 10^9 bytes. Ratios compare approaches measured in the same run.",
        "",
    ]
    if summary["profile"] != "full":
        lines += ["**Smoke profile: small inputs, the numbers say nothing about the targets.**", ""]
    lines += targets_table(summary) + hashing_tables(summary)
    lines += decorator_table(summary) + store_table(summary) + requests_table(summary)
    lines += [
        "Throughput at every size: `results.json` and `throughput.png`. Reproduce:",
        "",
        "```",
        REPRODUCE,
        "```",
        "",
    ]
    return "\n".join(lines)


def write_report(raw_path: Path, out_dir: Path) -> dict[str, Any]:
    """Read pytest-benchmark's JSON at `raw_path`; write the three results into `out_dir`."""
    raw = json.loads(raw_path.read_text())
    summary = summarize(raw)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out_dir / "results.md").write_text(markdown(summary))
    plot(summary, out_dir / "throughput.png")
    return summary


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m benchmarks.report RAW_JSON OUT_DIR", file=sys.stderr)
        return 2
    write_report(Path(args[0]), Path(args[1]))
    print(f"wrote results.json, results.md and throughput.png into {args[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
