"""throughput.png: hashing throughput vs argument size, one panel per input kind.

Log-log axes; one line per approach; the raw xxh3_128 ceiling over the same memory drawn
as a dashed black line, so the distance to it is the inefficiency. The list of dicts has no
raw memory, so its panel shows objects per second against the number of dicts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.approaches import APPROACHES, CEILING
from benchmarks.cases import KIND_TITLES

STYLES = {
    "memokey": {"color": "#d62728", "marker": "o", "linewidth": 2.4},
    "joblib.hash": {"color": "#1f77b4", "marker": "s"},
    "dask.tokenize": {"color": "#2ca02c", "marker": "^"},
    "pickle+xxh3_128": {"color": "#9467bd", "marker": "D"},
    "pickle.dumps": {"color": "#8c564b", "marker": "v"},
    CEILING: {"color": "black", "linestyle": "--", "linewidth": 1.6},
}


def _x(case: dict[str, Any]) -> float:
    return float(case["objects"] if case["kind"] == "list_of_dicts" else case["logical_bytes"])


def _y(entry: dict[str, Any], kind: str) -> float | None:
    value = entry.get("objects_per_s" if kind == "list_of_dicts" else "gb_per_s")
    return None if value is None else float(value) / (1e6 if kind == "list_of_dicts" else 1)


def plot(summary: dict[str, Any], path: Path) -> None:
    """Draw the throughput panels of `summary` (from `benchmarks.summary`) into `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    kinds = [k for k in KIND_TITLES if any(c["kind"] == k for c in summary["hashing"])]
    ncols = 4
    nrows = max(1, -(-len(kinds) // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(18, 4.6 * nrows), squeeze=False)
    for ax in axes.flat[len(kinds) :]:
        ax.set_visible(False)
    for ax, kind in zip(axes.flat, kinds, strict=False):
        cases = [c for c in summary["hashing"] if c["kind"] == kind]
        for approach in APPROACHES:
            points = [
                (_x(c), y)
                for c in cases
                if (y := _y(c["approaches"].get(approach, {}), kind)) is not None
            ]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, label=approach, **STYLES[approach])  # type: ignore[arg-type]
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(KIND_TITLES[kind], fontsize=10)
        ax.set_xlabel("dicts in the list" if kind == "list_of_dicts" else "argument size (bytes)")
        ax.set_ylabel("M objects/s" if kind == "list_of_dicts" else "GB/s")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="major", alpha=0.3)
    handles: dict[str, Any] = {}
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    labels = [a for a in APPROACHES if a in handles]
    fig.legend(
        [handles[a] for a in labels],
        labels,
        loc="lower center",
        ncol=len(handles),
        frameon=False,
        fontsize=11,
    )
    fig.suptitle(
        f"memokey key hashing vs peers and the raw xxh3_128 ceiling "
        f"(profile {summary['profile']}, {summary['machine'].get('cores')} cores, "
        f"median of rounds; dashed = ceiling)",
        fontsize=12,
    )
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    fig.savefig(path, dpi=100)
    plt.close(fig)
