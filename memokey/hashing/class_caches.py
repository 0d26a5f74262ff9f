"""Class attributes that record what happened to a class, not what it is.

A local class is keyed by its body, so an attribute that the runtime adds or grows
after the class statement would make the key depend on the process's history: the
enum member cache gains ``R | W`` once that composite is computed, ``__slotnames__``
appears on first pickling, the ABC caches fill on ``isinstance`` checks, Python 3.10+
stores an empty ``__annotations__`` dict on first read, and typing's protocols cache
their members on first use. Such attributes are left out of the key by name, and so
is any weak container (a cache by nature: its content follows garbage collection).
For instances, the values ``functools.cached_property`` stores are such a cache too.
"""

from __future__ import annotations

import contextlib
import functools
import weakref

#: Attributes filled in lazily by the runtime or the standard library.
CACHE_NAMES = frozenset(
    {
        "__dict__",
        "__weakref__",
        "__module__",
        "__slotnames__",  # copyreg._slotnames, on first pickling
        "_abc_impl",  # abc (C implementation): subclass-check caches
        "_abc_registry",  # _py_abc: registered virtual subclasses and caches
        "_abc_cache",
        "_abc_negative_cache",
        "_abc_negative_cache_version",
        "_value2member_map_",  # enum: grows with composite Flag members and lookups
        "__protocol_attrs__",  # typing.Protocol (3.12+), computed on first use
        "__non_callable_proto_members__",
        "__callable_proto_members_only__",
        "__annotations_cache__",  # 3.14: annotations evaluated on first read
        "__firstlineno__",  # 3.13: where the class starts in its file, not what it does
    }
)

_WEAK_CONTAINERS = (weakref.WeakKeyDictionary, weakref.WeakValueDictionary, weakref.WeakSet)


def is_cache(name: str, value: object) -> bool:
    """True for a class attribute that is bookkeeping, not behaviour."""
    if name in CACHE_NAMES:
        return True
    if name == "__annotations__" and type(value) is dict and not value:
        return True  # absent and empty are the same class
    return isinstance(value, _WEAK_CONTAINERS)


_CACHED_PROPERTIES: weakref.WeakKeyDictionary[type, frozenset[str]] = weakref.WeakKeyDictionary()


def cached_property_names(cls: type) -> frozenset[str]:
    """Names of the ``functools.cached_property`` attributes of `cls` (and its bases):
    an instance stores their values in its ``__dict__`` on first read, a cache of
    something computed from the rest of its state."""
    try:
        return _CACHED_PROPERTIES[cls]
    except (KeyError, TypeError):
        pass
    names = frozenset(
        name
        for base in cls.__mro__
        for name, value in vars(base).items()
        if isinstance(value, functools.cached_property)
    )
    with contextlib.suppress(TypeError):  # not weakly referenceable: computed each time
        _CACHED_PROPERTIES[cls] = names
    return names
