"""Which store serves a URL: a small registry in the style of fsspec's.

Every scheme fsspec knows is served by `FsspecStore`; the registry exists for stores
fsspec does not cover. Third-party packages add themselves through the entry-point group
``memokey.backends`` (read once, on first use); code can call `register`. Implementations
may be given as ``"package.module:factory"`` strings and are imported only when a URL
needs them, so ``open_store("file://...")`` never imports a cloud SDK.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Mapping
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Any

from memokey_backends.errors import InvalidRootError
from memokey_backends.protocol import Store

__all__ = ["ENTRY_POINT_GROUP", "StoreFactory", "get_factory", "register", "registry", "scheme_of"]

StoreFactory = Callable[..., Store]
"""Called as ``factory(url, **storage_options)``; returns a `Store`."""

ENTRY_POINT_GROUP = "memokey.backends"
_FSSPEC_FACTORY = "memokey_backends.fsspec_open:open_fsspec_store"

_registry: dict[str, str | StoreFactory] = dict.fromkeys(
    ("file", "local", "memory", "s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"), _FSSPEC_FACTORY
)
registry: Mapping[str, str | StoreFactory] = MappingProxyType(_registry)
"""Read-only view: scheme -> factory (or its ``"module:attr"`` path)."""

_lock = threading.Lock()
_entry_points_loaded = False


def register(name: str, factory: str | StoreFactory, *, clobber: bool = False) -> None:
    """Serve URLs with scheme `name` by `factory`.

    Refuses to replace an existing entry unless ``clobber=True``, so two packages
    claiming one scheme fail loudly instead of depending on import order.
    """
    _load_entry_points()
    with _lock:
        if name in _registry and not clobber and _registry[name] != factory:
            raise ValueError(
                f"a store for scheme {name!r} is already registered ({_registry[name]!r}); "
                "pass clobber=True to replace it."
            )
        _registry[name] = factory


def _load_entry_points() -> None:
    global _entry_points_loaded
    with _lock:
        if _entry_points_loaded:
            return
        _entry_points_loaded = True
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            _registry.setdefault(ep.name, ep.value)


def _resolve(target: str | StoreFactory) -> StoreFactory:
    if not isinstance(target, str):
        return target
    module, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    factory: StoreFactory = obj
    return factory


def scheme_of(url: str) -> str:
    """The scheme that picks the store: the outermost of a chain, "file" for plain paths."""
    first = url.split("::", 1)[0]
    if "://" in first:
        return first.split("://", 1)[0].lower()
    if "::" in url and first.isalnum():
        return first.lower()  # "simplecache::s3://..." names a protocol without "://"
    return "file"


def get_factory(url: str) -> StoreFactory:
    """The factory serving `url`; unknown schemes go to fsspec, which knows many more."""
    if not isinstance(url, str) or not url:
        raise InvalidRootError(
            f"a storage root must be a non-empty URL or path, got {url!r}; pass for example "
            "'file:///data/memo' or 's3://bucket/prefix'.",
            url=url,
        )
    _load_entry_points()
    with _lock:
        target = _registry.get(scheme_of(url), _FSSPEC_FACTORY)
    return _resolve(target)
