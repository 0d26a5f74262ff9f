"""The key engine's value hashing: one canonical, type-tagged encoding per value, streamed
into xxh3_128. Pure: no I/O, no global state except the registry of user hashers.

Modules: `core` (the encoder and atoms), `containers` and `pickled` (built-in containers
and dict views, the C-pickler fast path), `buffers` and `arrays` (memory hashed in
place), `objects` (classes, functions, dataclasses, ``__reduce_ex__``), `reduction` (a
reduction independent of process history), `class_caches` (class attributes that are
caches, left out of keys), `frames` and `arrow` (pandas, pyarrow), `registry` (user
hashers), `resolve` (which handler keys which type, installed into the encoder here),
`refusals` (the public error for a value that cannot be keyed).
"""

from __future__ import annotations

from memokey.hashing import containers as _containers  # noqa: F401  (installs handlers)
from memokey.hashing.core import Encoder, Refusal, install_resolver
from memokey.hashing.refusals import encode_or_raise
from memokey.hashing.registry import register_hasher
from memokey.hashing.resolve import find_handler

# The resolver sits above the handlers it chooses between; the encoder reaches it through
# this hook, so `core` imports none of them (no import cycle).
install_resolver(find_handler)

__all__ = ["Encoder", "Refusal", "digest", "register_hasher"]


def digest(obj: object) -> str:
    """The 32-hex-digit xxh3_128 digest of `obj`'s canonical encoding.

    Raises `memokey.errors.UnkeyableArgumentError` when `obj` holds something that
    cannot be keyed (a lock, a connection, an open file, ...), naming where it sits.
    """
    enc = Encoder()
    encode_or_raise(enc, obj, parameter=None, root="value")
    return enc.hexdigest()
