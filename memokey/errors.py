"""Every exception memokey raises: one root, `MemokeyError`, and specific subclasses.

Each message says what happened and what to do next. The original error, when there is
one, is chained as `__cause__`.
"""

from __future__ import annotations

from memokey_backends.errors import (
    BackendNotInstalledError,
    CapabilityError,
    ConfigurationError,
    InvalidPathError,
    InvalidRootError,
    MemokeyError,
    StoreError,
    StorePermissionError,
    StoreUnavailableError,
    WriteConflictError,
)

__all__ = [
    "BackendNotInstalledError",
    "CapabilityError",
    "CompressionError",
    "ConfigurationError",
    "InvalidPathError",
    "InvalidRootError",
    "KeyfuncError",
    "LeaseError",
    "MemokeyError",
    "OfflineMissError",
    "RemoteError",
    "ResultCorruptedError",
    "SerializationError",
    "ShimError",
    "SignatureError",
    "StoreError",
    "StorePermissionError",
    "StoreUnavailableError",
    "UnkeyableArgumentError",
    "WriteConflictError",
]


class UnkeyableArgumentError(MemokeyError, TypeError):
    """An argument cannot be turned into a key (lock, connection, open file, generator).

    Attributes `parameter` and `path` (e.g. ``cfg['db']``) say where it was found.
    """


class KeyfuncError(MemokeyError, TypeError):
    """A keyfunc returned something that does not bind to the function's signature."""


class SerializationError(MemokeyError):
    """A result could not be serialized or deserialized; nothing was stored."""


class CompressionError(SerializationError):
    """A stored result is compressed with a codec this process cannot decompress (zstd
    without the `zstandard` package, or a codec it does not know); nothing of it was
    decoded. Attributes `uri` and `codec`; the message names the extra to install and
    the `memokey rm` command that removes the entry."""


class ResultCorruptedError(MemokeyError):
    """A stored result failed its checksum or header check; it is never returned."""


class LeaseError(MemokeyError):
    """A compute lease could not be taken, renewed or released."""


class ShimError(MemokeyError):
    """A shim could not run the call elsewhere (process failed to start, cluster refused)."""


class RemoteError(MemokeyError):
    """A remote call failed with an exception that could not be rebuilt locally."""


class SignatureError(MemokeyError):
    """A stored object is unsigned or wrongly signed while a signing key is configured;
    nothing of it was deserialized. Attribute `uri` names the object (see SECURITY.md)."""


class OfflineMissError(MemokeyError):
    """A call missed while run mode ``offline`` (``memokey.mode`` or ``MEMOKEY_MODE``)
    was in force: its result is not stored and computing it was not allowed."""
