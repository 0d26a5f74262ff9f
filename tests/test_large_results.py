"""Large results without copies: pickle protocol 5 buffers out of band, aligned in the
entry, written part by part and memory-mapped on local hits."""

from __future__ import annotations

import mmap
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import memokey
from memokey.entry_format import ALIGN, parse
from memokey.errors import ResultCorruptedError, SignatureError
from memokey.results import decode_result, encode_result

Location = tuple[str, dict[str, Any]]
KEY = "a signing key of at least sixteen bytes"


def ramp(n: int) -> np.ndarray:
    return np.arange(n, dtype=np.float64)


def _base_object(array: np.ndarray) -> object:
    base: object = array
    while getattr(base, "base", None) is not None:
        base = base.base  # type: ignore[attr-defined]
    return getattr(base, "obj", base)


def test_a_large_array_round_trips_on_every_backend_and_comes_back_writable(
    store_root: Location,
) -> None:
    url, options = store_root
    f = memokey.memoize(url, storage_options=options)(ramp)
    first = f(1 << 19)  # 4 MiB: out of band
    again = f(1 << 19)
    assert np.array_equal(first, again)
    again[0] = -1.0  # a hit's array is the caller's to change
    assert f(1 << 19)[0] == 0.0


def test_large_buffers_travel_out_of_band_and_aligned() -> None:
    value = {"a": np.ones(1 << 16), "b": np.arange(3 << 15, dtype=np.int32), "small": [1, 2]}
    data = encode_result(value)
    layout = parse(data, "memory://x")
    (_stream_at, stream_len), *buffers = layout.parts
    assert len(buffers) == 2
    assert all(offset % ALIGN == 0 for offset, _ in buffers)
    assert stream_len < 4096  # the arrays are not in the pickle stream
    back = decode_result(data, "memory://x")
    assert np.array_equal(back["a"], value["a"])
    assert np.array_equal(back["b"], value["b"])


def test_small_buffers_stay_in_the_stream() -> None:
    layout = parse(encode_result(np.ones(100)), "memory://x")
    assert layout.parts == ()


def test_a_large_local_hit_is_memory_mapped_and_changing_it_never_changes_the_entry(
    tmp_path: Path,
) -> None:
    f = memokey.memoize(f"file://{tmp_path}")(ramp)
    f(1 << 21)  # 16 MiB
    hit = f(1 << 21)
    assert isinstance(_base_object(hit), mmap.mmap)
    hit[:] = 7.0
    assert f(1 << 21)[5] == 5.0


@pytest.mark.parametrize("signed", [False, True])
def test_a_damaged_buffer_is_reported_never_returned(tmp_path: Path, signed: bool) -> None:
    key = KEY if signed else None
    f = memokey.memoize(f"file://{tmp_path}", signing_key=key)(ramp)
    f(1 << 21)
    entry = Path(f.key_for(1 << 21).uri.removeprefix("file://"))
    data = bytearray(entry.read_bytes())
    (_, _), (offset, _length) = parse(bytes(data), "x", prefer_signed=signed).parts
    data[offset + 1000] ^= 0xFF
    entry.write_bytes(bytes(data))
    with pytest.raises((SignatureError, ResultCorruptedError)):
        f(1 << 21)


PROBE = """
import gc, sys
import numpy as np, memokey
def ramp(n):
    return np.arange(n, dtype=np.float64)
def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
f = memokey.memoize(sys.argv[1])(ramp)
f(1 << 17); f(1 << 17)
gc.collect()
open("/proc/self/clear_refs", "w").write("5")
base = status("VmRSS")
value = f(int(sys.argv[2]))
print(status("VmHWM") - base - value.nbytes)
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux peak-RSS reset")
def test_writing_and_reading_a_large_array_needs_no_copy_of_it(tmp_path: Path) -> None:
    n = 1 << 25  # 256 MiB of float64
    extra = []
    for _ in ("write", "read"):
        done = subprocess.run(
            [sys.executable, "-c", PROBE, f"file://{tmp_path}", str(n)],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONPATH": ":".join(sys.path)},
        )
        extra.append(int(done.stdout.strip()))
    assert max(extra) <= 64 * 2**20, extra  # beyond the value itself: no copy of it
