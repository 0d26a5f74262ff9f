"""Time and extra peak RSS of writing, then reading, one large ndarray result.

Run as `python -m benchmarks.largeprobe ROOT_URL STORAGE_OPTIONS_JSON NBYTES [COMPRESS
[OPERATIONS [LABEL]]]`; prints one JSON line per operation. COMPRESS: e.g. ``zstd`` (the
ramp compresses about 8:1), ``none`` or empty for none. OPERATIONS is ``write,read``
(the default: a miss, then a hit in the same process) or ``read`` (a hit of an entry
another process wrote: a fresh process's hit); LABEL names the row (e.g. "read, fresh
process 2"). A fresh interpreter per run (see `benchmarks.memprobe` for the method): the
kernel's peak-RSS mark is reset before each call, and what the value itself occupies
(its `nbytes`) is subtracted, so "extra" is what memokey needed beyond the result. A
memory-mapped hit whose pages were never touched grows RSS by less than the value's
size: then all of the growth counts as extra (conservative).
"""

from __future__ import annotations

import gc
import json
import sys
import time
from typing import Any

import numpy as np

import memokey
from benchmarks.memprobe import CLEAR_REFS, _status_bytes


def ramp(n: int) -> Any:
    return np.arange(n, dtype=np.float64)


def main(argv: list[str]) -> int:
    url, options, nbytes = argv[0], json.loads(argv[1]), int(argv[2])
    compress = argv[3] if len(argv) > 3 and argv[3] not in ("", "none") else False
    operations = argv[4].split(",") if len(argv) > 4 else ["write", "read"]
    label = argv[5] if len(argv) > 5 else None
    f = memokey.memoize(url, storage_options=options, compress=compress)(ramp)
    f(1 << 17)
    f(1 << 17)  # imports and first-call caches are not counted
    for operation in operations:
        gc.collect()
        CLEAR_REFS.write_text("5")
        base = _status_bytes("VmRSS")
        start = time.perf_counter()
        value = f(nbytes // 8)
        seconds = time.perf_counter() - start
        growth = _status_bytes("VmHWM") - base
        extra = growth - value.nbytes if growth >= value.nbytes else growth
        row = {"operation": label or operation, "seconds": seconds, "extra_bytes": extra}
        print(json.dumps({**row, "compress": compress or "none"}))
        del value
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
