"""The exception tree's root and its storage branch.

They live here, in the lowest layer, so that `memokey_backends` never imports `memokey`;
`memokey.errors` re-exports them beside the core's own errors. Every exception pickles
with its attributes intact, because errors cross process boundaries (shims, Dask).
"""

from __future__ import annotations

from typing import Any


class MemokeyError(Exception):
    """Root of every error memokey raises on purpose; catch this to catch them all."""

    def __init__(self, message: str, **attrs: Any) -> None:
        super().__init__(message)
        self.__dict__.update(attrs)

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""

    def __reduce__(self) -> tuple[Any, ...]:
        attrs = {k: v for k, v in self.__dict__.items() if not k.startswith("__")}
        return (_rebuild, (type(self), self.message, attrs))


def _rebuild(cls: type[MemokeyError], message: str, attrs: dict[str, Any]) -> MemokeyError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(attrs)
    return err


class ConfigurationError(MemokeyError, ValueError, TypeError):
    """memokey was configured with a bad value (root, namespace, logic key, serializer...).

    It is also a ValueError and a TypeError, the exceptions Python code usually raises for
    bad arguments, so either ``except`` clause catches it.
    """


class StoreError(MemokeyError):
    """The storage backend failed; never treated as a cache miss."""


class StoreUnavailableError(StoreError):
    """The store could not be reached after bounded retries (network, server down)."""


class StorePermissionError(StoreError):
    """The store refused the operation (credentials, bucket policy)."""


class WriteConflictError(StoreError):
    """An exclusive create or a compare-and-swap lost to another writer."""


class CapabilityError(StoreError):
    """The backend lacks an optional capability (for example compare-and-swap)."""


class BackendNotInstalledError(StoreError):
    """The URL's filesystem needs an optional dependency; the message names the extra."""


class InvalidRootError(StoreError, ConfigurationError):
    """The root URL cannot be used as a store (unknown scheme, malformed URL, no bucket).

    It is a configuration mistake as much as a storage failure, so it is also a
    `ConfigurationError`.
    """


class InvalidPathError(InvalidRootError):
    """A store path holds characters a backend would parse rather than store (``?``,
    ``#``, glob patterns, backslash, control characters) or a ``.``/``..`` segment."""
