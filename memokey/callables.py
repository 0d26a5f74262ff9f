"""What a key sees of a callable that carries its own ``self``.

A bound method (``Scale(2).apply``), a method of a built-in object (``"abc".upper``) or a
callable instance computes with the object it is bound to, so the key must see that
object: `unbind` turns such a call into a call of the plain function with the object as
its first argument, named ``self``. ``memoize(Scale(2).apply)`` and
``memoize(Scale(3).apply)`` then never share results, and ``Scale(2).apply(5)`` keys
exactly like ``Scale.apply(Scale(2), 5)``.

Used only to compute keys: the call itself always runs the callable it was given.
"""

from __future__ import annotations

import inspect
import threading
import types
from collections.abc import Callable
from typing import Any, ClassVar

__all__ = ["BuiltinMethod", "unbind"]

_FUNCTION = types.FunctionType
_MAX_BUILTIN_METHODS = 1024


def unbind(
    func: Callable[..., Any], args: tuple[Any, ...]
) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """``(function, args)`` to key a call of `func` with `args`: memokey wrappers are
    unwrapped and a bound object becomes the first argument (``self``)."""
    while type(func) is not _FUNCTION:  # a plain function (the common case) is final
        if getattr(func, "__memokey_runner__", None) is not None:  # a memoized wrapper
            func = func.__wrapped__  # type: ignore[attr-defined]
        elif isinstance(func, types.MethodType):
            args = (func.__self__, *args)
            func = func.__func__
        elif isinstance(func, types.BuiltinMethodType):
            owner = func.__self__
            if owner is None or isinstance(owner, types.ModuleType):  # a plain built-in
                break
            return BuiltinMethod.of(func), (owner, *args)
        elif not isinstance(func, type) and isinstance(
            call := inspect.getattr_static(type(func), "__call__", None), _FUNCTION
        ):  # an instance of a class with a Python __call__: the instance is its self
            return call, (func, *args)
        else:
            break
    return func, args


class BuiltinMethod:
    """Stands, in keys only, for one method of a built-in type taking its object as a
    first positional argument ``self`` (for ``"abc".upper``: ``str.upper(self, /)``).

    It never holds the object, so caches keyed by it keep nothing alive; equal for the
    same method of the same type, so ``"abc".upper`` and ``"xyz".upper`` share a storage
    directory and differ by their ``self``.
    """

    _cache: ClassVar[dict[tuple[type, str], BuiltinMethod]] = {}
    _lock = threading.Lock()

    def __init__(self, method: types.BuiltinMethodType) -> None:
        owner = method.__self__
        self.__name__ = method.__name__
        self.__qualname__ = getattr(method, "__qualname__", None) or method.__name__
        self.__module__ = (owner if isinstance(owner, type) else type(owner)).__module__
        self.__doc__ = method.__doc__
        try:
            params = list(inspect.signature(method).parameters.values())
        except ValueError:  # no signature: the raw arguments are the key
            params = [
                inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL),
                inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD),
            ]
        name = "self" if all(p.name != "self" for p in params) else "__self__"
        first = inspect.Parameter(name, inspect.Parameter.POSITIONAL_ONLY)
        self.__signature__ = inspect.Signature([first, *params])

    @classmethod
    def of(cls, method: types.BuiltinMethodType) -> BuiltinMethod:
        owner = method.__self__
        qualname = getattr(method, "__qualname__", None) or method.__name__
        key = (owner if isinstance(owner, type) else type(owner), qualname)
        found = cls._cache.get(key)
        if found is None:
            found = cls(method)
            with cls._lock:
                if len(cls._cache) >= _MAX_BUILTIN_METHODS:
                    cls._cache.clear()
                cls._cache[key] = found
        return found

    def __call__(self, owner: Any, /, *args: Any, **kwargs: Any) -> Any:
        """What this stands for: the method of `owner` called with the other arguments."""
        return getattr(owner, self.__name__)(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<method {self.__qualname__} of built-in objects, keyed with its self>"
