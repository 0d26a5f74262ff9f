"""Which storage root a call uses, decided at call time (innermost wins).

1. ``with memokey.root(url, **storage_options)`` — context-local (contextvars), so it is
   safe across threads and asyncio tasks and can redirect code you do not own;
2. the decorator's or runner's ``root=``;
3. the ``MEMOKEY_ROOT`` environment variable, read on every call;
4. the default: a ``memokey`` directory in the user's cache directory.

A runner's ``storage_options`` travel with the runner's root and also apply to levels 3 and
4; ``root(url, **storage_options)`` brings its own.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from memokey.errors import ConfigurationError
from memokey_backends import Store, open_store

__all__ = [
    "ENV_VAR",
    "RootCache",
    "RootSource",
    "RootSpec",
    "default_cache_dir",
    "default_root",
    "resolve_root",
    "root",
    "select_root",
]

ENV_VAR = "MEMOKEY_ROOT"
RootSource = Literal["context", "runner", "env", "default"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class RootSpec:
    """A chosen root: its URL, the fsspec options to open it with, and why it was chosen."""

    url: str
    storage_options: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    source: RootSource = "runner"

    def open(self) -> Store:
        """The store for this root (cached by `open_store` per URL and options)."""
        return open_store(self.url, **dict(self.storage_options))


_active: ContextVar[RootSpec | None] = ContextVar("memokey_root", default=None)


def _as_url(url: str | os.PathLike[str]) -> str:
    if isinstance(url, os.PathLike):
        url = os.fspath(url)
    if not isinstance(url, str) or not url:
        raise ConfigurationError(
            f"a memokey root is a non-empty URL or path string, got {url!r}; write e.g. "
            "'s3://my-bucket/memo' or '/data/memo'"
        )
    return url


@contextmanager
def root(url: str | os.PathLike[str], **storage_options: Any) -> Iterator[str]:
    """Send every memoized call made inside the block to `url` (beats decorator roots).

    Context-local: other threads and asyncio tasks are unaffected; tasks and
    ``asyncio.to_thread`` calls started inside the block inherit it. Yields the URL.
    """
    spec = RootSpec(_as_url(url), MappingProxyType(dict(storage_options)), "context")
    token = _active.set(spec)
    try:
        yield spec.url
    finally:
        _active.reset(token)


def default_cache_dir(platform: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The user's cache directory, found the way platformdirs does, without depending on it.

    Linux and other Unix: ``$XDG_CACHE_HOME`` (if absolute) or ``~/.cache``; macOS:
    ``~/Library/Caches``; Windows: ``%LOCALAPPDATA%`` or ``~/AppData/Local``.
    """
    platform = sys.platform if platform is None else platform
    environ = os.environ if environ is None else environ
    home = environ.get("HOME") or environ.get("USERPROFILE") or os.path.expanduser("~")
    if platform.startswith("win"):
        local = environ.get("LOCALAPPDATA")
        return local if local else os.path.join(home, "AppData", "Local")
    if platform == "darwin":
        return os.path.join(home, "Library", "Caches")
    xdg = environ.get("XDG_CACHE_HOME", "")
    return xdg if os.path.isabs(xdg) else os.path.join(home, ".cache")


def default_root(platform: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The embedded default root: ``<user cache dir>/memokey``."""
    return os.path.join(default_cache_dir(platform, environ), "memokey")


def select_root(
    explicit: str | os.PathLike[str] | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> RootSpec:
    """Choose the root for a call made now, by the precedence in this module's docstring."""
    active = _active.get()
    if active is not None:
        return active
    options: Mapping[str, Any] = MappingProxyType(dict(storage_options or {}))
    if explicit is not None:
        return RootSpec(_as_url(explicit), options, "runner")
    env = os.environ.get(ENV_VAR, "")
    if env:
        return RootSpec(env, options, "env")
    return RootSpec(default_root(), options, "default")


def resolve_root(
    explicit: str | os.PathLike[str] | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> Store:
    """The store a call made now uses (see `select_root`)."""
    return select_root(explicit, storage_options).open()


class RootCache:
    """`select_root(explicit, storage_options).open()` for one runner, without redoing
    per call what does not depend on the call.

    Each call looks only at what can change between calls: the active ``with root()``
    block (its store is kept while the same block is active) and, without an explicit
    root, ``MEMOKEY_ROOT`` / the default directory (the store is kept while the URL is
    the same). Stores are opened by `open_store`, which caches them per URL and options.
    """

    def __init__(
        self,
        explicit: str | os.PathLike[str] | None,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.explicit = None if explicit is None else _as_url(explicit)
        self.storage_options: Mapping[str, Any] = MappingProxyType(dict(storage_options or {}))
        self._context: tuple[RootSpec, Store] | None = None
        self._chosen: tuple[str, Store] | None = None

    def store(self) -> Store:
        """The store a call made now uses (the same choice as `select_root`)."""
        active = _active.get()
        if active is not None:
            context = self._context
            if context is None or context[0] is not active:
                context = self._context = (active, active.open())
            return context[1]
        url = self.explicit
        if url is None:
            url = os.environ.get(ENV_VAR, "") or default_root()
        chosen = self._chosen
        if chosen is None or chosen[0] != url:
            chosen = self._chosen = (url, select_root(url, self.storage_options).open())
        return chosen[1]
