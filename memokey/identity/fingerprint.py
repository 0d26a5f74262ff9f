"""The code fingerprint: which code a function runs, computed once per function.

It covers the function's normalized source (`memokey.identity.source`), its closure
cells that hold functions or classes and, transitively, the first-party functions,
classes and module-level constants its code references (names in ``co_names`` of its
code and nested code, resolved in its globals, and attribute chains on first-party
modules such as ``utils.clean_text``). The walk stops at the standard library and
installed distributions (their qualified name only).

The graph is flattened into nodes: each node's own content (source, or the code object
when no source can be read; constants by value) and its edges (name -> the content hash
of what the name is bound to). The fingerprint is the digest of the sorted nodes, so
recursion and cycles terminate and visit order does not matter.

"Once" must not mean "stale": with each fingerprint comes a cheap validity check (every
global binding it read, every walked function's ``__code__`` / ``__defaults__`` /
``__kwdefaults__``, and a re-digest of referenced mutable values such as dicts, lists or
arrays, which can change in place). A failed check recomputes it.

Defaults and closure values: a helper's are part of its content (by value). The memoized
function's own defaults and plain closure values are not repeated here: every call binds
its defaults into the argument digest, and `keys.call_digest` keys its closure cells.

The value encoder is passed in (`ValueDigest`), so this module sits below `hashing`.
"""

from __future__ import annotations

import threading
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import xxhash

from memokey.errors import ConfigurationError, MemokeyError
from memokey.identity.firstparty import is_first_party, is_first_party_module
from memokey.identity.naming import module_name
from memokey.identity.source import (
    assigned_attributes,
    canonical_digest,
    class_file,
    class_node,
    function_node,
    written_globals,
)

__all__ = [
    "CodeIdentity",
    "Fingerprint",
    "ValueDigest",
    "absorb_side_effects",
    "class_identity",
    "code_identity",
    "describe_changes",
    "owner_class",
]

#: ``value -> (digest, first-party functions and classes met inside it)``; raises when the
#: value cannot be keyed.
ValueDigest = Callable[[object], tuple[str, list[object]]]

_MISSING: Any = object()
_IMMUTABLE_ATOMS = (int, float, complex, str, bytes, bool, type(None), range)
#: How deep attribute chains on first-party modules are followed (``proj.data.io.read``
#: is 4); only names the code uses are looked up, and each module is visited once.
_MAX_CHAIN = 8
_MAX_CACHED = 4096
SHORT = 12


@dataclass(frozen=True)
class Fingerprint:
    """`digest` (32 hex) names the code; `parts` (label -> short hash: ``body of f``,
    ``helper clean_text``, ``constant THRESHOLD``) says what it was made of;
    `from_source` is False when some code had no readable source and its code object
    was used (Python-version-specific)."""

    digest: str
    parts: Mapping[str, str]
    from_source: bool


def _short(digest: str) -> str:
    return digest[:SHORT]


def _is_immutable(value: object, depth: int = 0) -> bool:
    if isinstance(value, _IMMUTABLE_ATOMS) and type(value).__module__ == "builtins":
        return True
    if type(value) in (tuple, frozenset) and depth < 4:
        return all(_is_immutable(item, depth + 1) for item in value)  # type: ignore[attr-defined]
    return False


def _code_names(code: types.CodeType) -> list[str]:
    """Every global or attribute name `code` and its nested code objects use, sorted."""
    names: set[str] = set()
    stack = [code]
    while stack:
        current = stack.pop()
        names.update(current.co_names)
        stack.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    return sorted(names)


_NO_STATE: frozenset[str] = frozenset()
#: By the code object's identity, never by equality: code objects compare equal when
#: their bytecode is, but the source also holds annotations and decorators, which live
#: in the enclosing code (a reloaded ``def f(x: float)`` has a code equal to ``x: int``'s).
_sources: dict[int, tuple[types.CodeType, str | None, frozenset[str]]] = {}


def _source(
    code: types.CodeType, module_globals: dict[str, Any]
) -> tuple[str | None, frozenset[str]]:
    """(normalized source digest or None, the globals the code writes), per code object."""
    cached = _sources.get(id(code))
    if cached is not None and cached[0] is code:
        return cached[1], cached[2]
    node = function_node(code, module_globals)
    found = (None, _NO_STATE) if node is None else (canonical_digest(node), written_globals(node))
    if len(_sources) >= _MAX_CACHED:
        _sources.clear()
    _sources[id(code)] = (code, *found)  # holding `code` keeps its id its own
    return found


class _Walk:
    """One fingerprint computation: nodes, and what its validity check must watch."""

    def __init__(self, root: types.FunctionType | type, value_digest: ValueDigest) -> None:
        self.value_digest = value_digest
        self.root_module = getattr(root, "__module__", None)
        self.nodes: list[tuple[str, str]] = []  # (label, node hash)
        self.parts: dict[str, list[str]] = {}  # label -> content hashes
        self.contents: dict[int, str] = {}  # id(object) -> its content hash
        self.keep: list[object] = []  # walked objects stay alive (their ids stay theirs)
        self.from_source = True
        self.bindings: list[tuple[Any, str, object]] = []
        self.functions: list[tuple[types.FunctionType, Any, Any, Any]] = []
        self.mutables: list[tuple[object, str]] = []

    # -- labels ----------------------------------------------------------------------------

    def _label(self, kind: str, module: object, name: str) -> str:
        if module == self.root_module:
            return f"{kind} {name}"
        return f"{kind} {module_name(module)}.{name}"

    def _add(self, label: str, content: str, edges: list[str]) -> None:
        node = xxhash.xxh3_128_hexdigest("\x1e".join([label, content, *edges]).encode())
        self.nodes.append((label, node))
        self.parts.setdefault(label, []).append(_short(content))

    # -- values ------------------------------------------------------------------------------

    def _value(self, value: object) -> tuple[str, list[object]]:
        """A value's digest; one that cannot be keyed counts by its type only (a lock a
        module keeps, a logger's handler): documented in the README."""
        try:
            digest, found = self.value_digest(value)
        except Exception:
            kind = type(value)
            return f"unkeyable:{kind.__module__}.{kind.__qualname__}", []
        if not _is_immutable(value):
            self.mutables.append((value, digest))
        return digest, found

    def constant(self, value: object, label: str) -> str:
        digest, found = self._value(value)
        edges = [self.ref(item, f"{label}[]") for item in found]
        self._add(label, digest, sorted(edges))
        return f"const:{digest}:" + ",".join(sorted(edges))

    # -- references ----------------------------------------------------------------------------

    def ref(self, value: object, label: str) -> str:
        """What a name bound to `value` contributes to the node that uses it. An object
        that cannot even be inspected (a proxy whose attributes raise) counts by type."""
        try:
            return self._ref(value, label)
        except RecursionError:
            raise
        except Exception:
            kind = type(value)
            return f"opaque:{kind.__module__}.{kind.__qualname__}"

    def _ref(self, value: object, label: str) -> str:
        if getattr(value, "__memokey_runner__", None) is not None:
            wrapped = getattr(value, "__wrapped__", None)
            logic_key = getattr(value, "__memokey_logic_key__", None)
            return f"memo:{logic_key}:" + self.ref(wrapped, label)
        if isinstance(value, types.FunctionType):
            if not is_first_party(value):
                return "ext:" + _qualified(value)
            return "fn:" + self.function(value, is_root=False)
        if isinstance(value, type):
            if not is_first_party_module(getattr(value, "__module__", None)):
                return "ext:" + _qualified(value)
            return "cls:" + self.klass(value)
        if isinstance(value, types.ModuleType):
            return f"mod:{value.__name__}"
        if isinstance(value, (types.BuiltinFunctionType, types.MethodWrapperType)):
            return "ext:" + _qualified(value)
        if isinstance(value, types.MethodType):
            return (
                "method:" + self.ref(value.__func__, label) + self.constant(value.__self__, label)
            )
        wrapped = getattr(value, "__wrapped__", None)
        if isinstance(wrapped, types.FunctionType) and callable(value):  # lru_cache & co
            return f"wrap:{_qualified(type(value))}:" + self.ref(wrapped, label)
        return self.constant(value, label)

    def names(
        self,
        names: list[str],
        namespace: Any,
        edges: list[str],
        depth: int = 0,
        state: frozenset[str] = _NO_STATE,
        code_names: list[str] | None = None,
    ) -> None:
        """Resolve `names` in `namespace` (globals or a module's dict) into `edges`.
        Names in `state` (globals the code writes: a counter, a cache) are the function's
        state, not its inputs: they count by name only and are not watched.
        `code_names`: every name the code uses, looked up in each first-party module met
        (``proj.data.io.read`` needs ``io`` in ``proj.data``, not only in the globals)."""
        code_names = names if code_names is None else code_names
        module = namespace.get("__name__") if hasattr(namespace, "get") else None
        for name in names:
            if name in state and depth == 0:
                edges.append(f"{name}=state")
                continue
            value = namespace.get(name, _MISSING)
            self.bindings.append((namespace, name, value))
            if value is _MISSING:
                continue  # a builtin, an attribute name, or not defined (yet)
            label = self._label("constant", module, name)
            if isinstance(value, types.ModuleType) and is_first_party_module(value.__name__):
                edges.append(f"{name}=mod:{value.__name__}")
                if depth < _MAX_CHAIN and id(value) not in self.contents:
                    self.contents[id(value)] = value.__name__
                    self.keep.append(value)
                    sub: list[str] = []
                    chained = [n for n in code_names if n in vars(value)]
                    self.names(chained, vars(value), sub, depth + 1, code_names=code_names)
                    edges.extend(f"{value.__name__}.{e}" for e in sub)
                continue
            edges.append(f"{name}={self.ref(value, label)}")

    # -- nodes ------------------------------------------------------------------------------------

    def function(self, func: types.FunctionType, *, is_root: bool) -> str:
        """Walk `func`; its content hash (source, defaults, closure values)."""
        known = self.contents.get(id(func))
        if known is not None:
            return known
        code = func.__code__
        kwdefaults = func.__kwdefaults__
        self.functions.append(
            (func, code, func.__defaults__, None if kwdefaults is None else dict(kwdefaults))
        )
        source, state = _source(code, func.__globals__)
        parts: list[str] = []
        if source is None:
            self.from_source = False
            parts.append("code:" + self._value(code)[0])
        else:
            parts.append("src:" + source)
        cells = func.__closure__ or ()
        closure_refs: list[tuple[str, object]] = []
        for name, cell in zip(code.co_freevars, cells, strict=False):
            try:
                value = cell.cell_contents
            except ValueError:
                parts.append(f"{name}:empty")
                continue
            if callable(value) or isinstance(value, type):
                closure_refs.append((name, value))
            elif not is_root:  # the root's value cells are keyed per call
                parts.append(f"{name}:" + self._value(value)[0])
        if not is_root:
            parts.append("defaults:" + self._value((func.__defaults__, kwdefaults))[0])
        content = xxhash.xxh3_128_hexdigest("\x1e".join(parts).encode())
        self.contents[id(func)] = content
        self.keep.append(func)
        kind = "body of" if is_root else "helper"
        label = self._label(kind, func.__module__, func.__qualname__)
        edges: list[str] = []
        for name, value in closure_refs:
            edges.append(f"<closure {name}>={self.ref(value, label)}")
        self.names(_code_names(code), func.__globals__, edges, state=state)
        self._add(label, content, sorted(edges))
        return content

    def klass(self, cls: type) -> str:
        known = self.contents.get(id(cls))
        if known is not None:
            return known
        namespace = sys_globals(cls)
        node = class_node(cls, namespace)
        members = {k: v for k, v in vars(cls).items() if k not in _CLASS_BOOKKEEPING}
        functions: list[tuple[str, types.FunctionType]] = []
        values: dict[str, object] = {}
        for name, member in members.items():
            self.bindings.append((vars(cls), name, member))
            for func in _member_functions(member):
                functions.append((name, func))
            if not _member_functions(member):
                values[name] = member
        outside: list[tuple[str, types.FunctionType]] = []
        if node is not None:
            outside = _written_elsewhere(node, class_file(cls, namespace), functions)
            if not _methods_are_loaded(node, [m for m in functions if m not in outside]):
                node = None  # a method's source is not the code loaded: edited since import
                outside = []
        if node is not None:
            content = "src:" + canonical_digest(node) + self._class_data(node, values)
        else:  # a class made by a factory, or whose source is gone: by its body
            self.from_source = False
            digests = [f"{n}:{self._value(f.__code__)[0]}" for n, f in functions]
            digests += [f"{n}:{self._value(v)[0]}" for n, v in values.items()]
            content = "body:" + xxhash.xxh3_128_hexdigest("\x1e".join(digests).encode())
        self.contents[id(cls)] = content
        self.keep.append(cls)
        label = self._label("class", cls.__module__, cls.__qualname__)
        edges = [f"<base>={self.ref(base, label)}" for base in cls.__bases__ if base is not object]
        # methods assigned from elsewhere (``Model.predict = other``): by their own code
        edges += [f"<method {name}>={self.ref(func, label)}" for name, func in outside]
        for name, func in functions:
            self.functions.append((func, func.__code__, func.__defaults__, None))
            sub: list[str] = []
            state = _source(func.__code__, func.__globals__)[1]  # globals it writes: state
            self.names(_code_names(func.__code__), func.__globals__, sub, state=state)
            edges.extend(f"{name}.{e}" for e in sub)
        self._add(label, content, sorted(edges))
        return content

    def _class_data(self, node: Any, values: dict[str, object]) -> str:
        """Plain class-level values as they are now, not as the source wrote them: a
        notebook's ``Config.LR = 0.2`` changes what the code computes. Names the class
        body assigns as attributes (``Model.created += 1``) are its state, and mutable
        values (a registry dict) are left to the source; both count by name only."""
        state = assigned_attributes(node)
        data = [
            f"{name}={self._value(value)[0]}"
            for name, value in sorted(values.items())
            if not _is_reserved(name) and name not in state and _is_immutable(value)
        ]
        return "" if not data else "|data:" + "\x1e".join(data)

    def fingerprint(self) -> Fingerprint:
        entries = sorted(f"{label}\x1e{node}" for label, node in self.nodes)
        digest = xxhash.xxh3_128_hexdigest("\x1f".join(entries).encode())
        parts = {label: ",".join(sorted(set(h))) for label, h in sorted(self.parts.items())}
        return Fingerprint(digest, parts, self.from_source)


#: Class attributes that are bookkeeping, not behaviour.
_CLASS_BOOKKEEPING = frozenset(
    {"__dict__", "__weakref__", "__module__", "__slotnames__", "_abc_impl", "__doc__"}
)


def _written_elsewhere(
    node: Any, filename: str | None, functions: list[tuple[str, types.FunctionType]]
) -> list[tuple[str, types.FunctionType]]:
    """The methods that the class statement `node` (in `filename`) did not write:
    assigned to the class later, from another place. Library-generated ones
    (``<string>``: a dataclass's ``__init__``) come from the decorator, which is source."""
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    last = node.end_lineno or first
    found = []
    for name, func in functions:
        code = func.__code__
        if _is_generated(code):
            continue
        if code.co_filename != filename or not first <= code.co_firstlineno <= last:
            found.append((name, func))
    return found


def _is_generated(code: types.CodeType) -> bool:
    name = code.co_filename
    return name.startswith("<") and not name.startswith("<ipython")


def _methods_are_loaded(node: Any, functions: list[tuple[str, types.FunctionType]]) -> bool:
    """Whether every method written inside the class statement `node` still compiles
    to the code that runs (false once the file was edited after the import)."""
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    last = node.end_lineno or first
    for _, func in functions:
        code = func.__code__
        if _is_generated(code) or not first <= code.co_firstlineno <= last:
            continue  # made by a library (dataclass's __init__) or assigned from elsewhere
        if _source(code, func.__globals__)[0] is None:
            return False
    return True


def _is_reserved(name: str) -> bool:
    """Dunder and sunder names (``__module__``, enum's ``_value2member_map_``): Python's
    and libraries' bookkeeping, not the user's configuration."""
    return len(name) > 2 and name.startswith("_") and name.endswith("_")


def _member_functions(member: object) -> list[types.FunctionType]:
    if isinstance(member, (staticmethod, classmethod)):
        member = member.__func__
    while getattr(member, "__memokey_runner__", None) is not None:  # a memoized method
        member = member.__wrapped__  # type: ignore[attr-defined]
    if isinstance(member, (staticmethod, classmethod)):  # @memoize above either
        member = member.__func__
    if isinstance(member, property):
        return [
            f for f in (member.fget, member.fset, member.fdel) if isinstance(f, types.FunctionType)
        ]
    if isinstance(member, types.FunctionType):
        return [member]
    return []


def sys_globals(cls: type) -> dict[str, Any] | None:
    """The globals of the module that defined `cls` (for reading its source)."""
    import sys

    module = sys.modules.get(getattr(cls, "__module__", "") or "")
    return vars(module) if module is not None else None


def _qualified(obj: object) -> str:
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    return f"{module}:{qualname}"


class CodeIdentity:
    """A function's fingerprint plus the cheap check that it is still current."""

    __slots__ = ("_bindings", "_functions", "_mutables", "_value_digest", "fingerprint")

    def __init__(self, walk: _Walk) -> None:
        self.fingerprint = walk.fingerprint()
        self._value_digest = walk.value_digest
        # Each (namespace, name) once: 50 helpers reading SCALE need one check, not 50.
        unique = {(id(ns), name): (ns, name, value) for ns, name, value in walk.bindings}
        self._bindings = tuple(unique.values())
        self._functions = tuple({id(f[0]): f for f in walk.functions}.values())
        self._mutables = tuple(walk.mutables)

    def is_current(self) -> bool:
        """False when anything the fingerprint read has changed since (then recompute)."""
        for namespace, name, value in self._bindings:
            if namespace.get(name, _MISSING) is not value:
                return False
        for func, code, defaults, kwdefaults in self._functions:
            if func.__code__ is not code or func.__defaults__ is not defaults:
                return False
            if kwdefaults is not None and func.__kwdefaults__ != kwdefaults:
                return False
        for value, digest in self._mutables:
            try:
                if self._value_digest(value)[0] != digest:
                    return False
            except Exception:
                return False
        return True

    def absorb_side_effects(self) -> None:
        """After the function itself ran: what it changed in the mutable values it reads
        (a counter, a cache it fills) is a side effect of the call, not a new input, so
        the fingerprint keeps the values it was computed with."""
        fresh: list[tuple[object, str]] = []
        for value, digest in self._mutables:
            try:
                fresh.append((value, self._value_digest(value)[0]))
            except Exception:
                fresh.append((value, digest))
        self._mutables = tuple(fresh)


_identities: dict[Any, CodeIdentity] = {}
_lock = threading.Lock()


def code_identity(func: types.FunctionType, value_digest: ValueDigest) -> CodeIdentity:
    """`func`'s current `CodeIdentity`: cached, checked, recomputed when stale."""
    return _identity(func, value_digest)


def class_identity(cls: type, value_digest: ValueDigest) -> CodeIdentity:
    """The current `CodeIdentity` of a first-party class (its source, methods, bases and
    what they reference), for instances passed as arguments: cached and checked like a
    function's."""
    return _identity(cls, value_digest)


def _identity(root: types.FunctionType | type, value_digest: ValueDigest) -> CodeIdentity:
    cached = _identities.get(root)
    if cached is not None and cached.is_current():
        return cached
    walk = _Walk(root, value_digest)
    try:
        if isinstance(root, type):
            walk.klass(root)
        else:
            walk.function(root, is_root=True)
            owner = owner_class(root)
            if owner is not None and is_first_party_module(owner.__module__):
                walk.klass(owner)  # a method's helpers are its class's methods (``self.helper``)
    except RecursionError:
        raise ConfigurationError(
            f"cannot fingerprint {root.__qualname__}: the code it uses calls itself "
            "through a chain too deep to walk; memoize it with code='off' and a logic_key"
        ) from None
    except MemokeyError:
        raise
    except Exception as exc:  # a bug here must not surface as a raw error from a call
        raise ConfigurationError(
            f"cannot fingerprint {root.__qualname__} ({type(exc).__name__}: {exc}); memoize "
            "it with code='off' and a logic_key, and report this as a memokey bug"
        ) from exc
    identity = CodeIdentity(walk)
    with _lock:
        if len(_identities) >= _MAX_CACHED:
            _identities.clear()
        _identities[root] = identity
    return identity


def owner_class(func: types.FunctionType) -> type | None:
    """The class whose body defined `func` when `func` is a method (its qualified name leads
    from its module's globals to a class), else None. A method calls its helpers through
    ``self``, which no name in its code reveals, so its fingerprint covers this class."""
    parts = func.__qualname__.split(".")
    if len(parts) < 2 or "<locals>" in parts:
        return None
    found: object = func.__globals__.get(parts[0])
    for part in parts[1:-1]:
        found = vars(found).get(part) if isinstance(found, type) else None
    return found if isinstance(found, type) else None


def absorb_side_effects(roots: Iterable[object]) -> None:
    """After a call ran: what it changed in mutable values the cached identities of
    `roots` (the classes of its arguments) read is a side effect, not a new input."""
    for root in roots:
        identity = _identities.get(root)
        if identity is not None:
            identity.absorb_side_effects()


def describe_changes(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """What differs between two manifests, as ``helper clean_text changed`` lines."""
    changes = [
        f"{label} changed" for label in sorted(new) if label in old and old[label] != new[label]
    ]
    changes += [f"{label} added" for label in sorted(new) if label not in old]
    changes += [f"{label} removed" for label in sorted(old) if label not in new]
    return changes or ["what the code references changed"]
