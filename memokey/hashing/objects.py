"""Handlers for objects: classes, functions, modules, enums, NamedTuples, dataclasses,
attrs classes, subclasses of built-ins, and everything else through ``__reduce_ex__``.

Values are keyed by type and contents, never by identity. What cannot be keyed at all
(locks, connections, open files, generators, sockets) is refused with a reason.
"""

from __future__ import annotations

import copyreg
import dataclasses
import enum
import functools
import io
import socket
import sqlite3
import threading
import types
from typing import Any

from memokey.errors import MemokeyError
from memokey.hashing.class_caches import cached_property_names, is_cache
from memokey.hashing.core import (
    Encoder,
    Handler,
    Refusal,
    encode_items,
    encode_mapping_items,
    encode_str,
)
from memokey.hashing.reduction import check_global, reduce_value
from memokey.identity import (
    LOGIC_KEY_ATTR,
    class_identity,
    code_identity,
    function_id,
    is_first_party,
    logic_key_of,
    round_trips,
)
from memokey.identity.naming import module_name, qualified_name

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


#: Thread primitives: in a closure (a decorator's lock) they are keyed by type only.
SYNC_TYPES: tuple[type, ...] = (
    type(threading.Lock()),
    type(threading.RLock()),
    threading.Condition,
    threading.Semaphore,
    threading.Event,
    threading.Barrier,
)


def refusing_handler(cls: type) -> Handler:
    def refuse(enc: Encoder, obj: object) -> None:
        raise Refusal(f"a {cls.__module__}.{cls.__qualname__} is a live resource, not a value")

    return refuse


def encode_name(enc: Encoder, tag: bytes, name: str) -> None:
    enc.write(tag)
    encode_str(enc, name)


def encode_class(enc: Encoder, obj: type) -> None:
    """By ``module:qualname`` when that name round-trips (importing it gives back this
    very class, pickle's rule). A class made by a factory (``namedtuple``, ``Enum("M",
    ...)``, ``type(...)``, ``make_dataclass``, a loop) or inside a function shares its
    name with others, so its bases and body are added."""
    encode_name(enc, b"C", qualified_name(obj))
    if enc.classes is not None:
        enc.classes.add(obj)
    if enc.code_refs is not None and is_first_party(obj):
        enc.code_refs.append(obj)
    if not round_trips(obj):
        if enc.code_refs is not None or enc.structural_only:
            _encode_class_body(enc, obj)  # collecting code or locating a refusal: inline
        else:
            enc.write(b"B")
            enc.write(_class_body_digest(obj))


#: Class -> (its members and bases when digested, the body digest). A class that does not
#: round-trip is keyed by its body on every instance; a notebook's dataclass list would
#: re-encode the generated methods per item. Checked by member identity on each use.
_bodies: dict[type, tuple[tuple[object, ...], tuple[type, ...], bytes]] = {}
_digesting = threading.local()
_MAX_BODIES = 1024


def _class_body_digest(cls: type) -> bytes:
    """The digest of `cls`'s bases and body, computed in a context of its own so that it
    does not depend on where it is met (and can be cached)."""
    members = tuple(vars(cls).values())
    cached = _bodies.get(cls)
    if (
        cached is not None
        and cached[1] is cls.__bases__
        and len(cached[0]) == len(members)
        and all(a is b for a, b in zip(cached[0], members, strict=True))
    ):
        return cached[2]
    active: set[type] | None = getattr(_digesting, "active", None)
    if active is None:
        active = _digesting.active = set()
    if cls in active:  # the body refers back to the class (an Enum's members)
        return b"k" * 16
    top = not active
    active.add(cls)
    try:
        sub = Encoder()
        _encode_class_body(sub, cls)
        digest = sub.digest()
    finally:
        active.discard(cls)
    if top:  # digests made inside another class's body depend on it: not cached
        if len(_bodies) >= _MAX_BODIES:
            _bodies.clear()
        _bodies[cls] = (members, cls.__bases__, digest)
    return digest


def _encode_class_body(enc: Encoder, cls: type) -> None:
    if not enc.enter(cls):  # a method refers back to its class (``super()``)
        return
    try:
        enc.write(b"B")
        enc.encode(cls.__bases__)
        members = {k: v for k, v in vars(cls).items() if not is_cache(k, v)}
        enc.write(len(members).to_bytes(8, "little"))
        name = ""
        try:
            for name, value in members.items():
                encode_str(enc, name)
                _encode_class_member(enc, value)
        except Refusal as refusal:
            refusal.segments.append(f".{name}")
            raise
    finally:
        enc.leave(cls)


def _encode_class_member(enc: Encoder, value: object) -> None:
    """A class attribute; descriptors that pickle refuses are keyed by what they wrap."""
    if isinstance(value, (staticmethod, classmethod)):
        enc.write(b"s" if isinstance(value, staticmethod) else b"c")
        enc.encode(value.__func__)
    elif isinstance(value, functools.cached_property):  # its lock is not part of it
        enc.write(b"a")
        enc.encode((value.func, value.attrname))
    elif isinstance(value, property):
        enc.write(b"p")
        enc.encode((value.fget, value.fset, value.fdel))
    elif isinstance(value, (types.MemberDescriptorType, types.GetSetDescriptorType)):
        encode_name(enc, b"m", value.__name__)  # a slot: its name is the whole story
    else:
        enc.write(b"v")
        enc.encode(value)


def encode_module(enc: Encoder, obj: types.ModuleType) -> None:
    encode_name(enc, b"M", obj.__name__)


def encode_mappingproxy(enc: Encoder, obj: types.MappingProxyType[Any, Any]) -> None:
    """A read-only view of a mapping: keyed as that mapping's items, in its order."""
    if enc.enter(obj):
        try:
            enc.write(b"x")
            enc.encode(dict(obj))
        finally:
            enc.leave(obj)


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


def code_value_digest(value: object) -> tuple[str, list[object]]:
    """The `memokey.identity.ValueDigest` the code fingerprint uses for constants: the
    value's digest, and the first-party functions and classes met inside it."""
    found: list[object] = []
    enc = Encoder(code_refs=found)
    enc.encode(value)
    return enc.hexdigest(), found


def fingerprint_digest(func: types.FunctionType) -> str:
    """`func`'s current code fingerprint (cached; recomputed when its code changed)."""
    try:
        return code_identity(func, code_value_digest).fingerprint.digest
    except MemokeyError as exc:
        raise Refusal(f"its code cannot be fingerprinted: {exc}") from exc


def class_code_digests(classes: set[type]) -> list[str]:
    """The code fingerprints of the first-party classes among `classes`, sorted (what
    `keys.call_digest` adds under ``code="key"``). Library and standard-library classes
    add nothing: their code counts by name, like a library function's."""
    digests = []
    for cls in classes:
        if is_first_party(cls):
            try:
                digests.append(class_identity(cls, code_value_digest).fingerprint.digest)
            except MemokeyError as exc:
                raise Refusal(
                    f"the code of {qualified_name(cls)} cannot be fingerprinted: {exc}"
                ) from exc
    digests.sort()
    return digests


def encode_function(enc: Encoder, func: types.FunctionType) -> None:
    """By qualified name and logic key, plus what the name cannot tell:

    - a first-party function carries its code fingerprint (edit the helper you pass in
      and the key changes);
    - a function whose name does not round-trip (a lambda, a nested function, a
      ``functools.wraps`` wrapper, ``exec``'d code) adds its code, defaults, closure
      values and attributes (``f.factor = n``, written only when there are some), so
      ``scale(2)(f)`` and ``scale(3)(f)`` differ.
    """
    if getattr(func, "__memokey_runner__", None) is not None:
        wrapped = getattr(func, "__wrapped__", None)
        if callable(wrapped) and wrapped is not func:  # a memoized function: its logic key
            enc.write(b"W")
            enc.encode(getattr(func, LOGIC_KEY_ATTR, None))
            enc.encode(wrapped)
            return
    if not enc.enter(func):
        return
    try:
        encode_name(enc, b"u", function_id(func))
        enc.encode(logic_key_of(func))
        if is_first_party(func):
            if enc.code_refs is not None:
                enc.code_refs.append(func)  # the fingerprint being computed walks it
            elif not enc.structural_only:
                enc.write(b"P")
                encode_str(enc, fingerprint_digest(func))
        if round_trips(func):
            enc.write(b"N")
        else:
            enc.write(b"b")
            encode_code(enc, func.__code__)
            enc.encode((func.__defaults__, func.__kwdefaults__))
            encode_closure(enc, func, sync_by_type=True)
            if func.__dict__:  # ``f.factor = n``: read by the body as much as a closure
                enc.write(b"+")
                encode_attrs(enc, dict(func.__dict__))
    finally:
        enc.leave(func)


def encode_code(enc: Encoder, code: types.CodeType) -> None:
    """Everything that decides what a code object does: the signature (counts, flags and
    parameter names, since callers can pass arguments by name), the bytecode with its
    exception table, and the constants (nested code objects included) and names."""
    enc.write(b"o")
    counts = (code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags)
    enc.write(b"".join(n.to_bytes(8, "little") for n in counts))
    for raw in (code.co_code, getattr(code, "co_exceptiontable", b"")):
        enc.write(len(raw).to_bytes(8, "little"))
        enc.write(raw)
    enc.encode(
        (code.co_consts, code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars)
    )


def encode_closure(enc: Encoder, func: types.FunctionType, *, sync_by_type: bool = False) -> None:
    """The values a closure captured: ``make_adder(1)`` and ``make_adder(2)`` differ.

    `sync_by_type`: a function passed as a value (a decorator's wrapper) may keep a lock
    to coordinate calls; it holds no data, so it is keyed by its type. A memoized
    closure over a lock is still refused (its advice: pass the value as an argument)."""
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
        if sync_by_type and isinstance(value, SYNC_TYPES):
            encode_name(enc, b"r", qualified_name(type(value)))
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
            extra = getattr(obj, "__dict__", None)  # a subclass without __slots__
            if extra:
                enc.write(b"+")
                encode_attrs(enc, dict(extra))
            encode_items(enc, b"U", tuple(obj))
        finally:
            enc.leave(obj)


_MISSING = object()


def _encode_fields(
    enc: Encoder, tag: bytes, obj: object, names: list[str], caches: frozenset[str] = frozenset()
) -> None:
    if not enc.enter(obj):
        return
    try:
        encode_class(enc, type(obj))
        enc.write(tag)
        attrs = {name: getattr(obj, name, _MISSING) for name in names}
        unset = tuple(k for k, v in attrs.items() if v is _MISSING)
        if unset:  # some fields were never set: which ones is part of the key
            attrs = {k: (None if v is _MISSING else v) for k, v in attrs.items()}
            enc.write(b"?")
            enc.encode(unset)
        extra = _attributes_beyond(obj, names, caches)
        if extra:  # set outside the fields (``__post_init__``, later): a function sees them
            enc.write(b"+")
            encode_attrs(enc, extra)
        encode_attrs(enc, attrs)
    finally:
        enc.leave(obj)


def _attributes_beyond(obj: object, names: list[str], caches: frozenset[str]) -> dict[str, Any]:
    """Instance attributes that are not fields, less ``cached_property`` values and the
    class's own `caches`: those in ``__dict__``, then the set slots a subclass added."""
    found: dict[str, Any] = {}
    state = getattr(obj, "__dict__", None)
    if isinstance(state, dict) and (len(state) > len(names) or not state.keys() <= set(names)):
        skip = set(names) | cached_property_names(type(obj)) | caches
        found = {k: v for k, v in state.items() if k not in skip}
    cls = type(obj)
    slots = cls.__dict__.get("__slotnames__")  # copyreg's own per-class cache: hot path
    if slots is None:
        slots = copyreg._slotnames(cls)  # type: ignore[attr-defined]
    for name in slots:
        if name not in names and name not in caches:
            value = getattr(obj, name, _MISSING)
            if value is not _MISSING:  # an unset slot has no key entry
                found[name] = value
    return found


def encode_dataclass(enc: Encoder, obj: object) -> None:
    _encode_fields(enc, b"D", obj, [f.name for f in dataclasses.fields(obj)])  # type: ignore[arg-type]


#: Where ``attrs`` (``cache_hash=True``) stores an instance's hash once computed.
_ATTRS_CACHES = frozenset({"_attrs_cached_hash"})


def encode_attrs_instance(enc: Encoder, obj: object) -> None:
    names = [a.name for a in type(obj).__attrs_attrs__]  # type: ignore[attr-defined]
    _encode_fields(enc, b"A", obj, names, _ATTRS_CACHES)


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
            slots = copyreg._slotnames(type(obj))  # type: ignore[attr-defined]
            if slots:  # only the slots that are set; an unset one has no key entry
                enc.write(b"L")
                encode_attrs(enc, {n: getattr(obj, n) for n in slots if hasattr(obj, n)})
        finally:
            enc.leave(obj)

    return encode_subclass


# --- everything else: __reduce_ex__ ------------------------------------------------------


def encode_reduced(enc: Encoder, obj: object) -> None:
    """Key `obj` by what pickle would rebuild it from (its ``__reduce_ex__`` output)."""
    if not enc.enter(obj):
        return
    if enc.classes is not None:  # a custom reduce may name a factory, not the class
        enc.classes.add(type(obj))
    try:
        reduced = reduce_value(obj)
        if isinstance(reduced, str):  # a global: the name is the value
            check_global(obj, reduced)
            module = module_name(getattr(obj, "__module__", None))
            encode_name(enc, b"g", f"{module}:{reduced}")
            return
        encode_reduce_tuple(enc, reduced)
    finally:
        enc.leave(obj)


def encode_reduce_tuple(enc: Encoder, reduced: tuple[Any, ...]) -> None:
    parts = tuple(reduced) + (None,) * (6 - len(reduced))
    constructor, args, state, list_items, dict_items, setter = parts
    enc.write(b"R" if setter is None else b"r")
    enc.encode(constructor)
    if setter is not None:  # how the state is applied (pickle's state_setter)
        enc.encode(setter)
    try:
        enc.encode(args)
    except Refusal as refusal:
        refusal.segments.append(".<constructor args>")
        raise
    if type(state) is dict:
        encode_attrs(enc, state)
    elif _is_slots_state(state):  # (__dict__ or None, slots) from objects with __slots__
        enc.write(b"2")
        encode_attrs(enc, state[0] or {})
        encode_attrs(enc, state[1])
    else:
        try:
            enc.encode(state)
        except Refusal as refusal:
            refusal.segments.append(".<state>")
            raise
    encode_items(enc, b"l", list(list_items) if list_items is not None else [])
    pairs = list(dict_items) if dict_items is not None else []
    encode_mapping_items(enc, b"d", pairs, len(pairs))


def _is_slots_state(state: object) -> bool:
    """True for exactly the shape `object.__getstate__` gives an object with set slots:
    ``(None or a non-empty dict, a non-empty dict)``. Any other state (``({}, {})`` from a
    custom ``__reduce__``, a dict subclass) is keyed as the value it is, since its
    ``__setstate__`` can tell ``None`` from ``{}``."""
    if type(state) is not tuple or len(state) != 2:
        return False
    attrs, slots = state
    return (attrs is None or (type(attrs) is dict and bool(attrs))) and (
        type(slots) is dict and bool(slots)
    )
