"""The hashing benchmarks' inputs: which arguments, at which sizes, in which size profile.

One `Case` is one argument at one size. The `full` profile ends each input's sweep at the
size issue 4 sets its target on (1 GiB arrays, 500 MB str, 1M dicts, 10M-row DataFrames);
the `smoke` profile runs the same code on small inputs in seconds so the suite never rots.
The smaller sizes of a sweep draw the throughput-vs-size curves of the plot.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

ENV_VAR = "MEMOKEY_BENCH_SIZE"
PROFILES = ("full", "smoke")
KiB, MiB, GiB = 1 << 10, 1 << 20, 1 << 30

KIND_TITLES = {
    "ndarray": "C-contiguous float64 ndarray",
    "bytes": "bytes",
    "strided": "strided view arr[::2]",
    "dict_of_arrays": "dict of 100 float64 arrays",
    "str": "str (ASCII)",
    "list_of_dicts": "list of small dicts",
    "df_object": "DataFrame: int64, float64, object str",
    "df_arrow": "DataFrame: int64, float64, pandas str (Arrow)",
}

# kind -> sizes per profile; the last size of each full sweep is the target size.
# Buffer kinds count bytes (strided: the base array's bytes; dict_of_arrays: bytes per
# array, 100 arrays); str counts characters; list_of_dicts counts dicts; DataFrames rows.
SIZES: dict[str, dict[str, tuple[int, ...]]] = {
    "ndarray": {"full": (64 * KiB, MiB, 16 * MiB, 256 * MiB, GiB), "smoke": (64 * KiB, MiB)},
    "bytes": {"full": (64 * KiB, MiB, 16 * MiB, 256 * MiB, GiB), "smoke": (64 * KiB, MiB)},
    "strided": {"full": (64 * KiB, MiB, 16 * MiB, 256 * MiB, GiB), "smoke": (64 * KiB, MiB)},
    "dict_of_arrays": {"full": (10 * KiB, 100 * KiB, MiB, 10 * MiB), "smoke": (KiB, 10 * KiB)},
    "str": {"full": (64 * KiB, MiB, 16 * MiB, 500_000_000), "smoke": (64 * KiB, MiB)},
    "list_of_dicts": {"full": (1_000, 10_000, 100_000, 1_000_000), "smoke": (100, 1_000)},
    "df_object": {"full": (10_000, 100_000, 1_000_000, 10_000_000), "smoke": (1_000, 10_000)},
    "df_arrow": {"full": (10_000, 100_000, 1_000_000, 10_000_000), "smoke": (1_000, 10_000)},
}
DICT_OF_ARRAYS_COUNT = 100


def profile_from_env(default: str = "full") -> str:
    """The size profile named by MEMOKEY_BENCH_SIZE (full when unset)."""
    value = os.environ.get(ENV_VAR, default).strip().lower()
    if value not in PROFILES:
        raise ValueError(f"{ENV_VAR}={value!r} is not a size profile: use one of {PROFILES}")
    return value


def human_size(n: int, unit: str = "B") -> str:
    """1073741824 -> '1 GiB', 500000000 -> '500 MB', 1000000 dicts -> '1M'."""
    if unit != "B":
        for div, suffix in ((1_000_000, "M"), (1_000, "k")):
            if n >= div and n % div == 0:
                return f"{n // div}{suffix}"
        return str(n)
    for div, suffix in ((GiB, "GiB"), (MiB, "MiB"), (KiB, "KiB")):
        if n >= div and n % div == 0:
            return f"{n // div} {suffix}"
    for div, suffix in ((1_000_000_000, "GB"), (1_000_000, "MB"), (1_000, "kB")):
        if n >= div and n % div == 0:
            return f"{n // div} {suffix}"
    return f"{n} B"


@dataclass(frozen=True)
class Case:
    """One argument kind at one size; `target` marks the size the issue's target is set on."""

    kind: str
    n: int
    target: bool

    @property
    def label(self) -> str:
        if self.kind == "dict_of_arrays":
            return f"{DICT_OF_ARRAYS_COUNT} x {human_size(self.n)}"
        if self.kind == "list_of_dicts":
            return f"{human_size(self.n, 'dicts')} dicts"
        if self.kind.startswith("df_"):
            return f"{human_size(self.n, 'rows')} rows"
        if self.kind == "strided":
            return f"{human_size(self.n)}[::2]"
        if self.kind == "str":
            return f"{human_size(self.n)} chars"
        return human_size(self.n)

    @property
    def id(self) -> str:
        return f"{self.kind}-{self.label}".replace(" ", "")


def cases(profile: str) -> list[Case]:
    """Every hashing case of a profile, grouped by kind, small to large."""
    out = []
    for kind, per_profile in SIZES.items():
        sizes = per_profile[profile]
        out.extend(Case(kind, n, target=(n == sizes[-1])) for n in sizes)
    return out


def find_case(profile: str, case_id: str) -> Case:
    """The case of `profile` whose id is `case_id` (the memory probe's subprocess uses it)."""
    for case in cases(profile):
        if case.id == case_id:
            return case
    raise KeyError(f"no case {case_id!r} in profile {profile!r}")


@dataclass
class Built:
    """A case's argument plus what the report needs to turn seconds into throughput.

    `ceiling` yields the buffers that raw xxh3_128 hashes for the ceiling: the same memory
    the argument holds (for strided views: a contiguous buffer of the same logical size).
    It is None where no raw memory exists (a list of dicts).
    """

    case: Case
    obj: Any
    logical_bytes: int
    objects: int
    ceiling: Callable[[], Iterator[Any]] | None = field(repr=False)


def _floats(rng: np.random.Generator, nbytes: int) -> np.ndarray[Any, Any]:
    return rng.random(nbytes // 8)


def _dataframe(rows: int, arrow: bool) -> Built:
    import pandas as pd
    import pyarrow as pa

    strings = [f"name-{i}" for i in range(rows)]
    column = pd.Series(strings, dtype="str" if arrow else object)
    del strings
    ints = np.arange(rows, dtype=np.int64)
    df = pd.DataFrame({"id": ints, "score": ints * 0.5, "name": column}, copy=False)
    text = pa.array(df["name"], type=pa.large_string())  # zero-copy for the Arrow column
    numeric = [df["id"].to_numpy(), df["score"].to_numpy()]
    text_buffers = [b for b in text.buffers() if b is not None]
    nbytes = sum(a.nbytes for a in numeric) + sum(b.size for b in text_buffers)

    def ceiling() -> Iterator[Any]:
        yield from numeric
        yield from text_buffers

    kind = "df_arrow" if arrow else "df_object"
    return Built(Case(kind, rows, False), df, nbytes, rows, ceiling)


def build(case: Case) -> Built:
    """Make the argument of `case` (deterministic content, seeded)."""
    rng = np.random.default_rng(20240604)
    n = case.n
    if case.kind == "ndarray":
        arr = _floats(rng, n)
        return Built(case, arr, arr.nbytes, 1, lambda: iter([arr]))
    if case.kind == "bytes":
        data = _floats(rng, n).tobytes()
        return Built(case, data, len(data), 1, lambda: iter([data]))
    if case.kind == "strided":
        base = _floats(rng, n)
        view = base[::2]
        contiguous = base[: view.size]
        return Built(case, view, view.nbytes, 1, lambda: iter([contiguous]))
    if case.kind == "dict_of_arrays":
        arrays = {f"a{i:03d}": _floats(rng, n) for i in range(DICT_OF_ARRAYS_COUNT)}
        total = sum(a.nbytes for a in arrays.values())
        return Built(case, arrays, total, DICT_OF_ARRAYS_COUNT, lambda: iter(arrays.values()))
    if case.kind == "str":
        text = rng.integers(97, 123, n, dtype=np.uint8).tobytes().decode("ascii")
        encoded = text.encode("utf-8")  # ASCII: the same bytes the str holds
        return Built(case, text, len(encoded), 1, lambda: iter([encoded]))
    if case.kind == "list_of_dicts":
        records = [{"id": i, "name": f"n{i}", "score": i * 0.5} for i in range(n)]
        return Built(case, records, 0, n, None)
    if case.kind in ("df_object", "df_arrow"):
        built = _dataframe(n, arrow=case.kind == "df_arrow")
        built.case = case
        return built
    raise KeyError(f"unknown case kind {case.kind!r}")
