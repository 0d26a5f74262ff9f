"""Keyfuncs: rewrite a call before it is keyed, without changing what actually runs.

A keyfunc sees a call and returns the call the *key* should describe. KeyedLocalRunner
keys on that rewritten call but, on a miss, runs the original function with the original
arguments. Two shapes are accepted:

- first parameter named ``c``: ``keyfunc(c, args, kwargs) -> (c, args, kwargs)`` where
  ``c`` is the function (the returned one is only used for the key, never called);
- anything else: ``keyfunc(*args, **kwargs) -> (args, kwargs)`` for the same function.

`nil_args("conn")` is the common case: a parameter such as a database connection that
cannot (and need not) be part of the key is replaced by ``None``.
"""

from __future__ import annotations

import contextlib
import inspect
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from memokey.callables import unbind
from memokey.errors import ConfigurationError, KeyfuncError
from memokey.keys import bind_call
from memokey.signatures import true_signature

__all__ = ["AnyKeyfunc", "Keyfunc", "NilArgs", "apply_keyfunc", "check_keyfunc", "nil_args"]

Call = tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]


@runtime_checkable
class Keyfunc(Protocol):
    """A keyfunc whose first parameter is named ``c``: returns ``(c, args, kwargs)``."""

    def __call__(
        self, c: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], /
    ) -> Call: ...


# A plain keyfunc takes the call's own arguments and returns (args, kwargs).
AnyKeyfunc = Keyfunc | Callable[..., tuple[tuple[Any, ...], dict[str, Any]]]

_signatures: weakref.WeakKeyDictionary[Callable[..., Any], inspect.Signature] = (
    weakref.WeakKeyDictionary()
)


def signature_of(func: Callable[..., Any]) -> inspect.Signature:
    """`memokey.signatures.true_signature` (what `func` really receives, as arguments are
    bound), cached per function, for its *shape* only (parameter names and kinds): the
    cache does not follow reassigned defaults or code, so arguments are bound with
    `memokey.keys.bind_call`, which does."""
    try:
        return _signatures[func]
    except (KeyError, TypeError):
        pass
    sig = true_signature(func)
    with contextlib.suppress(TypeError):  # not weak-referenceable (a builtin): don't cache
        _signatures[func] = sig
    return sig


def _name(obj: object) -> str:
    return str(getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or obj)


_takes: weakref.WeakKeyDictionary[Callable[..., Any], bool] = weakref.WeakKeyDictionary()


def _takes_c(keyfunc: Callable[..., Any]) -> bool:
    """Whether `keyfunc` declares ``c`` first (its declared signature: a keyfunc wrapped
    by a ``functools.wraps`` decorator keeps the shape of the one it wraps)."""
    try:
        return _takes[keyfunc]
    except (KeyError, TypeError):
        pass
    try:
        params = list(inspect.signature(keyfunc).parameters.values())
    except (TypeError, ValueError):
        return False
    takes = bool(params) and params[0].name == "c"
    with contextlib.suppress(TypeError):  # not weak-referenceable: don't cache
        _takes[keyfunc] = takes
    return takes


class NilArgs:
    """The keyfunc made by `nil_args`: named parameters become ``None`` in the key."""

    def __init__(self, names: tuple[str, ...]) -> None:
        if not names:
            raise ConfigurationError(
                "nil_args() needs at least one parameter name, e.g. nil_args('conn')"
            )
        for name in names:
            if not isinstance(name, str) or not name.isidentifier():
                raise ConfigurationError(
                    f"nil_args() takes parameter names as strings, got {name!r}; write e.g. "
                    "nil_args('conn', 'verbose')"
                )
        self.names = names

    def __repr__(self) -> str:
        return f"nil_args({', '.join(map(repr, self.names))})"

    def check(self, func: Callable[..., Any]) -> None:
        """Refuse, at decoration time, a name that `func` can never receive."""
        try:
            params = signature_of(func).parameters
        except ValueError as exc:  # a built-in without a signature (max)
            raise KeyfuncError(
                f"{self!r} cannot find the parameters of {_name(func)}: it has "
                "no signature. Wrap it in a def with named parameters and memoize that",
                argument=self.names[0],
            ) from exc
        has_var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
        for name in self.names:
            param = params.get(name)
            if param is None and _declared_positional(func, name, params):
                raise KeyfuncError(
                    f"nil_args({name!r}): {_name(func)} declares {name!r} (through "
                    "__wrapped__ or __signature__) but its own code takes *args, and "
                    "memokey keys the arguments a function really receives, so a "
                    f"{name!r} passed positionally would be keyed. Memoize the function it "
                    "wraps instead (put @memoize below the other decorator)",
                    argument=name,
                )
            if param is None and not has_var_kw:
                raise KeyfuncError(
                    f"nil_args({name!r}) names no parameter of {_name(func)}"
                    f"{signature_of(func)}; use one of its parameter names: "
                    f"{', '.join(params) or '(it takes none)'}",
                    argument=name,
                )
            if param is not None and param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise KeyfuncError(
                    f"nil_args({name!r}) names the variadic parameter of {_name(func)}; "
                    "name the individual keyword arguments instead",
                    argument=name,
                )

    def __call__(
        self, c: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], /
    ) -> Call:
        bound = bind_call(c, args, kwargs)  # a TypeError here is the call's own mistake
        sig = bound.signature
        var_kw = next((p.name for p in sig.parameters.values() if p.kind is p.VAR_KEYWORD), None)
        for name in self.names:
            param = sig.parameters.get(name)
            if param is not None and param.kind not in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                bound.arguments[name] = None
            elif var_kw is not None and name in bound.arguments.get(var_kw, {}):
                bound.arguments[var_kw] = {**bound.arguments[var_kw], name: None}
        return c, bound.args, bound.kwargs


def _declared_positional(
    func: Callable[..., Any], name: str, params: Mapping[str, inspect.Parameter]
) -> bool:
    """Whether `func` takes ``*args`` but only *declares* `name` as a positional
    parameter (a ``functools.wraps`` wrapper): nil_args could not find it in ``*args``."""
    if not any(p.kind is p.VAR_POSITIONAL for p in params.values()):
        return False
    try:
        declared = inspect.signature(func).parameters.get(name)
    except (TypeError, ValueError):
        return False
    return declared is not None and declared.kind in (
        declared.POSITIONAL_ONLY,
        declared.POSITIONAL_OR_KEYWORD,
    )


def nil_args(*names: str) -> NilArgs:
    """A keyfunc keying the named parameters as ``None`` however they were passed.

    ``nil_args("conn")`` makes ``q(c1, "t")``, ``q(c2, "t", limit=3)`` and
    ``q(conn=c1, tbl_name="t")`` share one key. Names are checked against the function
    when it is decorated.
    """
    return NilArgs(names)


def check_keyfunc(keyfunc: AnyKeyfunc, func: Callable[..., Any]) -> None:
    """Run the keyfunc's own decoration-time check (such as `NilArgs.check`), if any."""
    check = getattr(keyfunc, "check", None)
    if callable(check):
        check(func)


def apply_keyfunc(
    keyfunc: AnyKeyfunc, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Callable[..., Any], inspect.BoundArguments]:
    """Rewrite a call with `keyfunc`; return the function to key and its bound arguments.

    The arguments returned must bind to the returned function's signature; if not,
    `KeyfuncError` says which argument failed. Defaults are applied to the result.
    """
    if _takes_c(keyfunc):
        out: Any = keyfunc(func, args, kwargs)
        if not (isinstance(out, tuple) and len(out) == 3):
            raise _shape_error(keyfunc, "a (c, args, kwargs) tuple", out)
        key_func, key_args, key_kwargs = out
        if not callable(key_func):
            raise _shape_error(keyfunc, "a callable as c", key_func)
        if key_func is not func and isinstance(key_args, (tuple, list)):
            key_func, key_args = unbind(key_func, tuple(key_args))  # a bound object: `self`
    else:
        out = keyfunc(*args, **kwargs)
        if not (isinstance(out, tuple) and len(out) == 2):
            raise _shape_error(keyfunc, "an (args, kwargs) tuple", out)
        key_func = func
        key_args, key_kwargs = out
    if not isinstance(key_args, (tuple, list)):
        raise _shape_error(keyfunc, "args as a tuple or list", key_args)
    if not isinstance(key_kwargs, Mapping) or not all(isinstance(k, str) for k in key_kwargs):
        raise _shape_error(keyfunc, "kwargs as a dict with str keys", key_kwargs)
    return key_func, _bind(keyfunc, key_func, tuple(key_args), dict(key_kwargs))


def _bind(
    keyfunc: object, func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> inspect.BoundArguments:
    try:
        return bind_call(func, args, kwargs)
    except TypeError as exc:
        sig = signature_of(func)
        argument = _failed_argument(sig, args, str(exc))
        which = f" (the failing argument: {argument})" if argument else ""
        raise KeyfuncError(
            f"keyfunc {_name(keyfunc)} returned arguments that do not bind to "
            f"{_name(func)}{sig}: {exc}{which}. Make the keyfunc return arguments that "
            f"{_name(func)} accepts",
            argument=argument,
        ) from exc


def _failed_argument(sig: inspect.Signature, args: tuple[Any, ...], message: str) -> str | None:
    """The argument a bind error is about: quoted in the message, or the first extra one."""
    if "'" in message:
        return message.split("'")[1]
    positional = [
        p for p in sig.parameters.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if len(args) > len(positional):
        return f"positional argument #{len(positional) + 1}"
    return None


def _shape_error(keyfunc: object, wanted: str, got: object) -> KeyfuncError:
    return KeyfuncError(
        f"keyfunc {_name(keyfunc)} must return {wanted}, got {type(got).__qualname__}: "
        f"{got!r:.200}. A keyfunc whose first parameter is named c returns (c, args, kwargs); "
        "any other keyfunc returns (args, kwargs)",
        argument=None,
    )
