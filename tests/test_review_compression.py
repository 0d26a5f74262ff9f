"""Outside review of zstd compression: planted entries that must be refused, writer
state that must not leak from one result into the next, and values that must come back
as they went in."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xxhash
import zstandard

import memokey
from memokey import entry_format
from memokey.errors import ConfigurationError, ResultCorruptedError
from memokey.results import decode_result, register_serializer

REPO = Path(__file__).resolve().parents[1]
URI = "memory://x/planted"
VALUE = list(range(300))
STREAM = pickle.dumps(VALUE, protocol=5)
FRAME = zstandard.ZstdCompressor().compress(STREAM)
SKIPPABLE = b"\x50\x2a\x4d\x18" + (4).to_bytes(4, "little") + b"abcd"


def _plant(name: str, facts: dict[str, Any], payload: bytes) -> bytes:
    """An unsigned entry with a valid checksum, as anyone with write access could make."""
    header, _ = entry_format.pack_header(name, facts)
    body = header + payload
    trailer = b"{}"
    return (
        body
        + trailer
        + entry_format.pack_footer(len(payload), xxhash.xxh3_128_digest(body), trailer)
    )


def _single(payload: bytes) -> bytes:
    return _plant("pickle+zstd", {"codec": "zstd", "raw_size": len(STREAM)}, payload)


def _parted(payload: bytes) -> bytes:
    facts = {"codec": "zstd", "raw_size": len(STREAM), "raw_parts": [[0, len(STREAM)], [0, 0]]}
    return _plant("pickle+zstd", facts, payload)


def test_the_planted_entries_below_are_well_formed_apart_from_what_each_adds() -> None:
    assert decode_result(_single(FRAME), URI) == VALUE
    assert decode_result(_parted(FRAME), URI) == VALUE


@pytest.mark.parametrize(
    "after",
    [FRAME, b"garbage", SKIPPABLE, zstandard.ZstdCompressor().compress(b"")],
    ids=["a second frame", "garbage", "a skippable frame", "an empty frame"],
)
def test_a_single_stream_payload_with_bytes_after_its_frame_is_refused_as_corrupted(
    after: bytes,
) -> None:
    """Every stored byte is memokey's one frame: what follows it is not silently ignored
    (a payload that decompresses to more than declared is corruption, as documented)."""
    with pytest.raises(ResultCorruptedError):
        decode_result(_single(FRAME + after), URI)


@pytest.mark.parametrize("after", [FRAME, b"garbage"], ids=["a second frame", "garbage"])
def test_a_parted_payload_with_bytes_after_its_frame_is_refused_as_corrupted(
    after: bytes,
) -> None:
    with pytest.raises(ResultCorruptedError):
        decode_result(_parted(FRAME + after), URI)


def test_a_frame_with_a_bad_zstd_checksum_is_refused_in_both_layouts() -> None:
    checked = bytearray(zstandard.ZstdCompressor(write_checksum=True).compress(STREAM))
    checked[-1] ^= 0xFF
    for planted in (_single(bytes(checked)), _parted(bytes(checked))):
        with pytest.raises(ResultCorruptedError, match="not valid zstd"):
            decode_result(planted, URI)


def test_a_frame_that_needs_a_dictionary_is_refused_in_both_layouts() -> None:
    samples = [pickle.dumps(list(range(i, i + 50))) for i in range(2000)]
    table = zstandard.train_dictionary(4096, samples)
    framed = zstandard.ZstdCompressor(dict_data=table).compress(STREAM)
    for planted in (_single(framed), _parted(framed)):
        with pytest.raises(ResultCorruptedError, match="not valid zstd"):
            decode_result(planted, URI)


def test_a_misaligned_planted_buffer_still_gives_the_array_it_describes() -> None:
    """Alignment is the writer's courtesy, not something a reader relies on."""
    array = np.arange(20_000, dtype=np.float64)
    buffers: list[memoryview] = []
    stream = pickle.dumps(array, protocol=5, buffer_callback=lambda b: buffers.append(b.raw()))
    raw = stream + b"\0" + bytes(buffers[0])
    parts = [[0, len(stream)], [len(stream) + 1, buffers[0].nbytes]]
    facts = {"codec": "zstd", "raw_size": len(raw), "raw_parts": parts}
    got = decode_result(_plant("pickle+zstd", facts, zstandard.ZstdCompressor().compress(raw)), URI)
    np.testing.assert_array_equal(got, array)


# -- what a writer keeps ----------------------------------------------------------------

KEEPS = """
import gc, numpy as np, memokey

def rss_mib():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 >> 20

@memokey.memoize({root!r}, compress=("zstd", 19))
def quarters(n):
    return np.random.default_rng(0).integers(0, 4, n, dtype=np.uint8)

quarters(1 << 10)  # imports, a compressor context at level 19 for a tiny result
gc.collect()
before = rss_mib()
quarters(4 << 20)  # compressed at level 19: tens of MiB of working memory
gc.collect()
print(rss_mib() - before)
"""


def test_a_high_compression_level_gives_its_working_memory_back_after_the_publish(
    tmp_path: Path,
) -> None:
    """A zstd context at a high level takes tens (level 19) to hundreds (level 22) of MiB
    for a large input; cached per thread and level, every thread of a pool kept it for
    the life of the process. The 4 MiB result itself is gone when RSS is read."""
    script = KEEPS.format(root=tmp_path.as_uri())
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "backends")])},
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) < 16


# -- what a serializer may return -------------------------------------------------------


def _fortran_view(value: Any) -> memoryview:
    return memoryview(np.asfortranarray(value))


def _c_order_floats(data: bytes) -> Any:
    return np.frombuffer(data, dtype=np.float64)


@pytest.mark.parametrize("compress", [False, "zstd"])
def test_a_serializer_returning_a_non_contiguous_view_stores_its_bytes(
    tmp_path: Path, compress: object
) -> None:
    """A registered serializer may return any bytes-like object; one that is not
    C-contiguous (a Fortran-ordered array's memoryview) is stored as its bytes in logical
    order, as ``bytes(view)`` gives them, never a raw BufferError/TypeError."""
    name = f"fortran-view-{compress}"
    register_serializer(name, _fortran_view, _c_order_floats)
    square = np.arange(90_000, dtype=np.float64).reshape(300, 300)
    f = memokey.memoize(tmp_path.as_uri(), serializer=name, compress=compress)(_same)
    assert f(square) is square  # a miss returns the value it computed
    np.testing.assert_array_equal(f(square), square.ravel())  # a hit: what loads made


def _same(value: Any) -> Any:
    return value


# -- settings ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "level", ["²", "9" * 5000, "٣"], ids=["superscript", "5000 digits", "arabic-indic"]
)
def test_a_level_that_is_not_ascii_digits_is_a_configuration_error_never_a_raw_error(
    level: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigurationError, match="LEVEL from 1 to 22"):
        memokey.memoize("memory://review-levels", compress=f"zstd:{level}")(_same)
    monkeypatch.setenv("MEMOKEY_COMPRESS", f"zstd:{level}")
    with pytest.raises(ConfigurationError, match="MEMOKEY_COMPRESS"):
        memokey.memoize("memory://review-levels")(_same)
