"""The canonical encoder: a type-tagged byte stream fed straight into one xxh3_128.

Every value is written as a one-byte tag and a self-delimiting payload, so two different
values can never produce the same stream and nothing is ever assembled in memory first.
Handlers for other families of types (buffers, objects, pandas) live in sibling modules
and are looked up once per type, then cached in `HANDLERS`.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import xxhash

from memokey.hashing.strings import write_long_str

Handler = Callable[["Encoder", Any], None]

U64 = struct.Struct("<Q").pack
TAG_U64 = struct.Struct("<cQ").pack
_TAG_I64 = struct.Struct("<cq").pack
_TAG_F64 = struct.Struct("<cd").pack
_TAG_C128 = struct.Struct("<cdd").pack

#: Strings longer than this are never copied whole (see `strings`).
STR_CHUNK = 1 << 14
#: Deeper nesting is refused: the encoder recurses, and Python's stack is finite.
MAX_NESTING = 200


class Refusal(Exception):
    """Internal: a value cannot be keyed. Containers add their path segment on the way
    up; `keys.call_digest` turns it into the public `UnkeyableArgumentError`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.segments: list[str] = []

    def path(self, root: str) -> str:
        return root + "".join(reversed(self.segments))


#: Not a property of the value: refusals carry their own reason, a RecursionError is
#: reported as too deep by the caller, and memory exhaustion is never swallowed.
_PASS_THROUGH = (Refusal, RecursionError, MemoryError)


def _short_text(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def exception_text(exc: BaseException, limit: int = 200) -> str:
    """``str(exc)``, cut to `limit`; user exceptions can fail to print, and that second
    failure must not escape in place of the refusal."""
    try:
        text = str(exc)
    except Exception:
        text = f"<{type(exc).__name__} that cannot be printed>"
    return _short_text(text, limit)


def _type_name(obj: object) -> str:
    cls = type(obj)
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', '?')}"


class Encoder:
    """One canonical stream. `ancestors` maps the ids of the containers being encoded
    (the current path only) to their depth, to write a back-reference for a cycle."""

    __slots__ = ("_hasher", "ancestors", "classes", "code_refs", "structural_only", "write")

    def __init__(
        self,
        ancestors: dict[int, int] | None = None,
        *,
        structural_only: bool = False,
        code_refs: list[object] | None = None,
        classes: set[type] | None = None,
    ) -> None:
        self._hasher = xxhash.xxh3_128()
        self.write: Callable[[Any], None] = self._hasher.update
        self.ancestors: dict[int, int] = {} if ancestors is None else ancestors
        #: Set while re-encoding a failed value only to find the path to the culprit.
        self.structural_only = structural_only
        #: Set while a code fingerprint digests a constant: functions and classes met are
        #: collected here (the fingerprint walks them) instead of being fingerprinted.
        self.code_refs = code_refs
        #: Set while a call is keyed with its code (``code="key"``): every class whose
        #: instances (or itself) the arguments hold, one cheap ``set.add`` per class met,
        #: so `keys.call_digest` can add each first-party class's code fingerprint once.
        self.classes = classes

    def encode(self, obj: object) -> None:
        try:
            handler = HANDLERS.get(type(obj))
            if handler is None:
                handler = resolve_handler(type(obj))
            handler(self, obj)
        except _PASS_THROUGH:
            raise
        except Exception as exc:
            # User or library code (a property, ``__reduce_ex__``, ``__len__``, pyarrow)
            # failed while this value was read: refuse it here, so the containers on the
            # way up add the path to it.
            message = exception_text(exc)
            raise Refusal(
                f"reading this {_type_name(obj)} raised {type(exc).__name__}: {message}"
            ) from exc

    def sub_digest(self, obj: object) -> bytes:
        """The 16-byte digest of `obj` alone (same cycle context), for order-free sets
        and for values referenced from inside a pickled container."""
        sub = Encoder(
            self.ancestors,
            structural_only=self.structural_only,
            code_refs=self.code_refs,
            classes=self.classes,
        )
        sub.encode(obj)
        return sub.digest()

    def enter(self, obj: object) -> bool:
        """Push a composite value on the path; False (after writing a back-reference)
        when it is already on the path, i.e. the value is cyclic."""
        ancestors = self.ancestors
        depth = ancestors.get(id(obj))
        if depth is not None:
            self.write(TAG_U64(b"K", len(ancestors) - depth))
            return False
        if len(ancestors) >= MAX_NESTING:
            raise Refusal(
                f"it is nested more than {MAX_NESTING} containers deep; "
                "pass a flatter value or key it with a keyfunc"
            )
        ancestors[id(obj)] = len(ancestors)
        return True

    def leave(self, obj: object) -> None:
        del self.ancestors[id(obj)]

    def digest(self) -> bytes:
        return self._hasher.digest()

    def hexdigest(self) -> str:
        return self._hasher.hexdigest()


# --- atoms ---------------------------------------------------------------------------


def _none(enc: Encoder, obj: None) -> None:
    enc.write(b"N")


def _bool(enc: Encoder, obj: bool) -> None:
    enc.write(b"T" if obj else b"F")


def encode_int(enc: Encoder, obj: int) -> None:
    if -(1 << 63) <= obj < (1 << 63):
        enc.write(_TAG_I64(b"i", obj))
    else:
        size = (obj.bit_length() + 8) // 8
        enc.write(TAG_U64(b"I", size) + obj.to_bytes(size, "little", signed=True))


def encode_float(enc: Encoder, obj: float) -> None:
    # The IEEE bits: -0.0 differs from 0.0, and a NaN equals only a NaN with the same bits.
    enc.write(_TAG_F64(b"f", obj))


def _complex(enc: Encoder, obj: complex) -> None:
    enc.write(_TAG_C128(b"c", obj.real, obj.imag))


def utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:  # lone surrogates are legal in a str: keep them exactly
        return text.encode("utf-8", "surrogatepass")


def encode_str(enc: Encoder, obj: str) -> None:
    # The prefix counts code points, so chunks can be encoded one by one without a copy.
    size = len(obj)
    if size <= STR_CHUNK:
        enc.write(TAG_U64(b"s", size) + utf8(obj))
        return
    enc.write(TAG_U64(b"s", size))
    write_long_str(enc.write, obj, utf8)


def encode_bytes(enc: Encoder, obj: bytes) -> None:
    enc.write(TAG_U64(b"b", len(obj)))
    enc.write(obj)


def _bytearray(enc: Encoder, obj: bytearray) -> None:
    enc.write(TAG_U64(b"y", len(obj)))
    enc.write(obj)


# --- containers ----------------------------------------------------------------------


def encode_items(enc: Encoder, tag: bytes, items: list[Any] | tuple[Any, ...]) -> None:
    """A sequence: tag, count, then each item; a failing item adds ``[i]`` to the path."""
    enc.write(TAG_U64(tag, len(items)))
    index = 0
    try:
        for index, item in enumerate(items):  # noqa: B007 - index is read on failure
            enc.encode(item)
    except Refusal as refusal:
        refusal.segments.append(f"[{index}]")
        raise


def encode_mapping_items(enc: Encoder, tag: bytes, items: Any, count: int) -> None:
    """Key/value pairs in iteration order (dict order is observable, so it is kept)."""
    enc.write(TAG_U64(tag, count))
    key: object = None
    try:
        for key, value in items:
            enc.encode(key)
            enc.encode(value)
    except Refusal as refusal:
        refusal.segments.append(f"[{short_repr(key)}]")
        raise


def encode_unordered(enc: Encoder, tag: bytes, items: Any) -> None:
    """Order-free: each element's own digest, sorted. Independent of PYTHONHASHSEED."""
    digests: list[bytes] = []
    try:
        for item in items:
            digests.append(enc.sub_digest(item))
    except Refusal as refusal:
        refusal.segments.append(f"{{{short_repr(item)}}}")
        raise
    digests.sort()
    enc.write(TAG_U64(tag, len(digests)))
    enc.write(b"".join(digests))


def short_repr(obj: object) -> str:
    try:
        text = repr(obj)
    except Exception:
        text = f"<{type(obj).__name__}>"
    return text if len(text) <= 60 else text[:57] + "..."


HANDLERS: dict[type, Handler] = {
    type(None): _none,
    bool: _bool,
    int: encode_int,
    float: encode_float,
    complex: _complex,
    str: encode_str,
    bytes: encode_bytes,
    bytearray: _bytearray,
}
_FIXED: set[type] = set(HANDLERS)


def register_builtin(cls: type, handler: Handler) -> None:
    """Install the handler of an exact built-in type; these are never overridden."""
    HANDLERS[cls] = handler
    _FIXED.add(cls)


def reset_handler_cache() -> None:
    """Forget every resolved handler (after a user registers a hasher)."""
    for cls in [cls for cls in HANDLERS if cls not in _FIXED]:
        del HANDLERS[cls]


def _no_resolver(cls: type) -> Handler:
    raise Refusal(f"no handler for {cls.__qualname__}: memokey.hashing is not initialized")


_resolver: Callable[[type], Handler] = _no_resolver


def install_resolver(resolver: Callable[[type], Handler]) -> None:
    """Set how handlers for new types are found (`memokey.hashing` installs `resolve`)."""
    global _resolver
    _resolver = resolver


def resolve_handler(cls: type) -> Handler:
    """Find and cache the handler for `cls`: user hashers first, then known families."""
    handler = _resolver(cls)
    HANDLERS[cls] = handler
    return handler
