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
from memokey.testing.memory_maps import data_buffers, resident, share_inside_map

__all__ = ["data_buffers", "main", "ramp", "share_inside_map"]


def ramp(n: int) -> Any:
    return np.arange(n, dtype=np.float64)


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
