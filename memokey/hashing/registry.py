"""The public hook for user types: ``register_hasher(cls, reducer)``.

A registered object is keyed as (its class's qualified name, the canonical encoding of
``reducer(obj)``), so the reducer only has to return plain values (tuples, arrays, ...).
"""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from memokey.errors import ConfigurationError
from memokey.hashing.core import (
    HANDLERS,
    Encoder,
    Handler,
    Refusal,
    exception_text,
    reset_handler_cache,
)
from memokey.hashing.naming import qualified_name

_REDUCERS: dict[type, Callable[[Any], object]] = {}
#: Read-only view of the registered reducers, by class.
registered = MappingProxyType(_REDUCERS)


def register_hasher(cls: type, reducer: Callable[[Any], object]) -> None:
    """Key objects of `cls` (and its subclasses) as ``(qualified type name, reducer(obj))``.

    Registering again for the same class replaces the reducer. Exact built-in types
    (int, str, list, dict, ...) have a fixed encoding and cannot be overridden.
    """
    if not isinstance(cls, type):
        raise ConfigurationError(
            f"register_hasher() needs a class, got {cls!r}; write "
            "register_hasher(MyClass, lambda obj: (obj.a, obj.b))"
        )
    if not callable(reducer):
        raise ConfigurationError(
            f"register_hasher() needs a callable reducer, got {reducer!r}; write a function "
            "returning the keyable parts, e.g. lambda obj: (obj.a, obj.b)"
        )
    if cls in HANDLERS and cls not in _REDUCERS and cls.__module__ == "builtins":
        raise ConfigurationError(
            f"{cls.__qualname__} is a built-in type with a fixed key encoding; register a "
            "subclass of it instead"
        )
    _REDUCERS[cls] = reducer
    reset_handler_cache()


def registered_handler(cls: type) -> Handler | None:
    """The handler for `cls` from the nearest registered class in its MRO, if any."""
    for base in cls.__mro__:
        reducer = _REDUCERS.get(base)
        if reducer is not None:
            return _make_handler(reducer)
    return None


def _make_handler(reducer: Callable[[Any], object]) -> Handler:
    def encode_registered(enc: Encoder, obj: object) -> None:
        if not enc.enter(obj):
            return
        try:
            enc.write(b"H")
            enc.encode(qualified_name(type(obj)))
            if enc.classes is not None:  # the reducer says what the data is, not the code
                enc.classes.add(type(obj))
            try:
                value = reducer(obj)
            except Refusal:
                raise
            except Exception as exc:
                reason = f"{type(exc).__name__}: {exception_text(exc)}"
                raise Refusal(f"its registered hasher raised {reason}") from exc
            enc.encode(value)
        finally:
            enc.leave(obj)

    return encode_registered
