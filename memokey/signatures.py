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

__all__ = ["class_factory", "code_owner", "own_function", "true_signature"]

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


def code_owner(func: object) -> types.FunctionType | None:
    """The plain function whose own code binds a call of `func`: `own_function`, else
    the plain function a wrapper that declares no ``__signature__`` of its own reaches
    through ``__wrapped__`` (``functools.lru_cache``, ``functools.cache``: a C wrapper
    that passes the call on as given), as `inspect.signature` would, which would then
    believe that function's ``__signature__`` (or the copy of it on the wrapper); None
    when there is none."""
    own = own_function(func)
    if isinstance(func, type):
        return _misled_factory(func)
    if own is not None or isinstance(func, (types.MethodType, staticmethod)):
        return own
    try:
        end = inspect.unwrap(
            func,  # type: ignore[arg-type]
            stop=lambda f: own_function(f) is not None or _declares_own_signature(f),
        )
    except ValueError:  # a __wrapped__ cycle: inspect.signature raises its own error
        return None
    return None if end is func else own_function(end)


def _declares_own_signature(func: object) -> bool:
    """Whether `func` carries a ``__signature__`` that is not just a copy of the one its
    ``__wrapped__`` carries (``functools.update_wrapper`` copies the wrapped ``__dict__``,
    so a cached function's lie lands on its wrapper too)."""
    signature = getattr(func, "__signature__", None)
    if signature is None:
        return False
    wrapped = getattr(func, "__wrapped__", None)
    return wrapped is None or getattr(wrapped, "__signature__", None) is not signature


def class_factory(cls: type) -> object:
    """What `inspect.signature` reads a class's parameters from: its metaclass
    ``__call__`` when one is defined in Python, else the first own ``__new__`` or
    ``__init__`` up the MRO that is not a built-in; None when neither (a built-in)."""
    call = inspect.getattr_static(type(cls), "__call__", None)
    if call is not type.__call__ and not _builtin(call):
        return type(cls).__call__
    for base in cls.__mro__:
        for name in ("__new__", "__init__"):
            if name in vars(base) and not _builtin(vars(base)[name]):
                return getattr(cls, name)
    return None


def _misled_factory(cls: type) -> types.FunctionType | None:
    """For a class, the plain function `class_factory` finds (it receives the call's
    arguments after the class or object) when that function carries a ``__signature__``
    or ``__wrapped__`` that inspect would believe; None otherwise (then inspect's own
    answer stands, so honest classes key as they did)."""
    if getattr(cls, "__signature__", None) is not None:  # the class declares it
        return None
    factory = own_function(class_factory(cls))
    if factory is None or _declared_none(factory):
        return None
    return factory


def _builtin(attr: object) -> bool:
    return isinstance(
        attr,
        (
            types.WrapperDescriptorType,
            types.MethodWrapperType,
            types.ClassMethodDescriptorType,
            types.BuiltinFunctionType,
        ),
    )


def _declared_none(func: types.FunctionType) -> bool:
    return getattr(func, "__signature__", None) is None and not hasattr(func, "__wrapped__")


def true_signature(func: Callable[..., Any]) -> inspect.Signature:
    """How Python binds a call of `func`: for a plain function, from ``__code__``,
    ``__defaults__`` and ``__kwdefaults__`` alone (no annotations: keys never read them);
    for a bound method of one, the same without its first parameter (the object); for a
    wrapper that passes calls to one (`code_owner`), that one's; for anything else,
    `inspect.signature` (ValueError when it has none, like ``max``)."""
    if isinstance(func, types.MethodType) and own_function(func) is None:
        sig = true_signature(func.__func__)
    elif isinstance(func, type):
        factory = _misled_factory(func)
        if factory is None:
            return inspect.signature(func)
        sig = _code_signature(factory)  # its first parameter is the class or object
    else:
        own = code_owner(func)
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
    defaults = func.__defaults__
    positional = func.__code__.co_argcount
    if defaults is not None and len(defaults) > positional:
        # Python binds the *last* ones (``f.__defaults__ = (1, 2, 3)`` on ``f(a, b)``
        # makes ``f()`` ``f(2, 3)``); inspect would give the first ones to the last
        # parameters (b=1), keying ``f(5)`` like ``f(5, 1)``.
        defaults = defaults[len(defaults) - positional :]
    bare = _FUNCTION(func.__code__, {}, func.__name__, defaults, func.__closure__)
    bare.__kwdefaults__ = func.__kwdefaults__
    return inspect.signature(bare, follow_wrapped=False)
