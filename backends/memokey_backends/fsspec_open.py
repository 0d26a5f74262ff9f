"""Turning a URL and storage options into an `FsspecStore`.

Options come from the caller, else from fsspec's own configuration (``FSSPEC_<PROTOCOL>_*``
variables and config files) and each SDK's environment; memokey only adds network
defaults (short connect timeouts, few SDK-level retries, no listing cache) where neither
set them, so that a dead server fails in seconds and another process's writes are seen,
and connection pools as wide as ``.submit()``'s fan-out (`memokey_backends._pools`).

Two options are memokey's own and never reach the filesystem: ``timeout``, the overall
deadline of each store operation in seconds (default 60; also ``MEMOKEY_STORE_TIMEOUT``),
and ``max_connections``, how many requests a cloud store sends at once.
Cloud roots must name a bucket (``s3://my-bucket/prefix``): ``s3://`` or ``s3:///memo``
(an unset ``$BUCKET``) would otherwise write into a bucket named after a path segment.
"""

from __future__ import annotations

import math
import os
from typing import Any

from memokey_backends._gate import gate_for
from memokey_backends._pools import pool_width, s3_pool_width, size_pool
from memokey_backends._primitives import Primitives
from memokey_backends._sdk_logging import quiet_sdk_loggers
from memokey_backends.errors import BackendNotInstalledError, ConfigurationError, InvalidRootError
from memokey_backends.fsspec_store import DEFAULT_TIMEOUT, FsspecStore, check_path_text
from memokey_backends.registry import scheme_of

__all__ = ["EXTRAS", "check_cloud_root", "open_fsspec_store"]

EXTRAS: dict[str, tuple[str, str]] = {
    "s3": ("s3fs", "s3"),
    "s3a": ("s3fs", "s3"),
    "gs": ("gcsfs", "gcs"),
    "gcs": ("gcsfs", "gcs"),
    "az": ("adlfs", "azure"),
    "abfs": ("adlfs", "azure"),
    "abfss": ("adlfs", "azure"),
}
"""scheme -> (the fsspec implementation's package, the memokey extra that installs it)."""

_NETWORK_DEFAULTS: dict[str, dict[str, Any]] = {
    "s3": {
        "use_listings_cache": False,
        "config_kwargs": {
            "connect_timeout": 5,
            "read_timeout": 60,
            "retries": {"max_attempts": 1, "mode": "standard"},
        },  # + max_pool_connections: botocore's default of 10 queues a fan-out
    },
    "gcs": {
        "use_listings_cache": False,
        # gcsfs's default filesystem looks a bucket's layout up over gRPC with its own
        # retry loop of 60 s, which ran a stopped server's call into the deadline;
        # memokey retries whole operations itself (a failed lookup falls back to JSON).
        "retry_timeout": 2.0,
        "retry_initial": 0.2,
    },
    "azure": {"use_listings_cache": False},
}
_FAMILY = {
    "s3": "s3",
    "s3a": "s3",
    "gs": "gcs",
    "gcs": "gcs",
    "az": "azure",
    "abfs": "azure",
    "abfss": "azure",
}


_BUCKET_WORD = {"s3": "bucket", "gcs": "bucket", "azure": "container"}
MAX_TIMEOUT = 24 * 3600.0


def _timeout(options: dict[str, Any]) -> float:
    """memokey's ``timeout`` option (removed from `options`), else the environment's."""
    source = "storage option 'timeout'"
    value: Any = options.pop("timeout", None)
    if value is None and os.environ.get("MEMOKEY_STORE_TIMEOUT"):
        source = "MEMOKEY_STORE_TIMEOUT"
        try:
            value = float(os.environ["MEMOKEY_STORE_TIMEOUT"])
        except ValueError:
            value = os.environ["MEMOKEY_STORE_TIMEOUT"]
    if value is None:
        return DEFAULT_TIMEOUT
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 < value <= MAX_TIMEOUT
    ):
        raise ConfigurationError(
            f"the {source} must be a number of seconds between 0 and {MAX_TIMEOUT:g} (the "
            f"overall deadline of one store operation), got {value!r}; write for example "
            "storage_options={'timeout': 30}.",
            value=value,
        )
    return float(value)


def check_cloud_root(url: str) -> None:
    """Refuse a cloud root that names no bucket, or holds characters the SDK parses.

    A ``memory://`` root is checked for those characters too: fsspec's memory ``rm``
    expands glob patterns, so deleting under ``memory://a[1]`` deleted under
    ``memory://a1``. (Local paths are deleted without globbing and may hold them.)"""
    last = url.split("::")[-1]
    if "://" not in last:
        return
    scheme, rest = last.split("://", 1)
    family = _FAMILY.get(scheme.lower())
    if family is None:
        if scheme.lower() == "memory":
            _check_root_text(url, rest)
        return
    word = _BUCKET_WORD[family]
    if not rest.split("/", 1)[0]:
        raise InvalidRootError(
            f"the root {url!r} names no {word}: it would write into a {word} named after "
            f"the first path segment. Write the {word} first, e.g. "
            f"'{scheme}://my-{word}/memo' (an empty variable such as $BUCKET in "
            f"'{scheme}://$BUCKET/memo' gives this too).",
            url=url,
        )
    _check_root_text(url, rest)


def _check_root_text(url: str, rest: str) -> None:
    try:
        check_path_text(rest, "the root")
    except InvalidRootError as exc:
        raise InvalidRootError(str(exc), url=url) from None


def _target_scheme(url: str) -> str:
    last = url.split("::")[-1]
    return last.split("://", 1)[0].lower() if "://" in last else "file"


def _with_defaults(url: str, options: dict[str, Any], width: int | None) -> dict[str, Any]:
    """`options` plus memokey's network defaults where neither they nor fsspec's config
    decide; chained URLs take the innermost protocol's options under its name. `width`
    is the ``max_connections`` the caller chose (None: the fan-out's)."""
    import fsspec.config

    scheme = _target_scheme(url)
    family = _FAMILY.get(scheme)
    if family is None:
        return options
    chained = "::" in url
    out = dict(options)
    target = dict(out.get(scheme, {})) if chained else out
    configured: dict[str, Any] = {}
    for name, (_pkg, extra) in EXTRAS.items():
        if extra == EXTRAS[scheme][1]:
            configured.update(fsspec.config.conf.get(name, {}))
    for key, value in _NETWORK_DEFAULTS[family].items():
        if key not in target and key not in configured:
            target[key] = dict(value) if isinstance(value, dict) else value
    if family == "s3":
        _size_s3_pool(target, configured, width)
    elif width is not None:
        # gcsfs/adlfs take the width as a session memokey makes before the first request;
        # fsspec would hand a later store with another width the first one's filesystem
        # (the option is not among the filesystem's arguments), session and all.
        target.setdefault("skip_instance_cache", True)
    if chained:
        out[scheme] = target
    return out


OWN_OPTIONS = ("timeout", "max_connections")
"""memokey's own storage options: read here, never passed to a filesystem."""


def _lift_own_options(url: str, options: dict[str, Any]) -> None:
    """Move memokey's own options out of a chained URL's options for its innermost
    protocol (``s3={...}``, where its other options go) to the top level, where they are
    read; the same option at both levels with different values is refused."""
    scheme = _target_scheme(url)
    nested = options.get(scheme) if "::" in url else None
    if not isinstance(nested, dict) or not any(name in nested for name in OWN_OPTIONS):
        return
    nested = dict(nested)  # the caller's dict is left alone
    for name in OWN_OPTIONS:
        if name not in nested:
            continue
        value = nested.pop(name)
        if name in options and options[name] != value:
            raise ConfigurationError(
                f"the storage options set {name}={options[name]!r} and {scheme}="
                f"{{{name!r}: {value!r}}}: two different values for one store; keep one.",
                value=value,
            )
        options[name] = value
    options[scheme] = nested


def _size_s3_pool(target: dict[str, Any], configured: dict[str, Any], width: int | None) -> None:
    """botocore's ``max_pool_connections``, added to the config_kwargs in force (the
    user's, fsspec's config or memokey's) unless they name one themselves."""
    config = target.get("config_kwargs", configured.get("config_kwargs", {}))
    if not isinstance(config, dict):
        return
    if "max_pool_connections" in config:
        if width is None or config["max_pool_connections"] == width:
            return
        if "config_kwargs" in target:  # the caller's own: two widths for one store
            raise ConfigurationError(
                f"the storage options set max_connections={width} and config_kwargs="
                f"{{'max_pool_connections': {config['max_pool_connections']!r}}}: two "
                "different pool widths for one store; keep one of them.",
                value=width,
            )
        # fsspec's configuration chose a width for every S3 filesystem; this store's wins
    target["config_kwargs"] = {**config, "max_pool_connections": s3_pool_width(width)}


def _primitives_for(fs: Any) -> tuple[Primitives, bool]:
    """The publishing primitives for a filesystem, and whether it is process-local."""
    from fsspec.implementations.local import LocalFileSystem
    from fsspec.implementations.memory import MemoryFileSystem

    if isinstance(fs, LocalFileSystem):
        from memokey_backends._local import LocalPrimitives

        return LocalPrimitives(fs), False
    if isinstance(fs, MemoryFileSystem):
        from memokey_backends._memory import MemoryPrimitives

        return MemoryPrimitives(fs), True
    protocols = set(fs.protocol if isinstance(fs.protocol, (tuple, list)) else [fs.protocol])
    if "s3" in protocols:
        from memokey_backends._s3 import S3Primitives

        return S3Primitives(fs), False
    if protocols & {"gs", "gcs"}:
        from memokey_backends._gcs import GCSPrimitives

        return GCSPrimitives(fs), False
    if protocols & {"abfs", "az"}:
        from memokey_backends._azure import AzurePrimitives

        return AzurePrimitives(fs), False
    return Primitives(fs), False


def _innermost(fs: Any) -> Any:
    """The filesystem under any caching/wrapping layers of a chained URL."""
    from fsspec.spec import AbstractFileSystem

    seen = 0
    while isinstance(getattr(fs, "fs", None), AbstractFileSystem) and seen < 8:
        fs = fs.fs
        seen += 1
    return fs


def _normalised_url(url: str, path: str) -> str:
    chain = url.split("::")
    scheme = _target_scheme(url)
    target = f"file://{path}" if scheme in ("file", "local") else f"{scheme}://{path}"
    prefix = [c.split("://", 1)[0] for c in chain[:-1]]
    return "::".join([*prefix, target])


def open_fsspec_store(url: str, **storage_options: Any) -> FsspecStore:
    """A new `FsspecStore` for `url` (callers cache it: see `open_store`)."""
    from fsspec.core import url_to_fs

    options = dict(storage_options)
    _lift_own_options(url, options)
    timeout = _timeout(options)
    width = pool_width(options)
    check_cloud_root(url)
    if _target_scheme(url) in EXTRAS:
        quiet_sdk_loggers()
    options = _with_defaults(url, options, width)
    try:
        outer, path = url_to_fs(url, **options)
    except ImportError as exc:
        scheme = _target_scheme(url) if _target_scheme(url) in EXTRAS else scheme_of(url)
        package, extra = EXTRAS.get(scheme, (scheme, "all"))
        raise BackendNotInstalledError(
            f"the root {url} needs the optional package {package!r}, which is not "
            f"installed ({exc}). Install it with: pip install 'memokey[{extra}]'",
            url=url,
            extra=extra,
        ) from exc
    except (ValueError, TypeError) as exc:
        raise InvalidRootError(
            f"cannot open the storage root {url}: {exc}. Check the URL's scheme and the "
            "storage_options (they are passed to the fsspec filesystem).",
            url=url,
        ) from exc
    inner = _innermost(outer)
    primitives, process_local = _primitives_for(inner)
    gate = gate_for(inner, size_pool(inner, width)) if _target_scheme(url) in EXTRAS else None
    root = str(path).rstrip("/") or str(path)
    return FsspecStore(
        _normalised_url(url, root),
        inner,
        root,
        primitives,
        read_fs=outer,
        process_local=process_local,
        timeout=timeout,
        gate=gate,
    )
