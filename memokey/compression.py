"""Optional compression of stored results: zstd, through the `zstandard` package
(``pip install 'memokey[zstd]'``).

Compression is a storage choice, never part of a key: the same call compressed or not is
the same entry, and a reader decodes whatever it finds, configured for compression or not.

- **Declared in the header.** A compressed entry's header names its format as
  ``{serializer}+{codec}`` (``cloudpickle+zstd``) and records, among its facts, the codec,
  the uncompressed size and where the pickle stream and its out-of-band buffers lie in the
  uncompressed bytes. A reader needs no registration; a codec it does not know, or zstd
  without `zstandard` installed, is refused before anything is decoded
  (`CompressionError`, a `SerializationError`). An older memokey sees a serializer it does
  not know and refuses it too; none of them takes it for a miss.
- **Checked before it is decompressed.** The checksum (or signature) covers the stored,
  compressed bytes and is verified first. The declared size bounds the output: a payload
  that decompresses to more (or less) is refused as corrupted, and a declared size no zstd
  frame of that length can reach (more than `MAX_RATIO` times it) is refused before any
  memory is allocated, so a planted entry cannot make a reader allocate or inflate at will.
- **One stream, written from the value's own memory.** The pickle stream and its
  out-of-band buffers (pickle protocol 5) are laid out as an uncompressed entry would lay
  them (buffers on 64-byte boundaries) and fed to one zstd frame piece by piece, in
  `CHUNK` slices: no joined copy of the value is made. What is held while writing is the
  compressed output (the entry is published with one exclusive write, which needs all of
  it), so a value compressed 10:1 costs a tenth of its size.
- **Only when it pays.** An entry is stored compressed only if that saves at least
  1/`MIN_SAVING` of its size; judged as it goes (after the first `CHUNK`) so that
  incompressible data stops early, and at the end, so tiny results (where a zstd frame's
  overhead outweighs the gain) stay uncompressed and keep the fastest hit.
- **Not memory-mapped.** A compressed entry is decompressed into fresh memory on every
  hit (its arrays are that memory, used in place, yours to change); only uncompressed
  local entries are memory-mapped. A large local one is still read through its map, and
  the compressed pages are given back as they are consumed (`_Dropping`), so a hit holds
  the value and a few MiB, not the compressed bytes too.
"""

from __future__ import annotations

import importlib
import mmap
import numbers
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from memokey._fixes import rm_command
from memokey.entry_format import corrupted
from memokey.errors import CompressionError, ConfigurationError, ResultCorruptedError
from memokey.signing import env_value

if TYPE_CHECKING:
    import zstandard

__all__ = [
    "CODECS",
    "COMPRESS_ENV",
    "OFF",
    "CompressSpec",
    "Compressed",
    "Compression",
    "check_compress",
    "compress",
    "decompress",
    "resolve",
    "split_name",
]

COMPRESS_ENV = "MEMOKEY_COMPRESS"
CODECS = ("zstd",)
SEPARATOR = "+"  # "{serializer}+{codec}" in an entry's header
DEFAULT_LEVEL = 3
MIN_LEVEL, MAX_LEVEL = 1, 22
CHUNK = 1 << 23  # 8 MiB fed to the compressor at a time
MIN_SAVING = 16  # compressed only when it saves at least 1/16 of the size
MAX_RATIO = 1 << 15  # a zstd block of >= 4 bytes yields at most 128 KiB
_SLACK = 1 << 17
KEEP_CONTEXT = 16 << 20  # a compressor whose context grew beyond this is not kept
ALIGN = 64
CODEC_FIELD = "codec"
RAW_SIZE_FIELD = "raw_size"
RAW_PARTS_FIELD = "raw_parts"
_INSTALL = "pip install 'memokey[zstd]'"


@dataclass(frozen=True)
class Compression:
    """A codec and its level; ``OFF`` is the explicit "never compress"."""

    codec: str
    level: int = DEFAULT_LEVEL

    def __str__(self) -> str:
        return "off" if self is OFF or self.codec == "off" else f"{self.codec}:{self.level}"


OFF = Compression("off", 0)

#: What ``compress=`` accepts (see `check_compress`).
CompressSpec: TypeAlias = str | tuple[str, int] | bool | Compression | None
_HOW = (
    "write compress='zstd', compress=('zstd', LEVEL) with LEVEL from 1 to 22 (3 by "
    "default), compress=False (never), or leave it out (MEMOKEY_COMPRESS decides; off "
    "when unset)"
)


def check_compress(value: object, *, source: str = "compress") -> Compression | None:
    """The `compress=` setting checked: a `Compression`, `OFF`, or None (not given: the
    environment decides per publish, see `resolve`). Asking for zstd without `zstandard`
    installed is a `ConfigurationError` naming the extra to install."""
    if value is None:
        return None
    if value is False or (isinstance(value, str) and value.strip().lower() in _OFF_WORDS):
        return OFF
    if isinstance(value, Compression) and (value is OFF or value.codec == "off"):
        return OFF
    codec: object
    level: object = DEFAULT_LEVEL
    if isinstance(value, Compression):
        codec, level = value.codec, value.level
    elif isinstance(value, str):
        codec, _, given = value.strip().lower().partition(":")
        if given:
            level = int(given) if _LEVEL.fullmatch(given.strip()) else given
    elif isinstance(value, tuple) and len(value) == 2:
        codec, level = value
        codec = codec.lower() if isinstance(codec, str) else codec
    else:
        raise ConfigurationError(f"{source}={value!r} is not a compression setting; {_how(source)}")
    if codec not in CODECS:
        raise ConfigurationError(
            f"{source}={value!r} names no codec memokey has (known: {', '.join(CODECS)}); "
            f"{_how(source)}"
        )
    if not isinstance(level, bool) and isinstance(level, numbers.Integral):
        level = int(level)  # a numpy integer is a level too
    if not isinstance(level, int) or isinstance(level, bool) or not MIN_LEVEL <= level <= MAX_LEVEL:
        raise ConfigurationError(f"{source}={value!r} has no usable level; {_how(source)}")
    _zstd(f"{source}={value!r}")  # fails now, naming the extra, rather than at a miss
    return Compression(str(codec), level)


def _how(source: str) -> str:
    if source == COMPRESS_ENV:
        return (
            f"set {COMPRESS_ENV} to zstd, zstd:LEVEL (LEVEL from 1 to 22, 3 by default) or "
            "off, or unset it"
        )
    return _HOW


_OFF_WORDS = ("", "0", "off", "none", "no", "false")
_LEVEL = re.compile(r"-?[0-9]{1,4}", re.ASCII)  # str.isdigit() takes "²", int() does not
_env_cache: tuple[str | None, Compression | None] = (None, None)


def resolve(setting: Compression | None) -> Compression | None:
    """What a publish uses: an explicit setting, else ``MEMOKEY_COMPRESS`` (read per
    publish, parsed once per value); None means uncompressed."""
    global _env_cache
    if setting is None:
        raw = env_value(COMPRESS_ENV)
        cached_raw, cached = _env_cache
        if raw != cached_raw:
            cached = None if raw is None else check_compress(raw, source=COMPRESS_ENV)
            _env_cache = (raw, cached)
        setting = cached
    return None if setting is None or setting.codec == "off" else setting


# -- writing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Compressed:
    """A compressed payload: its chunks (in order), their total size, and the header
    facts a reader needs to rebuild the uncompressed parts."""

    chunks: list[bytes]
    size: int
    facts: dict[str, Any]


_local = threading.local()


def compress(pieces: Sequence[Any], compression: Compression) -> Compressed | None:
    """`pieces` (the pickle stream, then its out-of-band buffers; or one payload) as one
    zstd frame, laid out as an uncompressed entry lays them (buffers 64-byte aligned);
    None when compression does not save 1/`MIN_SAVING` (store it uncompressed)."""
    zstd = _zstd(f"compress={str(compression)!r}")
    # A piece may be a list: one part written as several buffers (`results._in_pieces`).
    groups = [
        [memoryview(part).cast("B") for part in (piece if isinstance(piece, list) else [piece])]
        for piece in pieces
    ]
    placed, at = [], 0
    for i, group in enumerate(groups):
        if i:
            at += -at % ALIGN
        length = sum(view.nbytes for view in group)
        placed.append((at, length))
        at += length
    raw_size = at
    compressor = _compressor(zstd, compression.level)
    try:
        chunks, stored = _frame(compressor.compressobj(size=raw_size), placed, groups)
    finally:
        _release(compressor, compression.level)
    if chunks is None or not _pays(stored, raw_size):
        return None
    facts: dict[str, Any] = {CODEC_FIELD: compression.codec, RAW_SIZE_FIELD: raw_size}
    if len(placed) > 1:
        facts[RAW_PARTS_FIELD] = [list(part) for part in placed]
    return Compressed(chunks, stored, facts)


def _frame(
    compressor: Any, placed: list[tuple[int, int]], groups: list[list[memoryview]]
) -> tuple[list[bytes] | None, int]:
    """The zstd frame of `groups` (each part as one or more views) placed at `placed`,
    as chunks and their total size; (None, size so far) as soon as it is clear
    compression does not pay."""
    chunks: list[bytes] = []
    stored = fed = 0
    padding = bytes(ALIGN)
    for (offset, _length), group in zip(placed, groups, strict=True):
        if offset > fed:
            out = compressor.compress(padding[: offset - fed])
            fed = offset
            stored += _keep(chunks, out)
        for view in group:
            for start in range(0, view.nbytes, CHUNK):
                piece = view[start : start + CHUNK]
                stored += _keep(chunks, compressor.compress(piece))
                fed += piece.nbytes
                if fed >= CHUNK and not _pays(stored, fed):
                    return None, stored
    stored += _keep(chunks, compressor.flush())
    return chunks, stored


def _keep(chunks: list[bytes], out: bytes) -> int:
    if out:
        chunks.append(out)
    return len(out)


def _pays(stored: int, raw: int) -> bool:
    return stored <= raw - raw // MIN_SAVING and stored < raw


def _compressor(zstd: Any, level: int) -> zstandard.ZstdCompressor:
    """One compressor per thread and level (a zstd context is reused, not rebuilt), kept
    only while its working memory is small (see `_release`)."""
    cache: dict[int, zstandard.ZstdCompressor] | None = getattr(_local, "compressors", None)
    if cache is None:
        cache = _local.compressors = {}
    found = cache.get(level)
    if found is None:
        found = cache[level] = zstd.ZstdCompressor(level=level, write_content_size=True)
    return found


def _release(compressor: zstandard.ZstdCompressor, level: int) -> None:
    """Forget a compressor whose context grew beyond `KEEP_CONTEXT`: a high level on a
    large input works in tens (level 19) to hundreds (level 22) of MiB, which a cached
    context would hold, per thread, for the life of the process."""
    if compressor.memory_size() > KEEP_CONTEXT:
        cache: dict[int, Any] = getattr(_local, "compressors", {})
        if cache.get(level) is compressor:
            del cache[level]


# -- reading ----------------------------------------------------------------------------


def split_name(name: str) -> tuple[str, str | None]:
    """A header's format name as (serializer, codec); codec None when uncompressed."""
    serializer, sep, codec = name.rpartition(SEPARATOR)
    return (serializer, codec) if sep and serializer else (name, None)


def check_codec(codec: str, uri: str) -> None:
    """Refuse, before anything is decoded, a codec this process cannot decompress."""
    if codec not in CODECS:
        raise CompressionError(
            f"the stored result at {uri} is compressed with {codec!r}, a codec this memokey "
            f"does not know (it knows {', '.join(CODECS)}); nothing of it was decoded. "
            f"Upgrade memokey if a newer one wrote it, or delete it with `{rm_command(uri)}`",
            uri=uri,
            codec=codec,
        )
    _zstd_for_reading(uri)


def decompress(
    data: Any, start: int, end: int, facts: Mapping[str, Any], uri: str
) -> tuple[Any, tuple[tuple[int, int], ...]]:
    """The uncompressed payload (``data[start:end]``) of a verified entry, bounded by its
    declared size, and where its parts lie in it: (one stream as bytes, ()) or (a fresh,
    writable bytearray, (pickle stream, then buffers) as (offset, length)). A payload that
    does not decompress to exactly the declared size is `ResultCorruptedError`.

    A memory-mapped entry (a large local hit) is read through `_Dropping`, which gives
    its pages back to the kernel as they are consumed: the compressed bytes are never
    resident together with the uncompressed value."""
    zstd = _zstd_for_reading(uri)
    payload = memoryview(data)[start:end]
    raw_size = facts.get(RAW_SIZE_FIELD)
    parts = facts.get(RAW_PARTS_FIELD)
    if facts.get(CODEC_FIELD) != "zstd" or not _is_size(raw_size):
        raise _corrupted(uri, "its header does not declare its codec and uncompressed size")
    assert isinstance(raw_size, int)
    if raw_size > payload.nbytes * MAX_RATIO + _SLACK:
        raise _corrupted(
            uri, f"it declares {raw_size} bytes, more than {payload.nbytes} compressed bytes hold"
        )
    if parts is not None and not _are_parts(parts, raw_size):
        raise _corrupted(uri, "its header places a buffer outside its uncompressed payload")
    try:
        declared = zstd.frame_content_size(payload)
        if declared != raw_size:
            raise _corrupted(
                uri, f"its zstd frame declares {declared} bytes where the header says {raw_size}"
            )
        if parts is None:
            out: Any = zstd.ZstdDecompressor().decompress(
                payload, max_output_size=raw_size, allow_extra_data=False
            )  # memokey writes one frame: anything after it is not silently ignored
            if len(out) != raw_size:
                raise _corrupted(uri, "it does not decompress to its declared size")
            return out, ()
        source: Any = payload
        if isinstance(data, mmap.mmap) and _DONTNEED is not None:
            source = _Dropping(data, start, end)  # before the output takes its memory
        out = bytearray(raw_size)
        view = memoryview(out)
        with zstd.ZstdDecompressor().stream_reader(
            source, read_size=_READ, read_across_frames=True
        ) as reader:
            filled = 0
            while filled < raw_size:
                got = reader.readinto(view[filled:])
                if not got:
                    raise _corrupted(uri, "it decompresses to less than its declared size")
                filled += got
            if reader.read(1):
                raise _corrupted(uri, "it decompresses to more than its declared size")
    except zstd.ZstdError as exc:
        raise _corrupted(uri, f"its compressed payload is not valid zstd ({exc})") from exc
    except MemoryError as exc:
        raise CompressionError(
            f"the stored result at {uri} needs {raw_size} bytes of memory to decompress, "
            "which this process could not get; read it where more memory is available, or "
            f"delete it with `{rm_command(uri)}`",
            uri=uri,
            codec="zstd",
        ) from exc
    return out, tuple((int(at), int(size)) for at, size in parts)


_DONTNEED: int | None = getattr(mmap, "MADV_DONTNEED", None)
_READ = 1 << 20  # compressed bytes read at a time from a mapped entry
_DROP = 1 << 23  # pages given back in runs of at least this much


class _Dropping:
    """``mapped[start:end]`` as a file to read once: the pages behind what was read are
    given back (``MADV_DONTNEED``; the mapping is private and never written, so they are
    simply re-read from the file if touched again), keeping at most `_DROP` resident."""

    def __init__(self, mapped: mmap.mmap, start: int, end: int) -> None:
        self._mapped, self._at, self._end = mapped, start, end
        self._dropped = start - start % mmap.PAGESIZE
        self._give_back(end)  # verification read all of it: start from nothing
        self._dropped = start - start % mmap.PAGESIZE

    def read(self, size: int = -1) -> bytes:
        stop = self._end if size < 0 else min(self._end, self._at + size)
        chunk = self._mapped[self._at : stop]
        self._at = stop
        if stop - self._dropped >= _DROP or stop == self._end:
            self._give_back(stop)
        return chunk

    def _give_back(self, upto: int) -> None:
        length = upto - upto % mmap.PAGESIZE - self._dropped
        if length > 0 and _DONTNEED is not None:
            try:
                self._mapped.madvise(_DONTNEED, self._dropped, length)
            except (OSError, ValueError):  # only a saving: never a reason to fail a hit
                return
            self._dropped += length


def _is_size(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _are_parts(parts: object, raw_size: int) -> bool:
    return (
        isinstance(parts, list)
        and len(parts) >= 2
        and all(
            isinstance(part, list)
            and len(part) == 2
            and all(_is_size(n) for n in part)
            and part[0] + part[1] <= raw_size
            for part in parts
        )
    )


def _corrupted(uri: str, why: str) -> ResultCorruptedError:
    return corrupted(uri, why)


# -- the optional package ---------------------------------------------------------------

_module: Any = None


def _import() -> Any:
    global _module
    if _module is None:
        _module = importlib.import_module("zstandard")
    return _module


def _zstd(asked: str) -> Any:
    """`zstandard` for a writer, or a `ConfigurationError` naming the extra."""
    try:
        return _import()
    except ImportError as exc:
        raise ConfigurationError(
            f"{asked} needs the zstandard package, which is not installed here: "
            f"{_INSTALL} (or pip install zstandard), or drop the setting to store "
            "results uncompressed",
        ) from exc


def _zstd_for_reading(uri: str) -> Any:
    try:
        return _import()
    except ImportError as exc:
        raise CompressionError(
            f"the stored result at {uri} is compressed with zstd, and the zstandard package "
            f"is not installed here; nothing of it was decoded. Install it with {_INSTALL}, "
            f"or delete the entry with `{rm_command(uri)}` to recompute it uncompressed",
            uri=uri,
            codec="zstd",
        ) from exc
