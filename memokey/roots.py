"""Which storage root a call uses, decided at call time (innermost wins).

1. ``with memokey.root(url, **storage_options)`` — context-local (contextvars), so it is
   safe across threads and asyncio tasks and can redirect code you do not own;
2. the decorator's or runner's ``root=``;
3. ``memokey.set_root(url, **storage_options)`` — process-wide, every thread;
4. the ``MEMOKEY_ROOT`` environment variable, read on every call;
5. the default: a ``memokey`` directory in the user's cache directory.

A runner's ``storage_options`` travel with the runner's root and also apply to levels 4 and
5; ``root(url, **storage_options)`` and ``set_root(url, **storage_options)`` bring their own.

``root()`` is a context variable: threads started by ``threading.Thread`` and pools such as
``ThreadPoolExecutor`` do not inherit it (asyncio tasks and ``asyncio.to_thread`` do).
For those, use ``set_root`` or run the work in a copy of the caller's context
(``pool.submit(contextvars.copy_context().run, fn, *args)``).
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
    "check_storage_options",
    "default_cache_dir",
    "default_root",
    "resolve_root",
    "root",
    "select_root",
    "set_root",
]

ENV_VAR = "MEMOKEY_ROOT"
RootSource = Literal["context", "runner", "process", "env", "default"]

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
_process: RootSpec | None = None  # set_root(): one assignment, read without a lock


def _as_url(url: str | os.PathLike[str]) -> str:
    if isinstance(url, os.PathLike):
        url = os.fspath(url)
    if not isinstance(url, str) or not url or "\x00" in url:
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


def check_storage_options(options: object) -> Mapping[str, Any]:
    """`options` as a read-only mapping of option names, or a `ConfigurationError`."""
    if options is None:
        return MappingProxyType({})
    if not isinstance(options, Mapping) or not all(isinstance(k, str) for k in options):
        raise ConfigurationError(
            f"storage_options={options!r} is not a mapping of option names to values; write "
            "e.g. storage_options={'profile': 'dev'} (the fsspec filesystem's keyword "
            "arguments), or leave it out"
        )
    return MappingProxyType(dict(options))


def set_root(url: str | os.PathLike[str] | None, **storage_options: Any) -> None:
    """Make `url` the root of every memoized call in this process that has no root of its
    own (decorator, runner or ``with root()``), in every thread; ``set_root(None)`` clears it.

    It sits between the decorator's root and ``MEMOKEY_ROOT``. The URL and options are
    checked, and the store opened, now: a bad root fails here, not at the first call.
    """
    global _process
    if url is None:
        if storage_options:
            raise ConfigurationError(
                "set_root(None) clears the process root and takes no storage options; "
                "write set_root(None), or set_root(url, **options) to set one"
            )
        _process = None
        return
    options = check_storage_options(storage_options)
    spec = RootSpec(_as_url(url), options, "process")
    spec.open()
    _process = spec


def process_root() -> RootSpec | None:
    """The root `set_root` chose, if any."""
    return _process


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
    if _process is not None:
        return _process
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
        self._process: tuple[RootSpec, Store] | None = None

    def _process_store(self, spec: RootSpec) -> Store:
        cached = self._process
        if cached is None or cached[0] is not spec:
            cached = self._process = (spec, spec.open())
        return cached[1]

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
            chosen_process = _process
            if chosen_process is not None:
                return self._process_store(chosen_process)
            url = os.environ.get(ENV_VAR, "") or default_root()
        chosen = self._chosen
        if chosen is None or chosen[0] != url:
            chosen = self._chosen = (url, select_root(url, self.storage_options).open())
        return chosen[1]
