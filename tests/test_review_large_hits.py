"""Outside review of large local hits: ways to change an entry's bytes that its
timestamps do not show, and what a hit hands out.

A writable shared map (``mmap(MAP_SHARED)``) changes a file's timestamps only on the
first write to each page after the page was last written back; later writes to the same
dirty page change bytes and no timestamp. A verification record must therefore never
vouch for a file someone holds open for writing: what it vouches for could change
unseen, for every later hit, in every process.
"""

from __future__ import annotations

import mmap
import os
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xxhash

import memokey
from helpers.mapped_hits import ramp
from memokey import verified
from memokey.entry_format import parse
from memokey.errors import ResultCorruptedError
from test_large_hits_verified import REFUSED, N, _hit, _publish, _skipped, _verified_in_full

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/smaps").exists() or os.name != "posix",
    reason="needs Linux /proc/self/smaps and POSIX files",
)


def _payload_byte(entry: Path) -> int:
    """The file offset of one byte inside the entry's payload."""
    layout = parse(entry.read_bytes(), "x")
    (_stream, _), (offset, _length) = layout.parts
    return offset + 4096


def _shared_map(entry: Path) -> mmap.mmap:
    fd = os.open(entry, os.O_RDWR)
    try:
        return mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    finally:
        os.close(fd)  # the map keeps the file open for writing


@pytest.mark.slow
@pytest.mark.parametrize("unmapped", [False, True], ids=["map-still-open", "map-closed"])
def test_a_writable_shared_map_cannot_change_an_entry_behind_its_record(
    tmp_path: Path, unmapped: bool
) -> None:
    root, entry = _publish(tmp_path)
    at = _payload_byte(entry)
    shared = _shared_map(entry)
    original = shared[at]
    shared[at] = original ^ 0xFF  # first write to the page: its timestamps change
    shared[at] = original  # back as it was: the bytes are intact again
    assert _verified_in_full(_hit(root))  # changed since recorded: verified in full
    shared[at] = original ^ 0xFF  # the page is writable already: no timestamp changes
    if unmapped:
        shared.close()
    try:
        assert _hit(root)["error"] in REFUSED
    finally:
        if not shared.closed:
            shared.close()


@pytest.mark.slow
def test_an_entry_shared_mapped_for_writing_while_it_is_published_is_not_vouched_for(
    tmp_path: Path,
) -> None:
    root, entry = _publish(tmp_path)
    shared = _shared_map(entry)
    try:
        assert _verified_in_full(_hit(root))  # only while someone could write it unseen
        assert _verified_in_full(_hit(root))
    finally:
        shared.close()
    assert _skipped(_hit(root))  # nothing was written: the record vouches again
    f = memokey.memoize(root)(ramp)
    assert np.array_equal(f(N), ramp(N))


@pytest.mark.slow
def test_a_records_file_planted_as_a_hard_link_to_another_file_is_never_written(
    tmp_path: Path,
) -> None:
    root, entry = _publish(tmp_path / "root")
    records = entry.parent / verified.RECORDS_FILE
    records.unlink()
    victim = tmp_path / "someone-elses-file"
    victim.write_bytes(b"not memokey's to change\n")
    os.utime(victim, ns=(1, 1))
    os.link(victim, records)  # planted by someone who can write the function directory
    assert _verified_in_full(_hit(root))
    assert _verified_in_full(_hit(root))  # nothing could be recorded
    assert victim.read_bytes() == b"not memokey's to change\n"
    assert victim.stat().st_mtime_ns == 1


_SHARED = np.zeros(N)  # a result another thread keeps changing (a caller's bug)


def _shared_buffer(i: int) -> Any:
    return _SHARED


def _torn(entry: Path) -> bool:
    data = entry.read_bytes()
    layout = parse(data, "x")
    end = layout.payload_offset + layout.payload_length
    return xxhash.xxh3_128_digest(data[:end]) != layout.checksum


@pytest.mark.slow
def test_a_result_changed_by_another_thread_while_it_was_written_is_reported_not_returned(
    tmp_path: Path,
) -> None:
    f = memokey.memoize(f"file://{tmp_path}", code="off")(_shared_buffer)
    stop = threading.Event()

    def keep_changing() -> None:
        while not stop.is_set():
            _SHARED[-1] += 1  # the last element: written well after the checksum was taken

    changer = threading.Thread(target=keep_changing)
    changer.start()
    torn = None
    try:
        for i in range(40):  # checksummed, then written while the value changes
            f(i)
            if _torn(Path(f.key_for(i).uri.removeprefix("file://"))):
                torn = i
                break
    finally:
        stop.set()
        changer.join()
    assert torn is not None, "no write was torn: the value did not change while written"
    with pytest.raises(ResultCorruptedError):
        f(torn)
