"""Time, extra peak RSS and zero-copy of one large pandas DataFrame or pyarrow Table result.

Run as `python -m benchmarks.frameprobe ROOT_URL NBYTES KIND [OPERATIONS [LABEL]]`; prints
one JSON line per operation (``write`` = a miss, ``read`` = a hit). KIND is ``frame``
(float64 columns), ``frame-str`` (float64 columns and a pandas ``str`` column, which
pandas 3 stores in Arrow), ``table`` (a pyarrow Table: float64 and string columns,
cloudpickle) or ``table-safe`` (the same Table, ``serializer="arrow"``). Measured as in
`benchmarks.largeprobe` (a fresh interpreter; extra = peak RSS growth beyond the value's
own bytes, all of it when the value's pages were not even touched; a write returns a
value built before the measurement, so all of its growth is memokey's); ``mapped`` is the
share of the value's bytes that lie inside the entry file's memory map (1.0: a
zero-copy hit, 0.0: a copy).
"""

from __future__ import annotations

import gc
import json
import sys
import time
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import memokey
from benchmarks.memprobe import CLEAR_REFS, _status_bytes
from memokey.testing.memory_maps import share_inside_map

_FLOAT_COLUMNS = 6


def _strings(rows: int) -> pa.ChunkedArray:
    """About 16 bytes per row of digits (offsets included), built in Arrow (fast)."""
    digits = pc.cast(pa.array(np.arange(10**11, 10**11 + rows, dtype=np.int64)), pa.string())
    return pa.chunked_array([digits])


def _floats(rows: int) -> dict[str, Any]:
    return {f"x{i}": np.arange(rows, dtype=np.float64) + i for i in range(_FLOAT_COLUMNS)}


def frame(rows: int) -> Any:
    return pd.DataFrame(_floats(rows))


def frame_str(rows: int) -> Any:
    out = pd.DataFrame(_floats(rows))
    out["s"] = pd.Series(pd.array(_strings(rows), dtype="str"))
    return out


def table(rows: int) -> Any:
    return pa.table({**_floats(rows), "s": _strings(rows)})


KINDS = {"frame": frame, "frame-str": frame_str, "table": table, "table-safe": table}
_built: dict[tuple[str, int], Any] = {}


def produce(kind: str, rows: int) -> Any:
    """The memoized function: the value built before the measurement when there is one
    (so a write's peak is memokey's alone), else built here."""
    built = _built.pop((kind, rows), None)
    return KINDS[kind](rows) if built is None else built


ROW_BYTES = {"frame": 8 * _FLOAT_COLUMNS, "frame-str": 8 * _FLOAT_COLUMNS + 16}
ROW_BYTES |= {"table": ROW_BYTES["frame-str"], "table-safe": ROW_BYTES["frame-str"]}


def nbytes(value: Any) -> int:
    if isinstance(value, pa.Table):
        return int(value.nbytes)
    return int(value.memory_usage(index=True, deep=False).sum())


def _peak(call: Any) -> tuple[int, int, float, Any, int]:
    """(peak RSS growth, the value's own bytes, seconds, value, growth of anonymous
    memory: what the call allocated and kept, a copy of the value included; pages of a
    file map it read are not anonymous) of one call."""
    gc.collect()
    CLEAR_REFS.write_text("5")
    base, anon = _status_bytes("VmRSS"), _status_bytes("RssAnon")
    start = time.perf_counter()
    value = call()
    seconds = time.perf_counter() - start
    kept = _status_bytes("RssAnon") - anon
    return _status_bytes("VmHWM") - base, nbytes(value), seconds, value, kept


def main(argv: list[str]) -> int:
    url, size, kind = argv[0], int(argv[1]), argv[2]
    operations = argv[3].split(",") if len(argv) > 3 else ["write", "read"]
    label = argv[4] if len(argv) > 4 else None
    serializer = "arrow" if kind == "table-safe" else "cloudpickle"
    f = memokey.memoize(url, serializer=serializer, code="off")(produce)
    f(kind, 1 << 10)
    f(kind, 1 << 10)  # imports and first-call caches are not counted
    rows = size // ROW_BYTES[kind]
    path = f.key_for(kind, rows).uri.removeprefix("file://")
    if "write" in operations:
        _built[(kind, rows)] = KINDS[kind](rows)
    for operation in operations:
        growth, own, seconds, value, kept = _peak(lambda: f(kind, rows))
        extra = growth if operation == "write" or growth < own else growth - own
        row = {
            "kind": kind,
            "operation": label or operation,
            "seconds": seconds,
            "extra_bytes": extra,
            "anonymous_bytes": kept,
            "value_bytes": own,
            "mapped": share_inside_map(value, path),
        }
        print(json.dumps(row))
        del value
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
