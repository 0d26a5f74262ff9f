"""The `result` object format: a small checked header, then the serialized value.

A hit is ONE `Store.read`, so everything a reader needs to trust and decode the value
travels in that one object: which serializer wrote it, how long the payload is and its
xxh3_128 checksum. A result that fails any check raises `ResultCorruptedError` naming its
URI; it is never returned and never silently recomputed over.

Layout (all integers big-endian)::

    magic        4 bytes   b"MKR\\x00"
    version      1 byte    FORMAT_VERSION
    name length  1 byte    n
    name         n bytes   serializer name, ASCII
    extra len    4 bytes   unsigned, m (0: no extra fields)
    extra        m bytes   compact JSON object: facts about the entry (code fingerprint,
                           ...) that a reader may check without a second request
    payload len  8 bytes   unsigned
    checksum    16 bytes   xxh3_128 digest of the payload
    payload      payload len bytes
    signature    64 bytes, only when signed (see `memokey.signing`): covers all of the above

Durability: memokey does not fsync results by default (neither does joblib.Memory). A
result is published atomically (written aside, then linked or renamed into place), so
other processes see all of it or nothing; after a power loss or kernel crash a result
can still come back torn or empty, and then its checksum no longer matches: the reader
gets `ResultCorruptedError`, never a wrong value. Roots that must survive power loss
can ask the local store to fsync what it writes (file and directory) before a write
returns: ``open_store("file:///x", fsync=True)``, i.e. ``memoize(root,
storage_options={"fsync": True})``. Cloud stores are durable once a write returns.
"""

from __future__ import annotations

import json
import pickle
import struct
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import cloudpickle
import xxhash

from memokey import safe_formats
from memokey._fixes import rm_command
from memokey._roundtrip import check_round_trip
from memokey.errors import (
    ConfigurationError,
    ResultCorruptedError,
    SerializationError,
    SignatureError,
)
from memokey.signing import MARK, TRAILER_SIZE, Signer, place_of, unsigned

__all__ = [
    "DEFAULT_SERIALIZER",
    "FORMAT_VERSION",
    "MAGIC",
    "ResultHeader",
    "Serializer",
    "decode_result",
    "encode_result",
    "get_serializer",
    "read_header",
    "register_serializer",
    "serializers",
]

MAGIC = b"MKR\x00"
FORMAT_VERSION = 2
DEFAULT_SERIALIZER = "cloudpickle"
_PICKLE_PROTOCOL = 5
_FIXED = struct.Struct(">4sBB")
_TAIL = struct.Struct(">Q16s")
_EXTRA_LEN = struct.Struct(">I")
_MAX_NAME = 255
_PREFIX = MAGIC + bytes([FORMAT_VERSION])
# Header starts (magic, version, name length, name) already seen -> serializer name.
_heads: dict[bytes, str] = {}
_MAX_HEADS = 64


@dataclass(frozen=True)
class Serializer:
    """A named pair of functions turning a value into bytes and back.

    The name is written into every result's header, so a reader in another process finds
    the same serializer by name; register it there too (see `register_serializer`).
    """

    name: str
    dumps: Callable[[Any], bytes]
    loads: Callable[[bytes], Any]
    # True when `loads` accepts a memoryview, which spares a copy of a large payload.
    loads_buffers: bool = False
    # False only for formats whose decoding cannot run code (allow_pickle=False reads
    # nothing else); a registered serializer is assumed to run code unless it says not.
    runs_code: bool = True


def _cloudpickle_dumps(value: Any) -> bytes:
    data: bytes = cloudpickle.dumps(value, protocol=_PICKLE_PROTOCOL)
    return data


def _pickle_dumps(value: Any) -> bytes:
    return pickle.dumps(value, protocol=_PICKLE_PROTOCOL)


_registry: dict[str, Serializer] = {
    "cloudpickle": Serializer("cloudpickle", _cloudpickle_dumps, pickle.loads, True),
    "pickle": Serializer("pickle", _pickle_dumps, pickle.loads, True),
    "json": Serializer("json", safe_formats.json_dumps, safe_formats.json_loads, runs_code=False),
    "numpy": Serializer(
        "numpy", safe_formats.numpy_dumps, safe_formats.numpy_loads, runs_code=False
    ),
    "arrow": Serializer(
        "arrow", safe_formats.arrow_dumps, safe_formats.arrow_loads, runs_code=False
    ),
}
_registry_lock = threading.Lock()
serializers: Mapping[str, Serializer] = MappingProxyType(_registry)
"""Read-only view of the registered serializers, by name."""


def register_serializer(
    name: str,
    dumps: Callable[[Any], bytes],
    loads: Callable[[bytes], Any],
    *,
    clobber: bool = False,
    runs_code: bool = True,
) -> Serializer:
    """Register a serializer under `name` so results can be written and read with it.

    Refuses to replace an existing name unless `clobber=True`, because results already
    stored under that name would then be decoded by different code. Pass
    `runs_code=False` only if `loads` cannot run code whatever bytes it is given (then
    ``allow_pickle=False`` functions may use it).
    """
    _check_name(name)
    serializer = Serializer(name, dumps, loads, runs_code=bool(runs_code))
    with _registry_lock:
        if name in _registry and not clobber:
            raise ConfigurationError(
                f"a serializer named {name!r} is already registered; pick another name "
                "or pass clobber=True to replace it"
            )
        _registry[name] = serializer
    return serializer


def get_serializer(name: str | Serializer) -> Serializer:
    """The serializer for `name`; a `Serializer` object is registered (or matched) first."""
    if isinstance(name, Serializer):
        with _registry_lock:
            known = _registry.setdefault(name.name, name)
        if known != name:
            raise ConfigurationError(
                f"a different serializer named {name.name!r} is already registered; "
                "give yours a unique name"
            )
        return name
    try:
        return _registry[name]
    except KeyError:
        raise SerializationError(
            f"no serializer named {name!r} is registered (known: {', '.join(sorted(_registry))});"
            " register it with memokey.register_serializer(name, dumps, loads) first",
            serializer=name,
        ) from None


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name or not name.isascii() or len(name) > _MAX_NAME:
        raise ConfigurationError(
            f"a serializer name must be 1-{_MAX_NAME} ASCII characters, got {name!r}; "
            "choose a short ASCII name such as 'json' or 'my-arrow'"
        )


@dataclass(frozen=True)
class ResultHeader:
    """What a result's header says; `payload_offset` is where the payload starts."""

    version: int
    serializer: str
    payload_length: int
    checksum: bytes
    payload_offset: int
    extra: Mapping[str, Any] = field(default_factory=dict)
    signature: bytes = b""  # the signing trailer (empty: unsigned)


def encode_result(
    value: Any,
    serializer: str | Serializer = DEFAULT_SERIALIZER,
    *,
    extra: Mapping[str, Any] | None = None,
    signer: Signer | None = None,
    path: str = "",
    round_trip: bool = False,
) -> bytes:
    """Serialize `value` into a complete `result` object (header + payload); `extra`
    (JSON-able) is stored in the header for readers to check before decoding. With a
    `signer`, a signature bound to `path` (where the object will be stored: its path or
    URI) follows. `round_trip` (the publish paths) reads a small payload back first
    (`memokey._roundtrip`): only ever a value this process just computed.

    Raises `SerializationError` when the value cannot be serialized (or read back); the
    caller stores nothing in that case.
    """
    chosen = get_serializer(serializer)
    try:
        payload = chosen.dumps(value)
    except Exception as exc:
        raise SerializationError(
            f"the result of type {type(value).__qualname__} could not be serialized with "
            f"{chosen.name!r} ({type(exc).__name__}: {exc}); nothing was stored. Return a "
            "picklable value, or choose another serializer with serializer=...",
            serializer=chosen.name,
        ) from exc
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise SerializationError(
            f"serializer {chosen.name!r} returned {type(payload).__qualname__}, not bytes; "
            "nothing was stored. Fix its dumps function to return bytes",
            serializer=chosen.name,
        )
    if round_trip:
        check_round_trip(chosen.name, chosen.loads, payload, value)
    name = chosen.name.encode("ascii")
    checksum = xxhash.xxh3_128_digest(payload)
    fields = _encode_extra(extra)
    parts = [
        _FIXED.pack(MAGIC, FORMAT_VERSION, len(name)),
        name,
        _EXTRA_LEN.pack(len(fields)),
        fields,
        _TAIL.pack(len(payload), checksum),
        payload,
    ]
    if signer is not None:
        parts.append(signer.trailer(parts, kind="result", place=place_of(path)))
    return b"".join(parts)


def _encode_extra(extra: Mapping[str, Any] | None) -> bytes:
    if not extra:
        return b""
    return json.dumps(dict(extra), separators=(",", ":"), sort_keys=True).encode()


def _signed_end(data: bytes | memoryview, end: int) -> int | None:
    """Where the signed part of a result whose payload ends at `end` stops: `end` when
    unsigned, also `end` when a signing trailer follows; None when other bytes follow."""
    if len(data) == end:
        return end
    if len(data) == end + TRAILER_SIZE and bytes(data[end : end + len(MARK)]) == MARK:
        return end
    return None


def _parse_common(data: bytes) -> tuple[str, int, bytes, int] | None:
    """(serializer name, payload length, checksum, payload offset) of a well-formed
    header written by this version, or None (then `read_header` says what is wrong).
    The hit path's cheap check: the fixed start and serializer name are looked up as
    one byte string among those seen before (no memoryview, no header object)."""
    if len(data) < _FIXED.size:
        return None
    tail_at = _FIXED.size + data[5]
    name = _heads.get(data[:tail_at])
    if name is None:
        if data[:5] != _PREFIX:
            return None
        try:
            name = data[_FIXED.size : tail_at].decode("ascii")
        except UnicodeDecodeError:
            return None
    if len(data) < tail_at + _EXTRA_LEN.size:
        return None
    (extra_len,) = _EXTRA_LEN.unpack_from(data, tail_at)
    tail_at += _EXTRA_LEN.size + extra_len
    if len(data) < tail_at + _TAIL.size:
        return None
    length, checksum = _TAIL.unpack_from(data, tail_at)
    offset = tail_at + _TAIL.size
    if len(data) - offset != length and _signed_end(data, offset + length) is None:
        return None
    if len(_heads) < _MAX_HEADS:
        _heads[data[: _FIXED.size + data[5]]] = name
    return name, length, checksum, offset


def read_header(data: bytes, uri: str) -> ResultHeader:
    """Parse and check the header of a stored result; the payload is not verified here."""
    view = memoryview(data)
    if len(view) < _FIXED.size:
        raise _corrupted(uri, f"it is {len(view)} bytes, shorter than any header")
    magic, version, name_len = _FIXED.unpack_from(view)
    if magic != MAGIC:
        raise _corrupted(uri, "it does not start with the memokey result marker")
    if version != FORMAT_VERSION:
        raise _corrupted(
            uri,
            f"it has format version {version}, this memokey reads version {FORMAT_VERSION} "
            "(upgrade memokey if the result was written by a newer one)",
        )
    tail_at = _FIXED.size + name_len
    if len(view) < tail_at + _EXTRA_LEN.size:
        raise _corrupted(uri, "its header is truncated")
    try:
        name = bytes(view[_FIXED.size : tail_at]).decode("ascii")
    except UnicodeDecodeError:
        raise _corrupted(uri, "its serializer name is not ASCII") from None
    (extra_len,) = _EXTRA_LEN.unpack_from(view, tail_at)
    extra_at = tail_at + _EXTRA_LEN.size
    tail_at = extra_at + extra_len
    if len(view) < tail_at + _TAIL.size:
        raise _corrupted(uri, "its header is truncated")
    length, checksum = _TAIL.unpack_from(view, tail_at)
    offset = tail_at + _TAIL.size
    if _signed_end(view, offset + length) is None:
        raise _corrupted(
            uri, f"its payload is {len(view) - offset} bytes but the header says {length}"
        )
    extra = _decode_extra(bytes(view[extra_at:tail_at]), uri)  # after the cheap checks
    signature = bytes(view[offset + length :])
    return ResultHeader(FORMAT_VERSION, name, length, checksum, offset, extra, signature)


def _decode_extra(raw: bytes, uri: str) -> Mapping[str, Any]:
    if not raw:
        return MappingProxyType({})
    try:
        fields = json.loads(raw)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python's stack
        raise _corrupted(uri, "its header's extra fields are not valid JSON") from None
    if not isinstance(fields, dict):
        raise _corrupted(uri, "its header's extra fields are not a JSON object")
    return MappingProxyType(fields)


def decode_result(
    data: bytes,
    uri: str,
    *,
    expect: Serializer | None = None,
    allow_pickle: bool = True,
    signer: Signer | None = None,
) -> Any:
    """Check and deserialize a stored `result` object read from `uri`.

    Before any byte is deserialized: the header's serializer must be `expect` (when
    given) and, without `allow_pickle`, one that cannot run code (else
    `SerializationError`); with a `signer`, the signature must be valid for `uri`'s place (else
    `SignatureError`). Raises `ResultCorruptedError` (truncated, tampered, wrong format) or
    `SerializationError` (intact but undecodable here, e.g. a class that no longer exists).
    """
    parsed = _parse_common(data) if isinstance(data, bytes) else None
    if parsed is None:
        header = read_header(data, uri)  # raises, naming what is wrong, or parses
        parsed = header.serializer, header.payload_length, header.checksum, header.payload_offset
    name, length, checksum, offset = parsed
    if expect is not None and name != expect.name:
        raise _refused(uri, name, f"this function is configured with {expect.name!r}")
    serializer = _registry.get(name) or get_serializer(name)
    if serializer.runs_code and not allow_pickle:
        raise _refused(uri, name, "allow_pickle is off and that format can run code")
    end = offset + length
    payload = memoryview(data)[offset:end]
    if signer is not None:
        _verify(signer, data, end, checksum, payload, uri)
    elif xxhash.xxh3_128_digest(payload) != checksum:
        raise _corrupted(uri, "its payload does not match the checksum in its header")
    try:
        if serializer.loads_buffers:  # pickle.loads reads a memoryview without copying it
            return serializer.loads(payload)  # type: ignore[arg-type]
        return serializer.loads(bytes(payload))
    except Exception as exc:
        raise SerializationError(
            f"the stored result at {uri} is intact but could not be deserialized with "
            f"{serializer.name!r} ({type(exc).__name__}: {exc}). Make the classes it needs "
            f"importable here, or delete it with `{rm_command(uri)}` to recompute",
            uri=uri,
            serializer=serializer.name,
        ) from exc


def _verify(
    signer: Signer,
    data: bytes,
    end: int,
    checksum: bytes,
    payload: memoryview,
    uri: str,
) -> None:
    """The signature replaces the checksum check (it covers every byte); a failure is
    reported as corruption when the checksum fails too (a torn write), else as a
    `SignatureError`."""
    if len(data) == end:
        raise unsigned(uri, "result")
    try:
        signer.verify(
            (memoryview(data)[:end],),
            bytes(data[end:]),
            kind="result",
            place=place_of(uri),
            uri=uri,
        )
    except SignatureError:
        if xxhash.xxh3_128_digest(payload) != checksum:
            raise _corrupted(uri, "its payload does not match the checksum in its header") from None
        raise


def _refused(uri: str, name: str, why: str) -> SerializationError:
    return SerializationError(
        f"the stored result at {uri} is written with {name!r}, which is not decoded here: "
        f"{why}. Nothing of it was deserialized (someone with write access to the store "
        f"could have planted it). Delete it with `{rm_command(uri)}` to recompute it, or "
        "configure the function's serializer= to match if you wrote it yourself",
        uri=uri,
        serializer=name,
    )


def _corrupted(uri: str, why: str) -> ResultCorruptedError:
    return ResultCorruptedError(
        f"the stored result at {uri} is corrupted: {why}. It was not used; inspect it, then "
        f"delete it with `{rm_command(uri)}` so the next call recomputes it",
        uri=uri,
    )
