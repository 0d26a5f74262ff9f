"""The parameters a callable really receives, for binding a call to its key.

`inspect.signature` honours ``__signature__`` and follows ``__wrapped__``: what a callable
*claims* to take. A plain function's claim can be false (``f.__signature__`` reordering
``def f(a, b)``, a ``functools.wraps`` wrapper that does not forward ``*args`` as they
came), and binding by a false claim keys two different calls alike: a false hit. So a
plain function is bound by its own code, defaults and keyword defaults, which are what
Python itself binds a call with; other callables (built-ins, classes, partials) only have
their claim.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from typing import Any

__all__ = ["own_function", "true_signature"]

_FUNCTION = types.FunctionType


def own_function(func: object) -> types.FunctionType | None:
    """The plain function whose own code receives a call of `func`: `func` itself, or a
    bound method's or static method's ``__func__``; None for any other callable."""
    if type(func) is _FUNCTION:
        return func
    if isinstance(func, (types.MethodType, staticmethod)):
        inner = func.__func__
        if type(inner) is _FUNCTION:
            return inner
    return None


def true_signature(func: Callable[..., Any]) -> inspect.Signature:
    """How Python binds a call of `func`: for a plain function, from ``__code__``,
    ``__defaults__`` and ``__kwdefaults__`` alone (no annotations: keys never read them);
    for a bound method of one, the same without its first parameter (the object); for
    anything else, `inspect.signature` (ValueError when it has none, like ``max``)."""
    own = own_function(func)
    if own is None:
        return inspect.signature(func)
    sig = _code_signature(own)
    if not isinstance(func, types.MethodType):
        return sig
    params = list(sig.parameters.values())
    if not params or params[0].kind is inspect.Parameter.KEYWORD_ONLY:
        raise ValueError(f"invalid method signature: {func!r} has no parameter for its object")
    if params[0].kind is not inspect.Parameter.VAR_POSITIONAL:  # ``*args`` takes it and stays
        params = params[1:]
    return sig.replace(parameters=params)


def _code_signature(func: types.FunctionType) -> inspect.Signature:
    bare = _FUNCTION(func.__code__, {}, func.__name__, func.__defaults__, func.__closure__)
    bare.__kwdefaults__ = func.__kwdefaults__
    return inspect.signature(bare, follow_wrapped=False)
