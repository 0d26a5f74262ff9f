"""A large result and a probe that hits it in a fresh process and reports how much of
the entry's memory map the hit brought in (so a test sees whether the payload was read,
without timing anything).

`python -m helpers.mapped_hits ROOT N` prints one JSON line: ``mapped`` (bytes of the
entry file's map resident in this process, from /proc/self/smaps, while the value is
alive), ``correct`` (the value is ``ramp(N)``) and ``error`` (the exception's type name,
when the hit raised). The signing key, ``MEMOKEY_VERIFY`` and ``MEMOKEY_TRACK_USE`` come
from the environment.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

import memokey
from memokey import usage


def ramp(n: int) -> Any:
    return np.arange(n, dtype=np.float64)


def resident(path: str) -> int:
    """Bytes of the maps of `path` resident in this process (smaps ``Rss``)."""
    total, inside = 0, False
    with open("/proc/self/smaps") as smaps:
        for line in smaps:
            first = line.split(maxsplit=1)[0]
            if "-" in first and not first.endswith(":"):  # a mapping's header line
                inside = line.rstrip("\n").endswith(" " + path)
            elif inside and first == "Rss:":
                total += int(line.split()[1]) * 1024
    return total


def main(argv: list[str]) -> int:
    root, n = argv[0], int(argv[1])
    f = memokey.memoize(root)(ramp)
    path = f.key_for(n).uri.removeprefix("file://")
    try:
        value = f(n)
    except memokey.MemokeyError as exc:
        print(json.dumps({"mapped": 0, "correct": False, "error": type(exc).__name__}))
        return 0
    mapped = resident(path)
    correct = bool(value.shape == (n,) and np.array_equal(value, ramp(n)))
    usage.wait_for_marks()
    print(json.dumps({"mapped": mapped, "correct": correct, "error": None}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


def map_ranges(path: str) -> list[tuple[int, int]]:
    """The address ranges where this process maps the file at `path`."""
    ranges = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            if line.rstrip("\n").endswith(" " + path):
                start, end = (int(x, 16) for x in line.split()[0].split("-"))
                ranges.append((start, end))
    return ranges


def data_buffers(value: Any) -> list[tuple[int, int]]:
    """(address, size) of the memory holding the data of a pyarrow Table or a pandas
    DataFrame (its numpy columns and its Arrow-backed columns' chunks)."""
    import pyarrow as pa

    found: list[tuple[int, int]] = []
    if isinstance(value, pa.Table):
        for column in value.columns:
            for chunk in column.chunks:
                found += [(b.address, b.size) for b in chunk.buffers() if b is not None]
        return found
    for name in value.columns:
        array = value[name].array
        chunked = getattr(array, "_pa_array", None)
        if chunked is not None:
            for chunk in chunked.chunks:
                found += [(b.address, b.size) for b in chunk.buffers() if b is not None]
        else:
            for data in _numpy_parts(array):
                found.append((data.__array_interface__["data"][0], data.nbytes))
    return found


def _numpy_parts(array: Any) -> list[Any]:
    """The numpy arrays a pandas array keeps its data in (no conversion, no copy)."""
    if hasattr(array, "_data") and hasattr(array, "_mask"):  # nullable Int64, boolean...
        return [array._data, array._mask]
    codes = getattr(array, "codes", None)
    if codes is not None:  # Categorical
        return [codes]
    return [np.asarray(array)]


def share_inside_map(value: Any, path: str) -> float:
    """The share of the value's data bytes that lie inside the map of `path` (1.0: the
    value was built on the map without a copy)."""
    ranges = map_ranges(path)
    buffers = [(at, size) for at, size in data_buffers(value) if size]
    inside = sum(s for at, s in buffers if any(lo <= at and at + s <= hi for lo, hi in ranges))
    return inside / max(1, sum(s for _, s in buffers))
