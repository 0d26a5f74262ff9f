"""Serializers, and turning a value into a stored entry object and back.

The object's byte layout (header, payload, metadata trailer, footer, optional signature)
is `memokey.entry_format`'s; this module decides what goes in it. A hit is ONE
`Store.read`: everything a reader needs to trust and decode the value travels in that one
object. A result that fails any check raises `ResultCorruptedError` naming its URI; it is
never returned and never silently recomputed over.

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
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import cloudpickle
import xxhash

from memokey import compression, entry_format, safe_formats, verified, zero_copy
from memokey._decoded import forget as forget_decoded
from memokey._fixes import rm_command
from memokey._roundtrip import check_round_trip
from memokey.compression import SEPARATOR, Compressed, Compression
from memokey.entry_format import FORMAT_VERSION, MAGIC
from memokey.errors import ConfigurationError, SerializationError, SignatureError
from memokey.signing import Signer, place_of, unsigned
from memokey_backends.mapped import MappedFile

__all__ = [
    "DEFAULT_SERIALIZER",
    "FORMAT_VERSION",
    "MAGIC",
    "ResultHeader",
    "Serializer",
    "decode_result",
    "encode_parts",
    "encode_result",
    "get_serializer",
    "read_header",
    "read_meta",
    "register_serializer",
    "serializers",
]

DEFAULT_SERIALIZER = "cloudpickle"
_PICKLE_PROTOCOL = 5
_MAX_NAME = 255
_OOB_FROM = 1 << 16  # buffers this large leave the pickle stream (pickle protocol 5)
_SLICE_BELOW = 4096  # a small payload is sliced (cheaper than a view); a large one is viewed
_JOIN_BELOW = 1 << 20  # an entry this small is joined: a copy is cheaper than more writes


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
    # Pickle protocol 5: (stream, large buffers kept out of band) and back, so a large
    # array is written from and read into its own memory, never copied into a stream.
    dumps_oob: Callable[[Any], tuple[bytes, list[memoryview]]] | None = None
    loads_oob: Callable[[memoryview, list[memoryview]], Any] | None = None
    # A format written as pieces (e.g. an Arrow IPC stream: small messages and the
    # table's own buffers): a large one is stored as one aligned out-of-band buffer
    # built of them, never joined, and read back through `loads_oob`.
    dumps_pieces: Callable[[Any], list[Any]] | None = None


def _cloudpickle_dumps(value: Any) -> bytes:
    data: bytes = cloudpickle.dumps(value, protocol=_PICKLE_PROTOCOL)
    return data


def _pickle_dumps(value: Any) -> bytes:
    return pickle.dumps(value, protocol=_PICKLE_PROTOCOL)


def _out_of_band(dumps: Callable[..., bytes], value: Any) -> tuple[bytes, list[memoryview]]:
    """``dumps(value)`` with buffers of `_OOB_FROM` bytes or more kept out of the stream."""
    buffers: list[memoryview] = []

    def keep(buffer: pickle.PickleBuffer) -> bool:
        try:
            view = buffer.raw()
        except BufferError:  # not contiguous: pickle it in the stream
            return True
        if view.nbytes < _OOB_FROM:
            return True
        buffers.append(view)
        return False

    stream = dumps(value, protocol=_PICKLE_PROTOCOL, buffer_callback=keep)
    return stream, buffers


# Module-level (not closures): a Serializer travels to remote workers by reference.
# `memokey.zero_copy`: the same pickles, minus copies some libraries' reductions make.
def _cloudpickle_dumps_oob(value: Any) -> tuple[bytes, list[memoryview]]:
    return _out_of_band(zero_copy.cloudpickle_dumps, value)


def _pickle_dumps_oob(value: Any) -> tuple[bytes, list[memoryview]]:
    return _out_of_band(zero_copy.pickle_dumps, value)


def _loads_oob(stream: memoryview, buffers: list[memoryview]) -> Any:
    return pickle.loads(stream, buffers=buffers)


_registry: dict[str, Serializer] = {
    "cloudpickle": Serializer(
        "cloudpickle",
        _cloudpickle_dumps,
        pickle.loads,
        True,
        dumps_oob=_cloudpickle_dumps_oob,
        loads_oob=_loads_oob,
    ),
    "pickle": Serializer(
        "pickle",
        _pickle_dumps,
        pickle.loads,
        True,
        dumps_oob=_pickle_dumps_oob,
        loads_oob=_loads_oob,
    ),
    "json": Serializer("json", safe_formats.json_dumps, safe_formats.json_loads, runs_code=False),
    "numpy": Serializer(
        "numpy", safe_formats.numpy_dumps, safe_formats.numpy_loads, runs_code=False
    ),
    "arrow": Serializer(
        "arrow",
        safe_formats.arrow_dumps,
        safe_formats.arrow_loads,
        True,
        runs_code=False,
        loads_oob=safe_formats.arrow_loads_oob,
        dumps_pieces=safe_formats.arrow_pieces,
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
    forget_decoded()  # values decoded by the serializer this name had are not reused
    return serializer


def get_serializer(name: str | Serializer) -> Serializer:
    """The serializer for `name`; a `Serializer` object is registered (or matched) first."""
    if isinstance(name, Serializer):
        if name.name not in _registry:
            _check_name(name.name)
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
    if SEPARATOR in name:
        raise ConfigurationError(
            f"a serializer name may not contain {SEPARATOR!r} (it separates a compressed "
            f"entry's serializer from its codec, as in 'cloudpickle+zstd'), got {name!r}; "
            "choose a name such as 'my-arrow'"
        )


@dataclass(frozen=True)
class ResultHeader:
    """What a stored object says about itself; `payload_offset` is where the payload starts."""

    version: int
    serializer: str
    payload_length: int
    checksum: bytes
    payload_offset: int
    extra: Mapping[str, Any] = field(default_factory=dict)
    signature: bytes = b""  # the signing trailer (empty: unsigned)
    trailer_offset: int = 0
    trailer_length: int = 0


def encode_result(
    value: Any,
    serializer: str | Serializer = DEFAULT_SERIALIZER,
    *,
    extra: Mapping[str, Any] | None = None,
    meta: Mapping[str, Any] | None = None,
    signer: Signer | None = None,
    path: str = "",
    round_trip: bool = False,
    compress: Compression | None = None,
) -> bytes:
    """`encode_parts`, joined into one bytes object."""
    parts = encode_parts(
        value,
        serializer,
        extra=extra,
        meta=meta,
        signer=signer,
        path=path,
        round_trip=round_trip,
        compress=compress,
    )
    return parts[0] if len(parts) == 1 else b"".join(parts)


def encode_parts(
    value: Any,
    serializer: str | Serializer = DEFAULT_SERIALIZER,
    *,
    extra: Mapping[str, Any] | None = None,
    meta: Mapping[str, Any] | None = None,
    signer: Signer | None = None,
    path: str = "",
    round_trip: bool = False,
    compress: Compression | None = None,
) -> list[Any]:
    """Serialize `value` into a complete entry object, as buffers to write in order
    (a large array's memory is one of them: nothing is copied). `extra` (JSON-able) goes
    in the header for readers to check before decoding; `meta` (JSON-able) in the
    metadata trailer for people and tools, with the payload size and serializer added.
    With a `signer`, a signature bound to `path` (where the object will be stored: its
    path or URI) follows. `round_trip` (the publish paths) reads a small payload back
    first (`memokey._roundtrip`): only ever a value this process just computed. With
    `compress` the payload is stored compressed when that pays (`memokey.compression`).

    Raises `SerializationError` when the value cannot be serialized (or read back); the
    caller stores nothing in that case.
    """
    chosen = get_serializer(serializer)
    buffers: list[Any] = []  # out-of-band: buffers, or lists of pieces written as one
    try:
        if chosen.dumps_oob is not None:
            payload, buffers = chosen.dumps_oob(value)
        elif chosen.dumps_pieces is not None:
            payload, buffers = _in_pieces(chosen.dumps_pieces(value))
        else:
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
    if not memoryview(payload).c_contiguous:  # a registered serializer's memoryview
        payload = memoryview(payload).tobytes()  # its bytes in logical order, as bytes() gives
    if round_trip and not buffers:
        check_round_trip(chosen.name, chosen.loads, payload, value)
    pieces: list[Any]
    packed: Compressed | None = None
    if compress is not None and len(chosen.name) + 1 + len(compress.codec) <= _MAX_NAME:
        packed = compression.compress([payload, *buffers], compress)
    if packed is not None:
        assert compress is not None
        header, _ = entry_format.pack_header(
            f"{chosen.name}{SEPARATOR}{compress.codec}", {**(extra or {}), **packed.facts}
        )
        pieces, size = [header, *packed.chunks], packed.size
    elif buffers:
        sizes = [memoryview(payload).nbytes, *(_nbytes(b) for b in buffers)]
        header, placed = entry_format.pack_header(chosen.name, extra, sizes)
        pieces, at = [header], len(header)
        for (offset, length), piece in zip(placed, [payload, *buffers], strict=True):
            if offset > at:
                pieces.append(bytes(offset - at))  # alignment padding
            if isinstance(piece, list):
                pieces += piece
            else:
                pieces.append(piece)
            at = offset + length
        size = at - len(header)
    else:
        header, _ = entry_format.pack_header(chosen.name, extra)
        pieces, size = [header, payload], memoryview(payload).nbytes
    checksum = xxhash.xxh3_128()
    for piece in pieces:
        checksum.update(piece)
    trailer = _encode_trailer(meta, chosen.name, size, value, packed)
    pieces += [trailer, entry_format.pack_footer(size, checksum.digest(), trailer)]
    if signer is not None:
        pieces.append(signer.trailer(pieces, kind="result", place=place_of(path)))
    if size < _JOIN_BELOW:  # small: one buffer, one write call
        return [b"".join(pieces)]
    return pieces


def _nbytes(buffer: Any) -> int:
    if isinstance(buffer, list):
        return sum(memoryview(piece).nbytes for piece in buffer)
    return memoryview(buffer).nbytes


def _in_pieces(pieces: list[Any]) -> tuple[bytes, list[Any]]:
    """A payload given as pieces: joined when small; else one out-of-band buffer made
    of the pieces (written one after the other, never joined), the stream empty."""
    if _nbytes(pieces) < _OOB_FROM:
        return b"".join(pieces), []
    return b"", [pieces]


def _encode_trailer(
    meta: Mapping[str, Any] | None,
    serializer: str,
    size: int,
    value: Any,
    packed: Compressed | None = None,
) -> bytes:
    fields = dict(meta or {})
    fields["serializer"] = serializer
    fields["payload_bytes"] = size  # as stored (compressed, when it is)
    if packed is not None:
        fields["codec"] = packed.facts[compression.CODEC_FIELD]
        fields["raw_bytes"] = packed.facts[compression.RAW_SIZE_FIELD]
    fields.setdefault("result_type", f"{type(value).__module__}.{type(value).__qualname__}")
    return _TRAILER_JSON.encode(fields).encode()


# ``json.dumps(fields, separators=(",", ":"), default=str)``'s encoder, made once (that
# call builds a new one each time, ~1 µs of every miss); `encode` keeps no state.
_TRAILER_JSON = json.JSONEncoder(separators=(",", ":"), default=str)


def read_header(data: bytes, uri: str) -> ResultHeader:
    """Parse and check the structure of a stored result; the payload is not verified here."""
    layout = entry_format.parse(data, uri)
    return ResultHeader(
        FORMAT_VERSION,
        layout.serializer,
        layout.payload_length,
        layout.checksum,
        layout.payload_offset,
        layout.extra,
        layout.signature,
        layout.trailer_offset,
        layout.trailer_length,
    )


def read_meta(data: bytes, uri: str) -> dict[str, Any]:
    """The metadata trailer of a whole stored object (tools; never used for a hit)."""
    layout = entry_format.parse(data, uri)
    end = layout.trailer_offset + layout.trailer_length
    return entry_format.decode_trailer(bytes(memoryview(data)[layout.trailer_offset : end]), uri)


def decode_result(
    data: bytes,
    uri: str,
    *,
    expect: Serializer | None = None,
    allow_pickle: bool = True,
    signer: Signer | None = None,
) -> Any:
    """Check and deserialize a stored result object read from `uri`.

    Before any byte is deserialized: the header's serializer must be `expect` (when
    given) and, without `allow_pickle`, one that cannot run code (else
    `SerializationError`); with a `signer`, the signature must be valid for `uri`'s place (else
    `SignatureError`). Raises `ResultCorruptedError` (truncated, tampered, wrong format) or
    `SerializationError` (intact but undecodable here, e.g. a class that no longer exists).
    """
    signed = signer is not None
    parsed = entry_format.parse_fast(data, signed) if isinstance(data, bytes) else None
    parts: tuple[tuple[int, int], ...] = ()
    if parsed is None:
        layout = entry_format.parse(data, uri, prefer_signed=signed)  # raises, saying why
        parsed = (
            layout.serializer,
            layout.payload_offset,
            layout.payload_length,
            layout.checksum,
            layout.signed_end,
        )
        parts = layout.parts
    name, offset, length, checksum, signed_end = parsed
    found = _registry.get(name) if expect is None or name == expect.name else None
    codec = None
    if found is None:  # another serializer, or compressed ("cloudpickle+zstd")
        base, codec = compression.split_name(name)
        if expect is not None and base != expect.name:
            raise _refused(uri, name, f"this function is configured with {expect.name!r}")
        found = _registry.get(base) or get_serializer(base)
    serializer = found
    if serializer.runs_code and not allow_pickle:
        raise _refused(uri, name, "allow_pickle is off and that format can run code")
    if codec is not None:
        compression.check_codec(codec, uri)  # an unknown codec is refused before anything
    end = offset + length
    view = memoryview(data)
    given: object = data  # `read_entry` gives bytes, or a map of a large local entry
    if isinstance(given, MappedFile):  # a verification record may vouch for its bytes
        _verify_mapped(given, view, end, signed_end, checksum, uri, signer)
    elif signer is not None:
        _verify(signer, view, end, signed_end, checksum, uri)
    elif xxhash.xxh3_128_digest(view[:end]) != checksum:
        raise entry_format.corrupted(uri, "its payload does not match the checksum in its footer")
    if codec is not None:  # verified as stored, then decompressed within its declared size
        facts = entry_format.parse(data, uri, prefer_signed=signed).extra
        raw, parts = compression.decompress(data, offset, end, facts, uri)
        data, view, offset, end = raw, memoryview(raw), 0, len(raw)
        length = end
    try:
        if parts:
            if serializer.loads_oob is None:
                raise ValueError("its header lists out-of-band buffers this format cannot take")
            (stream_at, stream_len), *buffers = parts
            own: list[Any]
            # Arrays built on these buffers are the caller's to change: over a writable
            # read (a copy-on-write map, a bytearray) they are used in place; read-only
            # bytes are copied, buffer by buffer.
            own = [
                view[at : at + size] if not view.readonly else bytearray(view[at : at + size])
                for at, size in buffers
            ]
            return serializer.loads_oob(view[stream_at : stream_at + stream_len], own)
        payload = view[offset:end] if length > _SLICE_BELOW else data[offset:end]
        if serializer.loads_buffers or isinstance(payload, bytes):  # no copy either way
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


def _verify_mapped(
    mapped: MappedFile,
    view: memoryview,
    end: int,
    signed_end: int,
    checksum: bytes,
    uri: str,
    signer: Signer | None,
) -> None:
    """The byte check of a memory-mapped local entry: skipped when a verification record
    vouches for the file as mapped (`memokey.verified`), else done in full and recorded."""
    if signer is not None and len(view) == signed_end:
        raise unsigned(uri, "result")
    place, signature = place_of(uri), bytes(view[signed_end:])
    if verified.vouched(mapped, place, signature, signer):
        return
    now = verified.clock(mapped)  # before reading a byte: see `verified.remember`
    if signer is not None:
        _verify(signer, view, end, signed_end, checksum, uri)
    elif xxhash.xxh3_128_digest(view[:end]) != checksum:
        raise entry_format.corrupted(uri, "its payload does not match the checksum in its footer")
    if now is not None:
        verified.remember(mapped, place, signature, signer, now)


def _verify(
    signer: Signer,
    view: memoryview,
    end: int,
    signed_end: int,
    checksum: bytes,
    uri: str,
) -> None:
    """The signature replaces the checksum check (it covers every byte); a failure is
    reported as corruption when the checksum fails too (a torn write), else as a
    `SignatureError`."""
    if len(view) == signed_end:
        raise unsigned(uri, "result")
    try:
        signer.verify(
            (view[:signed_end],),
            bytes(view[signed_end:]),
            kind="result",
            place=place_of(uri),
            uri=uri,
        )
    except SignatureError:
        if xxhash.xxh3_128_digest(view[:end]) != checksum:
            raise entry_format.corrupted(
                uri, "its payload does not match the checksum in its footer"
            ) from None
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
