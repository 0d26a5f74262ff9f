"""memokey storage layer: one fsspec-backed `Store` for every URL.

``open_store(url, **storage_options)`` returns the store for a root URL (cached per URL
and options, so filesystem instances and their connections are reused).
"""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from memokey_backends._primitives import IncompleteUpload
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
from memokey_backends.protocol import EntryInfo, Store, SupportsUploadCleanup
from memokey_backends.registry import StoreFactory, get_factory, register, registry

__all__ = [
    "BackendNotInstalledError",
    "CapabilityError",
    "ConfigurationError",
    "EntryInfo",
    "IncompleteUpload",
    "InvalidPathError",
    "InvalidRootError",
    "MemokeyError",
    "Store",
    "StoreError",
    "StoreFactory",
    "StorePermissionError",
    "StoreUnavailableError",
    "SupportsUploadCleanup",
    "WriteConflictError",
    "clear_store_cache",
    "open_store",
    "register",
    "registry",
]

_stores: dict[tuple[str, str], Store] = {}
_stores_lock = threading.Lock()
_LOCALHOST_FILE = re.compile(r"(^|::)file://localhost/", re.IGNORECASE)


def _options_key(options: dict[str, Any]) -> str:
    return json.dumps(options, sort_keys=True, default=repr)


def open_store(url: str, **storage_options: Any) -> Store:
    """The `Store` for root `url` (a plain path, ``file://``, ``memory://``, ``s3://``,
    ``gs://``, ``az://``/``abfs://`` or a chained ``simplecache::s3://...`` URL).

    `storage_options` go to the fsspec filesystem; without them fsspec's own
    configuration and the SDK's environment apply.
    """
    if isinstance(url, str) and url and "://" not in url and "::" not in url:
        import os

        url = os.path.abspath(os.path.expanduser(url))
    elif isinstance(url, str):
        # RFC 8089: file://localhost/p is file:///p; fsspec would read ./localhost/p.
        url = _LOCALHOST_FILE.sub(r"\1file:///", url)
    key = (url, _options_key(storage_options))
    with _stores_lock:
        store = _stores.get(key)
    if store is not None:
        return store
    store = get_factory(url)(url, **storage_options)
    with _stores_lock:
        return _stores.setdefault(key, store)


def clear_store_cache() -> None:
    """Forget cached stores (tests that restart servers on the same URL need this)."""
    with _stores_lock:
        _stores.clear()
