"""The bytes of one stored entry (layout v2): header, payload, metadata trailer, footer.

One object per entry, so a miss publishes with ONE conditional write and a hit is ONE read.
What a reader needs before decoding (serializer, facts to check) is in the header at the
front; what is only known once the payload is written (its length, its checksum) and what
tools want (timing, host, sizes, the key manifest) is at the end, so a writer can stream
the payload without knowing its size up front, and a tool reads only the tail (a ranged
read) to show an entry.

Layout (integers big-endian)::

    magic        4 bytes   b"MKR\\x00"
    version      1 byte    FORMAT_VERSION (3; earlier versions are never decoded)
    name length  1 byte    n
    name         n bytes   serializer name, ASCII
    extra len    4 bytes   m (0: none)
    extra        m bytes   compact JSON object: facts a reader may check before decoding
    parts        4 bytes   k: 0 when the payload is one serialized stream; else k entries
                           of (offset 8, length 8), absolute in the object: the pickle
                           stream, then its k - 1 out-of-band buffers (pickle protocol 5),
                           each starting on a 64-byte boundary so a memory-mapped entry
                           gives aligned arrays without a copy
    payload      the serialized value (and its buffers)
    trailer      t bytes   compact JSON object: metadata for people and tools (never read
                           to serve a hit)
    footer      40 bytes   payload length 8 | checksum 16 | trailer length 4 |
                           trailer check 8 | b"MKF\\x00"
    signature   64 bytes   only when signed (`memokey.signing`): covers everything above

The checksum is xxh3_128 over everything from the magic to the end of the payload (the
header's facts included); the trailer check is xxh3_64 of the trailer, so a tool reading
only the tail knows it has a whole, intact trailer. Whether an object is signed follows
from its structure: the footer ends the object, or is followed by a signing trailer; the
lengths in the footer must add up to the object's size exactly.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import xxhash

from memokey._fixes import rm_command
from memokey.errors import ResultCorruptedError
from memokey.signing import MARK, TRAILER_SIZE

__all__ = [
    "ALIGN",
    "FOOTER_SIZE",
    "FORMAT_VERSION",
    "MAGIC",
    "Layout",
    "corrupted",
    "decode_trailer",
    "needed_tail",
    "pack_footer",
    "pack_header",
    "parse",
    "parse_fast",
    "trailer_from_tail",
]

MAGIC = b"MKR\x00"
FORMAT_VERSION = 3
FOOTER_MAGIC = b"MKF\x00"
_FIXED = struct.Struct(">4sBB")
_EXTRA_LEN = struct.Struct(">I")
_PART = struct.Struct(">QQ")
ALIGN = 64
_FOOTER = struct.Struct(">Q16sIQ4s")
FOOTER_SIZE = _FOOTER.size
_PREFIX = MAGIC + bytes([FORMAT_VERSION])
_SIGNED_TAIL = FOOTER_SIZE + TRAILER_SIZE
_NO_PARTS = bytes(_EXTRA_LEN.size)
# Header starts (magic, version, name length, name) already seen -> serializer name.
_heads: dict[bytes, str] = {}
_MAX_HEADS = 64
# What ``json.dumps(extra, separators=(",", ":"), sort_keys=True)`` uses, made once: that
# call builds a new encoder each time (~1 µs of every miss).
_HEADER_JSON = json.JSONEncoder(separators=(",", ":"), sort_keys=True)


def pack_header(
    name: str, extra: Mapping[str, Any] | None, parts: Sequence[int] = ()
) -> tuple[bytes, list[tuple[int, int]]]:
    """Everything before the payload, and where each of `parts` (the byte lengths of the
    pickle stream and its out-of-band buffers; empty: one stream) will start and end."""
    raw = name.encode("ascii")
    fields = b"" if not extra else _HEADER_JSON.encode(dict(extra)).encode()
    head = b"".join(
        (_FIXED.pack(MAGIC, FORMAT_VERSION, len(raw)), raw, _EXTRA_LEN.pack(len(fields)), fields)
    )
    if not parts:
        return head + _EXTRA_LEN.pack(0), []
    at = len(head) + _EXTRA_LEN.size + _PART.size * len(parts)
    placed = []
    for i, length in enumerate(parts):
        if i:
            at += -at % ALIGN
        placed.append((at, length))
        at += length
    table = b"".join(_PART.pack(offset, length) for offset, length in placed)
    return head + _EXTRA_LEN.pack(len(parts)) + table, placed


def pack_footer(payload_length: int, checksum: bytes, trailer: bytes) -> bytes:
    """The fixed-size footer closing the (unsigned part of the) object."""
    return _FOOTER.pack(
        payload_length, checksum, len(trailer), xxhash.xxh3_64_intdigest(trailer), FOOTER_MAGIC
    )


@dataclass(frozen=True)
class Layout:
    """Where the parts of one stored object are (offsets into it)."""

    serializer: str
    extra: Mapping[str, Any]
    payload_offset: int
    payload_length: int
    checksum: bytes
    trailer_offset: int
    trailer_length: int
    signed_end: int  # end of the footer: what a signature covers
    signature: bytes  # the signing trailer, b"" when unsigned
    parts: tuple[tuple[int, int], ...] = ()  # (offset, length): stream, then buffers

    @property
    def payload_end(self) -> int:
        return self.payload_offset + self.payload_length


def _footer_at(
    data: bytes | memoryview, end: int, header_end: int
) -> tuple[int, bytes, int] | None:
    """(payload length, checksum, trailer length) of a footer ending at `end`, if the
    lengths add up to a payload starting at `header_end`."""
    if end < header_end + FOOTER_SIZE or bytes(data[end - 4 : end]) != FOOTER_MAGIC:
        return None
    length, checksum, trailer_len, _check, _magic = _FOOTER.unpack_from(data, end - FOOTER_SIZE)
    if header_end + length + trailer_len + FOOTER_SIZE != end:
        return None
    return length, checksum, trailer_len


def _structure(
    data: bytes | memoryview, header_end: int, prefer_signed: bool
) -> tuple[int, bytes, int, int] | None:
    """(payload length, checksum, trailer length, signed end) or None when the footer's
    lengths fit neither an unsigned nor a signed object."""
    size = len(data)
    plain = _footer_at(data, size, header_end)
    signed = None
    if size >= _SIGNED_TAIL and bytes(data[size - TRAILER_SIZE : size - TRAILER_SIZE + 4]) == MARK:
        signed = _footer_at(data, size - TRAILER_SIZE, header_end)
    if signed is not None and (prefer_signed or plain is None):
        return (*signed, size - TRAILER_SIZE)
    if plain is not None:
        return (*plain, size)
    return None


def parse_fast(data: bytes, prefer_signed: bool) -> tuple[str, int, int, bytes, int] | None:
    """The hit path's parse: (serializer, payload offset, payload length, checksum, signed
    end) of a well-formed object, or None (then `parse` says what is wrong). The fixed
    start and serializer name are looked up as one byte string among those seen before;
    an unsigned object read without a key is the common case, checked first."""
    size = len(data)
    if size < _FIXED.size + _EXTRA_LEN.size + FOOTER_SIZE:
        return None
    at = _FIXED.size + data[5]
    name = _heads.get(data[:at])
    if name is None:
        if data[:5] != _PREFIX:
            return None
        try:
            name = data[_FIXED.size : at].decode("ascii")
        except UnicodeDecodeError:
            return None
        if len(_heads) < _MAX_HEADS:
            _heads[data[:at]] = name
    offset = at + _EXTRA_LEN.size + int.from_bytes(data[at : at + _EXTRA_LEN.size], "big")
    if data[offset : offset + _EXTRA_LEN.size] != _NO_PARTS:
        return None  # out-of-band buffers: `parse` reads the table
    offset += _EXTRA_LEN.size
    if not prefer_signed and data.endswith(FOOTER_MAGIC):
        length, checksum, trailer_len, _check, _magic = _FOOTER.unpack_from(
            data, size - FOOTER_SIZE
        )
        if offset + length + trailer_len + FOOTER_SIZE == size:
            return name, offset, length, checksum, size
    found = _structure(data, offset, prefer_signed)
    if found is None:
        return None
    length, checksum, _trailer_len, signed_end = found
    return name, offset, length, checksum, signed_end


def parse(data: bytes | memoryview, uri: str, *, prefer_signed: bool = False) -> Layout:
    """Parse and check the structure of a stored object; nothing is verified or decoded.
    Raises `ResultCorruptedError` naming what is wrong."""
    view = memoryview(data)
    if len(view) < _FIXED.size:
        raise corrupted(uri, f"it is {len(view)} bytes, shorter than any header")
    magic, version, name_len = _FIXED.unpack_from(view)
    if magic != MAGIC:
        raise corrupted(uri, "it does not start with the memokey result marker")
    if version != FORMAT_VERSION:
        older = (
            " (an entry of an older layout: it is never read as this one)"
            if version < FORMAT_VERSION
            else ""
        )
        raise corrupted(
            uri,
            f"it has format version {version}, this memokey reads version {FORMAT_VERSION}"
            f"{older}; upgrade memokey if the result was written by a newer one",
        )
    at = _FIXED.size + name_len
    if len(view) < at + _EXTRA_LEN.size:
        raise corrupted(uri, "its header is truncated")
    try:
        name = bytes(view[_FIXED.size : at]).decode("ascii")
    except UnicodeDecodeError:
        raise corrupted(uri, "its serializer name is not ASCII") from None
    (extra_len,) = _EXTRA_LEN.unpack_from(view, at)
    extra_at = at + _EXTRA_LEN.size
    header_end = extra_at + extra_len
    if len(view) < header_end:
        raise corrupted(uri, "its header is truncated")
    extra = _json_object(bytes(view[extra_at:header_end]), uri, "header's extra fields")
    if len(view) < header_end + _EXTRA_LEN.size:
        raise corrupted(uri, "its header is truncated")
    (count,) = _EXTRA_LEN.unpack_from(view, header_end)
    header_end += _EXTRA_LEN.size
    if len(view) < header_end + _PART.size * count:
        raise corrupted(uri, "its header is truncated")
    parts = tuple(_PART.unpack_from(view, header_end + _PART.size * i) for i in range(count))
    header_end += _PART.size * count
    found = _structure(view, header_end, prefer_signed)
    if found is None:
        raise corrupted(
            uri,
            f"it is {len(view)} bytes and its footer does not describe that size (truncated, "
            "extended or overwritten)",
        )
    length, checksum, trailer_len, signed_end = found
    end = header_end + length
    if any(offset < header_end or offset + size > end for offset, size in parts):
        raise corrupted(uri, "its header places a buffer outside its payload")
    return Layout(
        name,
        extra,
        header_end,
        length,
        checksum,
        end,
        trailer_len,
        signed_end,
        bytes(view[signed_end:]),
        parts,
    )


def trailer_from_tail(tail: bytes, uri: str) -> dict[str, Any]:
    """The metadata trailer from the last bytes of an object (a ranged tail read);
    ValueError when `tail` is too short to hold all of it (read more), ResultCorruptedError
    when it holds no intact trailer."""
    for end in (len(tail), len(tail) - TRAILER_SIZE):
        if end < FOOTER_SIZE or tail[end - 4 : end] != FOOTER_MAGIC:
            continue
        _length, _checksum, trailer_len, check, _magic = _FOOTER.unpack_from(
            tail, end - FOOTER_SIZE
        )
        start = end - FOOTER_SIZE - trailer_len
        if start < 0:
            raise ValueError(start)
        raw = tail[start : end - FOOTER_SIZE]
        if xxhash.xxh3_64_intdigest(raw) == check:
            return decode_trailer(raw, uri)
    raise corrupted(uri, "its end holds no intact footer and metadata trailer")


def needed_tail(tail: bytes) -> int:
    """How many bytes from the end hold the footer and trailer (0: unknown from `tail`)."""
    for end, extra in ((len(tail), 0), (len(tail) - TRAILER_SIZE, TRAILER_SIZE)):
        if end >= FOOTER_SIZE and tail[end - 4 : end] == FOOTER_MAGIC:
            trailer_len = _FOOTER.unpack_from(tail, end - FOOTER_SIZE)[2]
            return int(trailer_len) + FOOTER_SIZE + extra
    return 0


def decode_trailer(raw: bytes, uri: str) -> dict[str, Any]:
    """The metadata trailer's JSON object."""
    return dict(_json_object(raw, uri, "metadata trailer"))


def _json_object(raw: bytes, uri: str, what: str) -> Mapping[str, Any]:
    if not raw:
        return MappingProxyType({})
    try:
        fields = json.loads(raw)
    except ValueError:
        raise corrupted(uri, f"its {what}: not valid JSON") from None
    except RecursionError:  # anyone who can write the store can plant one
        raise corrupted(uri, f"its {what}: nested too deeply to read") from None
    if not isinstance(fields, dict):
        raise corrupted(uri, f"its {what}: not a JSON object")
    return MappingProxyType(fields)


def corrupted(uri: str, why: str) -> ResultCorruptedError:
    return ResultCorruptedError(
        f"the stored result at {uri} is corrupted: {why}. It was not used; inspect it, then "
        f"delete it with `{rm_command(uri)}` so the next call recomputes it",
        uri=uri,
    )
