"""What a plain local root hands out about the files it maps and publishes.

Kept apart from `fsspec_store` (which imports fsspec and asyncio) so that the core can
recognise a mapped entry without importing a storage backend.
"""

from __future__ import annotations

import mmap
import os
from dataclasses import dataclass

__all__ = ["MAP_FROM", "MappedFile", "PublishedFile"]

MAP_FROM = 1 << 23
"""8 MiB: local objects this large are memory-mapped (below it one read is cheaper than
setting up a map)."""


class MappedFile(mmap.mmap):
    """A local object memory-mapped copy-on-write, with its OS path and the status of the
    descriptor it was mapped from (an fstat of that very descriptor: it describes the
    mapped file, whatever the path names later). `memokey.verified` checks its records
    against that status."""

    __slots__ = ("os_path", "status")
    os_path: str
    status: os.stat_result


@dataclass(frozen=True)
class PublishedFile:
    """A local object as `FsspecStore.publish_parts` published it: its OS path and its
    status taken on the writer's own descriptor after it got its name."""

    os_path: str
    status: os.stat_result
