"""Handlers for objects: classes, functions, modules, enums, NamedTuples, dataclasses,
attrs classes, subclasses of built-ins, and everything else through ``__reduce_ex__``.

Values are keyed by type and contents, never by identity. What cannot be keyed at all
(locks, connections, open files, generators, sockets) is refused with a reason.
"""

from __future__ import annotations

import copyreg
import dataclasses
import enum
import io
import socket
import sqlite3
import threading
import types
from typing import Any

from memokey.hashing.core import (
    Encoder,
    Handler,
    Refusal,
    encode_items,
    encode_mapping_items,
    encode_str,
)
from memokey.hashing.naming import module_name, qualified_name

#: Objects that stand for a resource or a live computation, not a value.
UNKEYABLE_TYPES: tuple[type, ...] = (
    io.IOBase,
    types.GeneratorType,
    types.CoroutineType,
    types.AsyncGeneratorType,
    types.FrameType,
    types.TracebackType,
    socket.socket,
    sqlite3.Connection,
    sqlite3.Cursor,
    type(threading.Lock()),
    type(threading.RLock()),
    threading.Condition,
    threading.Semaphore,
    threading.Event,
    threading.Barrier,
    threading.Thread,
)


def refusing_handler(cls: type) -> Handler:
    def refuse(enc: Encoder, obj: object) -> None:
        raise Refusal(f"a {cls.__module__}.{cls.__qualname__} is a live resource, not a value")

    return refuse


def encode_name(enc: Encoder, tag: bytes, name: str) -> None:
    enc.write(tag)
    encode_str(enc, name)


def encode_class(enc: Encoder, obj: type) -> None:
    encode_name(enc, b"C", qualified_name(obj))


def encode_module(enc: Encoder, obj: types.ModuleType) -> None:
    encode_name(enc, b"M", obj.__name__)


def encode_attrs(enc: Encoder, attrs: dict[str, Any]) -> None:
    """An attribute mapping; a failing attribute adds ``.name`` to the path."""
    enc.write(b"d")
    enc.write(len(attrs).to_bytes(8, "little"))
    name: object = None
    try:
        for name, value in attrs.items():
            enc.encode(name)
            enc.encode(value)
    except Refusal as refusal:
        refusal.segments.append(f".{name}")
        raise


# --- functions -------------------------------------------------------------------------


def _is_anonymous(func: types.FunctionType) -> bool:
    qualname = func.__qualname__
    return "<lambda>" in qualname or "<locals>" in qualname


def encode_function(enc: Encoder, func: types.FunctionType) -> None:
    """By qualified name and logic key. A lambda or a function defined inside another
    does not have a unique name, so its code, defaults and closure values are added."""
    from memokey.keys import LOGIC_KEY_ATTR, function_id, logic_key_of

    wrapped = getattr(func, "__wrapped__", None)
    if callable(wrapped) and wrapped is not func:
        # A decorator's wrapper stands for the function it wraps, plus the explicit
        # logic key a memoizing decorator may have put on it.
        explicit = getattr(func, LOGIC_KEY_ATTR, None)
        if explicit is not None:
            enc.write(b"W")
            enc.encode(explicit)
        enc.encode(wrapped)
        return
    if not enc.enter(func):
        return
    try:
        encode_name(enc, b"u", function_id(func))
        enc.encode(logic_key_of(func))
        if _is_anonymous(func):
            code = func.__code__
            enc.write(b"b")
            enc.write(len(code.co_code).to_bytes(8, "little"))
            enc.write(code.co_code)
            enc.encode((code.co_consts, code.co_names, func.__defaults__, func.__kwdefaults__))
            encode_closure(enc, func)
        else:
            enc.write(b"N")
    finally:
        enc.leave(func)


def encode_closure(enc: Encoder, func: types.FunctionType) -> None:
    """The values a closure captured: ``make_adder(1)`` and ``make_adder(2)`` differ."""
    cells = func.__closure__ or ()
    names = func.__code__.co_freevars
    enc.write(len(cells).to_bytes(8, "little"))
    for name, cell in zip(names, cells, strict=True):
        encode_str(enc, name)
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell: the variable is not assigned yet
            enc.write(b"e")
            continue
        try:
            enc.encode(value)
        except Refusal as refusal:
            refusal.segments.append(f"<closure variable {name!r}>")
            raise


def encode_builtin_function(enc: Encoder, obj: types.BuiltinFunctionType) -> None:
    owner = obj.__self__
    if owner is None or isinstance(owner, types.ModuleType):
        module = getattr(obj, "__module__", None) or getattr(owner, "__name__", None)
        encode_name(enc, b"g", f"{module_name(module)}:{obj.__qualname__}")
    else:  # a bound method of a built-in object: the object matters
        encode_reduced(enc, obj)


# --- value types with declared fields ------------------------------------------------------


def encode_enum(enc: Encoder, obj: enum.Enum) -> None:
    encode_class(enc, type(obj))
    enc.write(b"E")
    enc.encode(obj._value_)


def encode_namedtuple(enc: Encoder, obj: tuple[Any, ...]) -> None:
    if enc.enter(obj):
        try:
            encode_class(enc, type(obj))
            encode_items(enc, b"U", tuple(obj))
        finally:
            enc.leave(obj)


_MISSING = object()


def _encode_fields(enc: Encoder, tag: bytes, obj: object, names: list[str]) -> None:
    if not enc.enter(obj):
        return
    try:
        encode_class(enc, type(obj))
        enc.write(tag)
        attrs = {name: getattr(obj, name, _MISSING) for name in names}
        if any(value is _MISSING for value in attrs.values()):
            attrs = {k: (None if v is _MISSING else v) for k, v in attrs.items()}
            enc.write(b"?")  # some field was never set; still a distinct key
        encode_attrs(enc, attrs)
    finally:
        enc.leave(obj)


def encode_dataclass(enc: Encoder, obj: object) -> None:
    _encode_fields(enc, b"D", obj, [f.name for f in dataclasses.fields(obj)])  # type: ignore[arg-type]


def encode_attrs_instance(enc: Encoder, obj: object) -> None:
    _encode_fields(enc, b"A", obj, [a.name for a in type(obj).__attrs_attrs__])  # type: ignore[attr-defined]


# --- subclasses of built-ins ---------------------------------------------------------------

#: The exact built-in value of an instance of a subclass, without calling user overrides.
BUILTIN_BASES: dict[type, Any] = {
    int: int.__int__,
    float: float.__float__,
    complex: lambda obj: complex(complex.real.__get__(obj), complex.imag.__get__(obj)),
    str: str.__str__,
    bytes: lambda obj: bytes(memoryview(obj)),
    bytearray: bytearray,
    list: list,
    tuple: tuple,
    dict: dict,
    set: set,
    frozenset: frozenset,
}


def builtin_base(cls: type) -> type | None:
    """The built-in value type `cls` derives from, if it keeps its pickling behaviour."""
    for base in cls.__mro__[1:]:
        if base in BUILTIN_BASES:
            same = all(
                getattr(cls, name, None) is getattr(base, name, None)
                for name in ("__reduce_ex__", "__reduce__", "__getstate__")
            )
            return base if same else None
    return None


def subclass_handler(base: type) -> Handler:
    to_base = BUILTIN_BASES[base]

    def encode_subclass(enc: Encoder, obj: Any) -> None:
        if not enc.enter(obj):
            return
        try:
            encode_class(enc, type(obj))
            enc.write(b"X")
            enc.encode(to_base(obj))
            state = getattr(obj, "__dict__", None)
            encode_attrs(enc, state if isinstance(state, dict) else {})
        finally:
            enc.leave(obj)

    return encode_subclass


# --- everything else: __reduce_ex__ ------------------------------------------------------


def encode_reduced(enc: Encoder, obj: object) -> None:
    """Key `obj` by what pickle would rebuild it from (its ``__reduce_ex__`` output)."""
    if not enc.enter(obj):
        return
    try:
        reducer = copyreg.dispatch_table.get(type(obj))
        try:
            reduced = reducer(obj) if reducer is not None else obj.__reduce_ex__(5)
        except Exception as exc:
            raise Refusal(
                f"a {type(obj).__module__}.{type(obj).__qualname__} cannot be reduced "
                f"to a value ({exc})"
            ) from exc
        if isinstance(reduced, str):  # a global: the name is the value
            module = module_name(getattr(obj, "__module__", None))
            encode_name(enc, b"g", f"{module}:{reduced}")
            return
        encode_reduce_tuple(enc, reduced)
    finally:
        enc.leave(obj)


def encode_reduce_tuple(enc: Encoder, reduced: tuple[Any, ...]) -> None:
    parts = tuple(reduced) + (None,) * (6 - len(reduced))
    constructor, args, state, list_items, dict_items, _setter = parts
    enc.write(b"R")
    enc.encode(constructor)
    try:
        enc.encode(args)
    except Refusal as refusal:
        refusal.segments.append(".<constructor args>")
        raise
    if isinstance(state, dict):
        encode_attrs(enc, state)
    elif (
        isinstance(state, tuple)
        and len(state) == 2
        and all(s is None or isinstance(s, dict) for s in state)
    ):  # (__dict__, slots) from objects with __slots__
        enc.write(b"2")
        encode_attrs(enc, state[0] or {})
        encode_attrs(enc, state[1] or {})
    else:
        try:
            enc.encode(state)
        except Refusal as refusal:
            refusal.segments.append(".<state>")
            raise
    encode_items(enc, b"l", list(list_items) if list_items is not None else [])
    pairs = list(dict_items) if dict_items is not None else []
    encode_mapping_items(enc, b"d", pairs, len(pairs))
