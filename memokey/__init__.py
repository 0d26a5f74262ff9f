"""memokey: memoize pure-ish functions into any fsspec URL.

    import memokey

    @memokey.memoize("s3://bucket/cache")
    def train(config: dict) -> Model: ...

The arguments become a deterministic key; the result lives at a deterministic URI under
the root, so any process on any machine making the same call reads it back.
"""

from __future__ import annotations

from memokey._version import __version__
from memokey.code_policy import code_fingerprint
from memokey.decorator import MemoizedFunction, key_for, memoize, use_runner
from memokey.errors import (
    BackendNotInstalledError,
    CapabilityError,
    CompressionError,
    ConfigurationError,
    InvalidPathError,
    InvalidRootError,
    KeyfuncError,
    LeaseError,
    MemokeyError,
    OfflineMissError,
    RemoteError,
    ResultCorruptedError,
    SerializationError,
    ShimError,
    SignatureError,
    StoreError,
    StorePermissionError,
    StoreUnavailableError,
    UnkeyableArgumentError,
    WriteConflictError,
)
from memokey.hashing import digest, register_hasher
from memokey.keyfuncs import Keyfunc, nil_args
from memokey.keys import MemoKey
from memokey.modes import mode
from memokey.observe import on_event, stats
from memokey.results import Serializer, register_serializer
from memokey.roots import root, set_root
from memokey.runners import KeyedLocalRunner, MemoizingRunner

__all__ = [
    "BackendNotInstalledError",
    "CapabilityError",
    "CompressionError",
    "ConfigurationError",
    "InvalidPathError",
    "InvalidRootError",
    "KeyedLocalRunner",
    "Keyfunc",
    "KeyfuncError",
    "LeaseError",
    "MemoKey",
    "MemoizedFunction",
    "MemoizingRunner",
    "MemokeyError",
    "OfflineMissError",
    "RemoteError",
    "ResultCorruptedError",
    "SerializationError",
    "Serializer",
    "ShimError",
    "SignatureError",
    "StoreError",
    "StorePermissionError",
    "StoreUnavailableError",
    "UnkeyableArgumentError",
    "WriteConflictError",
    "__version__",
    "code_fingerprint",
    "digest",
    "key_for",
    "memoize",
    "mode",
    "nil_args",
    "on_event",
    "register_hasher",
    "register_serializer",
    "root",
    "set_root",
    "stats",
    "use_runner",
]
