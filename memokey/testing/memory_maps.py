"""Where a value's memory lies: in a file's memory map, or resident (Linux /proc).

Tests and benchmarks use these to show that a hit was built on the entry's map without
a copy, or that it did not read a payload, without timing anything.
"""

from __future__ import annotations

from typing import Any

__all__ = ["data_buffers", "map_ranges", "resident", "share_inside_map"]


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
    import numpy as np

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
