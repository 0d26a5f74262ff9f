"""The writer's read-back check of a large local entry it just published (`intact`).

The writer takes an entry's checksum (and signature) over the value's own memory, then
writes that memory: another thread may change the value in between, and then the file
does not match its checksum. Before the writer's verification record vouches for the
file (`memokey.verified.record_published`), the file is read back once and checked as a
reader would, from the page cache (~75 ms per GiB). The pages behind the check are given
back as it goes, so a write still needs no memory beyond the value itself.
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator, Sequence
from typing import Any, cast

import xxhash

from memokey import entry_format
from memokey.errors import MemokeyError
from memokey.signing import Signer, place_of

__all__ = ["intact"]

_CHUNK = 1 << 23  # checked, then given back, 8 MiB at a time
_DONTNEED: int | None = getattr(mmap, "MADV_DONTNEED", None)


def intact(mapped: mmap.mmap, uri: str, signer: Signer | None) -> bool:
    """Whether the mapped entry's bytes pass the reader's check: its checksum, or with
    `signer` its signature (which covers every byte)."""
    try:
        layout = entry_format.parse(memoryview(mapped), uri, prefer_signed=signer is not None)
        if signer is None:
            checksum = xxhash.xxh3_128()
            for chunk in _Chunks(mapped, layout.payload_offset + layout.payload_length):
                checksum.update(chunk)
            return checksum.digest() == layout.checksum
        trailer = bytes(mapped[layout.signed_end :])
        chunks = cast(Sequence[Any], _Chunks(mapped, layout.signed_end))  # len, [i], iter
        signer.verify(chunks, trailer, kind="result", place=place_of(uri), uri=uri)
    except MemokeyError:
        return False
    return True


class _Chunks:
    """``mapped[:end]`` as a sequence of chunks; iterating gives the pages of each chunk
    back once the next one is asked for (the map is private and never written: a page
    touched again is simply read from the file again)."""

    def __init__(self, mapped: mmap.mmap, end: int) -> None:
        self._mapped, self._end = mapped, end

    def __len__(self) -> int:
        return max(1, -(-self._end // _CHUNK))

    def __getitem__(self, index: int) -> memoryview:
        if not 0 <= index < len(self):
            raise IndexError(index)
        start = index * _CHUNK
        return memoryview(self._mapped)[start : min(self._end, start + _CHUNK)]

    def __iter__(self) -> Iterator[Any]:
        for index in range(len(self)):
            yield self[index]
            self._give_back(index * _CHUNK, min(self._end, (index + 1) * _CHUNK))

    def _give_back(self, start: int, stop: int) -> None:
        length = stop - stop % mmap.PAGESIZE - start
        if _DONTNEED is None or length <= 0:
            return
        try:
            self._mapped.madvise(_DONTNEED, start, length)
        except (OSError, ValueError):  # only a saving: never a reason to fail
            return
