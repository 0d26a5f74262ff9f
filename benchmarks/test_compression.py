"""Compression (``compress="zstd"``): ratio and throughput of encoding and decoding a
result, compressed against uncompressed, for a compressible array and a DataFrame.

Measured on the entry bytes in memory (`memokey.results.encode_result` /
`decode_result`: serializing, compressing, checksumming; no store), so the figure is the
cost compression adds, apart from any backend. Throughput is of the uncompressed value
(its pickle stream and buffers); each time is the best of a few runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from benchmarks.conftest import Records
from memokey.compression import Compression
from memokey.results import decode_result, encode_result

SIZES = {"full": 256 << 20, "smoke": 1 << 20}  # bytes of the value
ROUNDS = {"full": 3, "smoke": 1}


def _array(nbytes: int) -> Any:
    return np.arange(nbytes // 8, dtype=np.float64)  # a ramp: zstd gets about 8:1


def _frame(nbytes: int) -> Any:
    import pandas as pd

    rows = nbytes // 32
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "id": np.arange(rows, dtype=np.int64),
            "price": rng.integers(100, 10_000, rows).astype(np.float64) / 100,
            "qty": rng.integers(0, 50, rows, dtype=np.int64),
            "shop": pd.Categorical(rng.choice(["north", "south", "east", "west"], rows)),
        }
    )


CASES: dict[str, Callable[[int], Any]] = {"ndarray (ramp)": _array, "DataFrame": _frame}


def _best(rounds: int, fn: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize("compress", [None, Compression("zstd")], ids=["none", "zstd"])
@pytest.mark.parametrize("case", list(CASES))
def test_compression_ratio_and_throughput(
    case: str, compress: Compression | None, records: Records, profile: str
) -> None:
    value = CASES[case](SIZES[profile])
    rounds = ROUNDS[profile]
    raw = len(encode_result(value))  # the entry as it would be stored uncompressed
    data = encode_result(value, compress=compress)
    write = _best(rounds, lambda: encode_result(value, compress=compress))
    read = _best(rounds, lambda: decode_result(data, "memory://bench"))
    records.compression.append(
        {
            "case": case,
            "compress": str(compress) if compress else "none",
            "raw_bytes": raw,
            "stored_bytes": len(data),
            "write_seconds": write,
            "read_seconds": read,
        }
    )
