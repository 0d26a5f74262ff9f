"""Keys for calls: which function (id and logic key), which arguments (digest), and where
the result lives (`memo_dir`). Pure functions, no I/O.

A call's key is ``(function_id, code version, call_digest)``; the code version (logic key
and/or code fingerprint) comes from `memokey.identity` and `memokey.code_policy`. The
arguments are bound to the parameters the function really receives (for a plain function
its own code, not a ``__signature__`` it may carry: `memokey.signatures`) with defaults
applied, so ``f(1)``, ``f(x=1)`` and ``f(1, y=<default>)`` share one key, and
``*args``/``**kwargs`` keep their own slots.
"""

from __future__ import annotations

import contextlib
import inspect
import struct
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import xxhash

from memokey.errors import UnkeyableArgumentError
from memokey.hashing import Encoder, Refusal
from memokey.hashing.objects import class_code_digests, encode_closure
from memokey.hashing.refusals import TOO_DEEP as _TOO_DEEP
from memokey.hashing.refusals import argument_error as _argument_error
from memokey.hashing.refusals import encode_or_raise
from memokey.identity import LOGIC_KEY_ATTR, function_id, logic_key_of
from memokey.names import check_namespace, function_segment
from memokey.signatures import own_function, true_signature

__all__ = [
    "LOGIC_KEY_ATTR",
    "SCHEME",
    "MemoKey",
    "argument_classes",
    "atom_digest",
    "bind_call",
    "call_digest",
    "check_namespace",
    "encode_or_raise",
    "entry_digest",
    "function_id",
    "logic_key_of",
    "memo_dir",
    "place_salt",
    "positional_digest",
]

#: The key scheme; part of every storage path. Any change to a digest needs a new one.
SCHEME = "memokey-v2"

_MISSING: Any = inspect.Parameter.empty


@dataclass(frozen=True)
class _Plan:
    """What binding needs to know about a signature, computed once per function."""

    signature: inspect.Signature
    names: tuple[str, ...]
    defaults: dict[str, Any]
    simple: bool  # only positional-or-keyword parameters: bind without inspect
    nparams: int
    #: The function whose defaults and code the signature snapshot, and those as they
    #: were: reassigning ``__defaults__``, editing ``__kwdefaults__`` or replacing
    #: ``__code__`` (other parameter names or order) changes how a call binds.
    source: Any
    pos_defaults: Any
    kw_defaults: tuple[tuple[str, Any], ...]
    code: Any = None
    #: `call_digest`'s prefix for a call that binds every parameter (`positional_digest`).
    prefix: bytes = b""
    #: For a callable that is not a plain function, the ``__signature__`` and
    #: ``__wrapped__`` it declared (`inspect.signature` binds by them); None for a plain
    #: function, which binds by its own code (`memokey.signatures`).
    declared: tuple[Any, Any] | None = None

    def is_current(self, func: Any) -> bool:
        source = self.source
        if getattr(source, "__code__", None) is not self.code:
            return False
        if self.declared is not None:  # compared by identity, as defaults are
            signature, wrapped = _declared(func)
            if signature is not self.declared[0] or wrapped is not self.declared[1]:
                return False
        if getattr(source, "__defaults__", None) is not self.pos_defaults:
            return False
        kw = getattr(source, "__kwdefaults__", None)
        if not kw:
            return not self.kw_defaults
        return len(kw) == len(self.kw_defaults) and all(
            kw.get(name, _MISSING) is value for name, value in self.kw_defaults
        )


_PLANS: dict[Any, _Plan] = {}
_RAW_ARGUMENTS = inspect.Signature(
    [
        inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL),
        inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD),
    ]
)


def _declared(func: Any) -> tuple[Any, Any]:
    """What `func` declares about its parameters, besides its defaults' source."""
    return (getattr(func, "__signature__", None), getattr(func, "__wrapped__", None))


def _defaults_source(func: Callable[..., Any]) -> Any:
    """The function binding reads code and defaults from: for a plain function (or a
    method of one) that function, whose own code decides (`memokey.signatures`); for
    anything else the end of its ``__wrapped__`` chain, as `inspect.signature` reads."""
    own = own_function(func)
    if own is not None:
        return own
    try:
        return inspect.unwrap(getattr(func, "__func__", func))
    except ValueError:  # a __wrapped__ cycle: signature() raises its own error later
        return func


def _plan(func: Callable[..., Any]) -> _Plan:
    try:
        cached = _PLANS[func]
    except (KeyError, TypeError):
        pass
    else:
        if cached.is_current(func):
            return cached
    source = _defaults_source(func)
    pos_defaults = getattr(source, "__defaults__", None)
    kw_defaults = tuple((getattr(source, "__kwdefaults__", None) or {}).items())
    try:
        sig = true_signature(func)
    except ValueError:  # a built-in without a signature (max): its raw arguments are the key
        sig = _RAW_ARGUMENTS
    params = sig.parameters.values()
    plan = _Plan(
        signature=sig,
        names=tuple(sig.parameters),
        defaults={p.name: p.default for p in params if p.default is not _MISSING},
        simple=all(p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for p in params),
        nparams=len(sig.parameters),
        source=source,
        pos_defaults=pos_defaults,
        kw_defaults=kw_defaults,
        code=getattr(source, "__code__", None),
        prefix=_names_prefix(tuple(sig.parameters)),
        declared=None if own_function(func) is not None else _declared(func),
    )
    try:
        if len(_PLANS) > 4096:
            _PLANS.clear()
        _PLANS[func] = plan
    except TypeError:  # an unhashable callable: just not cached
        pass
    return plan


def bind_call(
    func: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]
) -> inspect.BoundArguments:
    """Bind a call to `func`'s signature with defaults applied (TypeError if it does not
    bind, exactly as calling `func` would)."""
    plan = _plan(func)
    if plan.simple and not kwargs and len(args) == plan.nparams:  # f(1, 2): the commonest
        return inspect.BoundArguments(plan.signature, dict(zip(plan.names, args, strict=True)))
    if plan.simple and len(args) <= len(plan.names):
        arguments = dict(zip(plan.names, args, strict=False))  # fewer args than names
        used = 0
        for name in plan.names[len(args) :]:
            if name in kwargs:
                arguments[name] = kwargs[name]
                used += 1
            elif name in plan.defaults:
                arguments[name] = plan.defaults[name]
            else:
                break  # a missing argument: let inspect raise its usual TypeError
        else:
            if used == len(kwargs):
                return inspect.BoundArguments(plan.signature, arguments)
    bound = plan.signature.bind(*args, **kwargs)
    bound.apply_defaults()
    return bound


_PREFIXES: dict[tuple[str, ...], bytes] = {}
_NO_CLOSURE = b"\0" * 8
_TAG_I64 = struct.Struct("<cq").pack
_TAG_F64 = struct.Struct("<cd").pack
_TAG_LEN = struct.Struct("<cQ").pack
_SHORT_STR = 256
_ATOMS = {True: b"T", False: b"F", None: b"N"}


def _atom(value: Any) -> bytes | None:
    """The canonical encoding of a small exact int, float, str, bool or None (the same
    bytes `memokey.hashing` writes for it), or None for anything else."""
    kind = type(value)
    if kind is int:
        if -(1 << 63) <= value < (1 << 63):
            return _TAG_I64(b"i", value)
    elif kind is str:
        if len(value) <= _SHORT_STR and value.isascii():
            encoded: bytes = value.encode()
            return _TAG_LEN(b"s", len(value)) + encoded
    elif kind is float:
        return _TAG_F64(b"f", value)
    elif kind is bool or value is None:
        return _ATOMS[value]
    return None


def atom_digest(value: object) -> str | None:
    """`memokey.hashing.digest(value)` of a small exact int, float, str, bool or None
    without an encoder (the same bytes, hashed at once); None for anything else."""
    atom = _atom(value)
    return None if atom is None else xxhash.xxh3_128_hexdigest(atom)


def _atoms_digest(prefix: bytes, values: Iterable[object]) -> str | None:
    """Fast path of `call_digest` for a function without closure called with atoms only:
    one hash of the concatenated stream instead of an incremental encoder (equal digest,
    since xxh3 of a stream does not depend on how it was split into updates)."""
    parts = [prefix, _NO_CLOSURE]
    for value in values:
        atom = _atom(value)
        if atom is None:
            return None
        parts.append(atom)
    return xxhash.xxh3_128_hexdigest(b"".join(parts))


def positional_digest(
    func: Callable[..., Any], args: tuple[Any, ...]
) -> tuple[str, Callable[[], inspect.BoundArguments]] | None:
    """`call_digest(func, bind_call(func, args, {}))` without binding, for the commonest
    call: a plain function without closure, every parameter passed positionally, atoms
    only. Returns the digest and how to bind the call when someone needs the bound
    arguments (a miss's manifest); None when any of that does not hold."""
    if type(func) is not types.FunctionType or func.__closure__ is not None:
        return None
    plan = _plan(func)
    if not plan.simple or len(args) != plan.nparams:
        return None
    names = plan.names
    digest = _atoms_digest(plan.prefix, args)
    if digest is None:
        return None
    return digest, lambda: inspect.BoundArguments(
        plan.signature, dict(zip(names, args, strict=True))
    )


def _names_prefix(names: tuple[str, ...]) -> bytes:
    """What a call's digest starts with: its bound parameter names (kept per names)."""
    prefix = _PREFIXES.get(names)
    if prefix is None:
        names_enc = Encoder()
        names_enc.encode(names)
        prefix = _PREFIXES[names] = b"@" + names_enc.digest()
    return prefix


def call_digest(
    func: Callable[..., Any],
    bound: inspect.BoundArguments,
    *,
    code_classes: bool = False,
    keyfunc: object = None,
    met: set[type] | None = None,
) -> str:
    """The digest of one call: every bound argument by name, in signature order, plus
    the values of `func`'s closure cells (``make_adder(1)`` and ``make_adder(2)``
    differ). ``**kwargs`` keep their order, which the function can observe.

    `code_classes` (``code="key"``): also the code fingerprint of each first-party class
    met in the arguments, so ``process(model)`` re-keys when ``Model.predict`` is edited.
    Collected as a set while encoding (one ``set.add`` per class met) and fingerprinted
    once per class, from a cache checked like a function's. `keyfunc` (also under
    ``code="key"``): the keyfunc that made `bound`, keyed as a value (a first-party
    function by its code fingerprint): it decides which calls share a result. `met`
    receives the classes whose code was added."""
    arguments = bound.arguments
    names = tuple(arguments)
    prefix = _PREFIXES.get(names) or _names_prefix(names)
    target = getattr(func, "__func__", func)
    closure = isinstance(target, types.FunctionType) and target.__closure__
    if not closure and keyfunc is None:
        fast = _atoms_digest(prefix, arguments.values())
        if fast is not None:
            return fast
    enc = Encoder(classes=set() if code_classes else None)
    enc.write(prefix)
    if closure:
        assert isinstance(target, types.FunctionType)
        enc.enter(target)  # a closure that refers to its own function ends there
        try:
            encode_closure(enc, target)
        except Refusal as refusal:
            raise _closure_error(target, refusal) from None
        except RecursionError:
            raise _closure_error(target, Refusal(_TOO_DEEP)) from None
    else:
        enc.write(_NO_CLOSURE)
    encode = enc.encode
    name = ""
    try:
        for name, value in arguments.items():  # noqa: B007 - name is read on failure
            encode(value)
    except (Refusal, RecursionError) as failure:
        encode_or_raise(Encoder(), arguments[name], parameter=name, root=name)
        # Keyed fine the second time: the value changes as it is read. Refuse it whole.
        reason = failure.reason if isinstance(failure, Refusal) else _TOO_DEEP
        raise _argument_error(name, name, reason) from None
    if keyfunc is not None:
        _write_keyfunc(enc, keyfunc)
    if enc.classes:
        _write_class_code(enc, enc.classes)
        if met is not None:  # the caller absorbs the call's side effects on them later
            met.update(enc.classes)
    return enc.hexdigest()


def argument_classes(bound: inspect.BoundArguments) -> set[type]:
    """Every class met in the bound arguments (for checks outside the hot path)."""
    enc = Encoder(classes=set())
    for value in bound.arguments.values():
        with contextlib.suppress(Refusal, RecursionError):
            enc.encode(value)
    return enc.classes or set()


def _write_keyfunc(enc: Encoder, keyfunc: object) -> None:
    enc.write(b"k")
    try:
        enc.encode(keyfunc)
    except (Refusal, RecursionError) as failure:
        reason = failure.reason if isinstance(failure, Refusal) else _TOO_DEEP
        raise UnkeyableArgumentError(
            f"cannot key this call with its code: the keyfunc {keyfunc!r} cannot be keyed "
            f"because {reason}. Use a keyfunc defined at module level, or code='off' and a "
            "logic_key (then you own invalidation).",
            parameter=None,
            path=None,
        ) from None


def _write_class_code(enc: Encoder, classes: set[type]) -> None:
    try:
        digests = class_code_digests(classes)
    except Refusal as refusal:
        raise UnkeyableArgumentError(
            f"cannot key this call with its code: {refusal.reason}. Memoize the function "
            "with code='off' and a logic_key (then you own invalidation), or register a "
            "hasher for that class.",
            parameter=None,
            path=None,
        ) from None
    if digests:
        enc.write(b"#" + len(digests).to_bytes(8, "little") + "".join(digests).encode())


def _closure_error(func: types.FunctionType, refusal: Refusal) -> UnkeyableArgumentError:
    path = refusal.path(func.__qualname__)
    return UnkeyableArgumentError(
        f"cannot key calls to {func.__qualname__}: {path} cannot be keyed because "
        f"{refusal.reason}. Pass that value as an argument instead of closing over it "
        "(then memokey.nil_args can leave it out of the key), or define the function at "
        "module level.",
        parameter=None,
        path=path,
    )


def memo_dir(
    namespace: str,
    function_id: str,
    logic_key: str | None,
    digest: str,
    code_version: str | None = None,
) -> str:
    """``memokey-v2/{namespace}/{function_id}[@{logic_key}][={code_version}]/{digest}``
    (relative). ``=`` is in neither a logic key nor a Python name, so the parts never
    run into each other, and a shell takes the path unquoted. The function id is
    percent-encoded (``@`` and ``=`` included: a script's file name may hold them) and
    shortened when long (`names.function_segment`)."""
    check_namespace(namespace)
    suffix = f"@{logic_key}" if logic_key else ""
    if code_version:
        suffix += f"={code_version}"
    return f"{SCHEME}/{namespace}/{function_segment(function_id)}{suffix}/{digest}"


def place_salt(path_prefix: str) -> bytes:
    """What an entry's name is bound to: its namespace and function directory (the part
    of `path_prefix` after the scheme), exactly as spelled, case included."""
    return path_prefix.partition("/")[2].encode("utf-8", "surrogatepass") + b"\n"


def entry_digest(salt: bytes, arguments_digest: str) -> str:
    """The name of an entry: the argument digest bound to its function directory (see
    `place_salt`). Two functions, namespaces, logic keys or code versions whose directory
    names differ only in case (one directory on a case-insensitive file system) never
    share an entry, and an entry's name says which directory it belongs in."""
    return xxhash.xxh3_128_hexdigest(salt + arguments_digest.encode("ascii"))


@dataclass(frozen=True)
class MemoKey:
    """Where one call's result lives: ``uri`` is the full URL of its memo directory."""

    namespace: str
    function_id: str
    logic_key: str | None
    digest: str
    root_url: str
    path: str
    uri: str
    #: The code fingerprint in the path (``code="key"``), else None.
    code_version: str | None = None

    @classmethod
    def build(
        cls,
        namespace: str,
        function_id: str,
        logic_key: str | None,
        digest: str,
        root_url: str,
        code_version: str | None = None,
    ) -> MemoKey:
        path = memo_dir(namespace, function_id, logic_key, digest, code_version)
        return cls(
            namespace=namespace,
            function_id=function_id,
            logic_key=logic_key,
            digest=digest,
            root_url=root_url,
            path=path,
            uri=f"{root_url.rstrip('/')}/{path}",
            code_version=code_version,
        )
