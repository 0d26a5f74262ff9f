"""Result formats that cannot run code when decoded: ``json``, ``numpy`` and ``arrow``.

With ``allow_pickle=False`` (or ``MEMOKEY_ALLOW_PICKLE=0``) only formats like these are
decoded, so a result planted by someone who can write to the bucket can at worst be a
wrong value, never a program. numpy and pyarrow are imported only when used.
"""

from __future__ import annotations

import io
import json
from typing import Any

__all__ = [
    "arrow_dumps",
    "arrow_loads",
    "arrow_loads_oob",
    "arrow_pieces",
    "json_dumps",
    "json_loads",
    "numpy_dumps",
    "numpy_loads",
]


def json_dumps(value: Any) -> bytes:
    """Compact JSON; NaN and infinities are refused (they are not JSON)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()


def json_loads(data: bytes) -> Any:
    return json.loads(data)


def numpy_dumps(value: Any) -> bytes:
    """One array in ``.npy`` format; object arrays are refused (they would need pickle)."""
    import numpy as np

    array = np.asarray(value)
    if array.dtype.hasobject:
        raise TypeError("object arrays need pickle; store a numeric or string array")
    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return out.getvalue()


def numpy_loads(data: bytes) -> Any:
    """One ``.npy`` array; anything else (a pickle, an ``.npz`` archive, object arrays)
    raises. `np.load` would return an archive object for ``.npz`` bytes."""
    from numpy.lib import format as npy

    return npy.read_array(io.BytesIO(data), allow_pickle=False)


def _table(value: Any) -> Any:
    import pyarrow as pa

    table = pa.Table.from_batches([value]) if isinstance(value, pa.RecordBatch) else value
    if not isinstance(table, pa.Table):
        raise TypeError(f"the arrow serializer stores pyarrow Tables, not {type(value)}")
    return table


class _Pieces:
    """A write-only file that keeps what it is given: pyarrow hands an IPC writer's
    small messages over as bytes and the table's own buffers as `pyarrow.Buffer`s over
    the table's memory (no copy)."""

    closed = False

    def __init__(self) -> None:
        self.pieces: list[Any] = []
        self.size = 0

    def write(self, data: Any) -> int:
        self.pieces.append(data)
        size = memoryview(data).nbytes
        self.size += size
        return size

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True


def arrow_pieces(value: Any) -> list[Any]:
    """A pyarrow Table (or RecordBatch) as an Arrow IPC stream, in the pieces the writer
    produces: its buffers are the table's own memory, so nothing is copied."""
    import pyarrow as pa

    table = _table(value)
    sink = _Pieces()
    with pa.ipc.new_stream(pa.PythonFile(sink, mode="w"), table.schema) as writer:
        writer.write_table(table)
    return sink.pieces


def arrow_dumps(value: Any) -> bytes:
    """A pyarrow Table (or RecordBatch) as an Arrow IPC stream."""
    return b"".join(arrow_pieces(value))


def arrow_loads(data: Any) -> Any:
    """The table in an Arrow IPC stream (bytes or any buffer: a memory-mapped entry is
    read in place, the table's buffers are views of it), fully validated: Arrow trusts
    the offsets and lengths in a stream, and a planted stream with out-of-range ones
    makes reading the table read outside its buffers (a crash, or other memory in the
    value). Validation runs at ~5 GB/s; for fixed-width columns it reads no data."""
    import pyarrow as pa

    with pa.ipc.open_stream(pa.py_buffer(data)) as reader:
        table = reader.read_all()
    table.validate(full=True)
    return table


def arrow_loads_oob(stream: memoryview, buffers: list[memoryview]) -> Any:
    """A large stream stored out of band (`arrow_pieces`): the one buffer is the stream."""
    if len(stream) or len(buffers) != 1:
        raise ValueError("an Arrow entry holds exactly one out-of-band buffer, its stream")
    return arrow_loads(buffers[0])
