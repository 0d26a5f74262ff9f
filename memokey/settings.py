"""The settings of `memoize` and the runners, checked once, when a function is decorated.

Every bad value stops there with a `ConfigurationError` that shows what to write instead,
rather than failing later as a raw Python error, or being taken silently
(``cache_errors="no"`` would be true). ``lease_seconds`` is bounded: below
`MIN_LEASE_SECONDS` the heartbeat that renews a lease every third of it would busy-loop
against the store; above `MAX_LEASE_SECONDS` a crashed holder on another machine (whose
death cannot be seen from here) would block every other caller for longer than a day.
"""

from __future__ import annotations

import math
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from memokey.compression import Compression, check_compress
from memokey.errors import ConfigurationError, MemokeyError
from memokey.names import check_logic_key, check_namespace
from memokey.results import Serializer, get_serializer, serializers
from memokey.roots import check_storage_options
from memokey.shims.base import Shim
from memokey.verified import VERIFY_ENV, check_mode

__all__ = ["MAX_LEASE_SECONDS", "MIN_LEASE_SECONDS", "Settings", "check_settings", "check_shim"]

MIN_LEASE_SECONDS = 1.0
MAX_LEASE_SECONDS = 86_400.0


@dataclass(frozen=True)
class Settings:
    """A runner's checked settings."""

    root: str | None
    namespace: str
    logic_key: str | None
    storage_options: Mapping[str, Any]
    serializer: Serializer
    lease_seconds: float
    cache_errors: bool
    compress: Compression | None = None  # None: MEMOKEY_COMPRESS decides per publish


def check_root(root: object) -> str | None:
    """`root` as a string (None stays None), or a `ConfigurationError`."""
    if root is None:
        return None
    if isinstance(root, os.PathLike):
        root = os.fspath(root)
    if not isinstance(root, str) or not root or "\x00" in root:
        raise ConfigurationError(
            f"root={root!r} is not a storage root; write a URL or path string such as "
            "root='s3://my-bucket/memo' or root='/data/memo' (or leave it out to use "
            "MEMOKEY_ROOT or the user cache directory)"
        )
    from memokey_backends.fsspec_open import check_cloud_root

    check_cloud_root(root)  # a bucket-less cloud URL: no network needed to refuse it
    return root


def check_serializer(serializer: object) -> Serializer:
    """The registered serializer `serializer` names, or a `ConfigurationError`."""
    known = ", ".join(repr(name) for name in sorted(serializers))
    if not isinstance(serializer, (str, Serializer)):
        raise ConfigurationError(
            f"serializer={serializer!r} is not a serializer; write the name of a registered "
            f"one ({known}) or a memokey.Serializer"
        )
    try:
        return get_serializer(serializer)
    except MemokeyError as exc:
        if isinstance(exc, ConfigurationError):
            raise
        raise ConfigurationError(
            f"serializer={serializer!r} is not registered in this process; write one of "
            f"{known}, or call memokey.register_serializer({serializer!r}, dumps, loads) "
            "before decorating"
        ) from exc


def check_lease_seconds(lease_seconds: object) -> float:
    """`lease_seconds` as a float in the allowed range, or a `ConfigurationError`.

    Any real number counts (numpy scalars, `Fraction`), not a bool; one too large for a
    float is refused like any other out-of-range value.
    """
    seconds = math.nan
    if not isinstance(lease_seconds, bool) and isinstance(lease_seconds, numbers.Real):
        try:
            seconds = float(lease_seconds)
        except (OverflowError, ValueError, TypeError):
            seconds = math.nan
    if not math.isfinite(seconds) or not MIN_LEASE_SECONDS <= seconds <= MAX_LEASE_SECONDS:
        raise ConfigurationError(
            f"lease_seconds={lease_seconds!r} is not usable: write a number of seconds from "
            f"{MIN_LEASE_SECONDS:g} to {MAX_LEASE_SECONDS:g} (one day), e.g. lease_seconds=60 "
            "(the default). It bounds how long other callers wait for a holder that died "
            "silently on another machine"
        )
    return seconds


def check_cache_errors(cache_errors: object) -> bool:
    """`cache_errors` if it is a real bool (``"no"`` is not false), else an error."""
    if not isinstance(cache_errors, bool):
        raise ConfigurationError(
            f"cache_errors={cache_errors!r} is not a bool; write cache_errors=True (store "
            "failures and re-raise them) or cache_errors=False (the default)"
        )
    return cache_errors


def check_shim(shim: object) -> Shim | None:
    """`shim` if it is a memokey shim instance (or None), else a `ConfigurationError`."""
    if shim is None or isinstance(shim, Shim):
        return shim
    hint = ""
    if isinstance(shim, type) and issubclass(shim, Shim):
        hint = f" (that is the class; write shim={shim.__name__}(...), an instance)"
    raise ConfigurationError(
        f"shim={shim!r} is not a memokey shim{hint}; write shim=memokey.shims.same_thread, "
        "memokey.shims.subprocess_shim, DaskShim(client), ExecutorShim(executor) or an "
        "instance of a memokey.shims.Shim subclass"
    )


def check_settings(
    *,
    root: object,
    namespace: object,
    logic_key: object,
    storage_options: object,
    serializer: object,
    lease_seconds: object,
    cache_errors: object,
    compress: object = None,
) -> Settings:
    """All of a runner's settings, each checked (see the module docstring); the
    environment's ``MEMOKEY_VERIFY`` too, so a typo in it stops here, not at a hit."""
    check_mode(os.environ.get(VERIFY_ENV))
    return Settings(
        root=check_root(root),
        namespace=check_namespace(namespace),
        logic_key=None if logic_key is None else check_logic_key(logic_key),
        storage_options=check_storage_options(storage_options),
        serializer=check_serializer(serializer),
        lease_seconds=check_lease_seconds(lease_seconds),
        cache_errors=check_cache_errors(cache_errors),
        compress=check_compress(compress),
    )
