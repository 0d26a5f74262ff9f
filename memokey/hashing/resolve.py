"""Which handler keys a given type, decided once per type (then cached by the encoder).

Order matters: user hashers first, then a class's own ``__memokey__`` hook, then
refusals, then optional families (numpy, pandas, pyarrow, only when already imported by
the user), then Python's own kinds of objects, and `__reduce_ex__` last.
"""

from __future__ import annotations

import array
import dataclasses
import enum
import sys
import types
from collections.abc import Callable

from memokey.hashing import buffers, objects
from memokey.hashing.core import Handler
from memokey.hashing.hook import hook_handler
from memokey.hashing.registry import registered_handler

_FUNCTION_TYPES = (types.FunctionType,)
_BUILTIN_FUNCTION_TYPES = (types.BuiltinFunctionType, types.BuiltinMethodType)


def find_handler(cls: type) -> Handler:
    handler = registered_handler(cls) or hook_handler(cls)
    if handler is not None:
        return handler
    if issubclass(cls, objects.UNKEYABLE_TYPES):
        return objects.refusing_handler(cls)
    for family in _optional_families():
        handler = family(cls)
        if handler is not None:
            return handler
    return _python_handler(cls)


def _optional_families() -> list[Callable[[type], Handler | None]]:
    found: list[Callable[[type], Handler | None]] = []
    if "numpy" in sys.modules:
        from memokey.hashing import arrays

        found.append(arrays.numpy_handler)
    if "pandas" in sys.modules:
        from memokey.hashing import frames

        found.append(frames.pandas_handler)
    if "pyarrow" in sys.modules:
        from memokey.hashing import arrow

        found.append(arrow.arrow_handler)
    return found


def _python_handler(cls: type) -> Handler:
    if issubclass(cls, type):
        return objects.encode_class
    if issubclass(cls, _FUNCTION_TYPES):
        return objects.encode_function
    if issubclass(cls, _BUILTIN_FUNCTION_TYPES):
        return objects.encode_builtin_function
    if issubclass(cls, types.ModuleType):
        return objects.encode_module
    if issubclass(cls, types.CodeType):
        return objects.encode_code
    if issubclass(cls, types.MappingProxyType):
        return objects.encode_mappingproxy
    if issubclass(cls, memoryview):
        return buffers.encode_memoryview
    if issubclass(cls, array.array):
        return buffers.encode_array
    if issubclass(cls, enum.Enum):
        return objects.encode_enum
    if issubclass(cls, tuple) and isinstance(getattr(cls, "_fields", None), tuple):
        return objects.encode_namedtuple
    if dataclasses.is_dataclass(cls):
        return objects.encode_dataclass
    if hasattr(cls, "__attrs_attrs__"):
        return objects.encode_attrs_instance
    base = objects.builtin_base(cls)
    if base is not None:
        return objects.subclass_handler(base)
    return objects.encode_reduced
