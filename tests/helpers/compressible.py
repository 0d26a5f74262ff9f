"""Results for the compression tests (importable by the child processes they start,
which may lack `zstandard`: this module does not import it)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

RUNS: Counter[str] = Counter()


def ramp(n: int) -> np.ndarray:
    """A compressible array (zstd: about 8:1), large enough to travel out of band."""
    RUNS["ramp"] += 1
    return np.arange(n, dtype=np.float64)


def report(n: int) -> dict[str, Any]:
    """A compressible value without out-of-band buffers: one pickle stream."""
    RUNS["report"] += 1
    return {"rows": [{"i": i, "name": f"row {i}"} for i in range(n)]}


def noise(n: int) -> bytes:
    """Incompressible bytes."""
    RUNS["noise"] += 1
    return np.random.default_rng(n).bytes(n)
