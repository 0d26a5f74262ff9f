"""What pickle would rebuild an object from, read so that the answer is a property of the
value alone, never of the process's history.

Two things in plain ``pickle`` depend on history. ``copyreg.dispatch_table`` is global:
importing a library can register reducers for types it does not own (``import
dask.distributed`` registers hundreds, for every exception class among others), so the
same value would reduce differently before and after that import. Only reducers that
the type's own package (or ``copyreg`` itself) registered are honoured here. And a
built-in exception reduces to ``(cls, args, {})`` once its ``__dict__`` has merely been
read, ``(cls, args)`` before; both rebuild the same exception, so the empty state is
dropped. Likewise the values ``functools.cached_property`` stores in an instance once
read are not part of its state.
"""

from __future__ import annotations

import contextlib
import copyreg
import importlib
import sys
import types
import weakref
from typing import Any, cast

from memokey.hashing.class_caches import cached_property_names
from memokey.hashing.core import Refusal, exception_text

_FUNCTIONS = (types.FunctionType, types.BuiltinFunctionType)


def reduce_value(obj: object) -> str | tuple[Any, ...]:
    """``obj``'s reduction: a global's name, or a checked tuple of 2 to 6 items."""
    cls = type(obj)
    reducer = copyreg.dispatch_table.get(cls)
    try:
        if reducer is not None and _registered_by_owner(cls, reducer):
            reduced = reducer(obj)
        else:
            reduced = obj.__reduce_ex__(5)
    except Refusal:
        raise
    except Exception as exc:
        reason = exception_text(exc)
        raise Refusal(f"a {_name(cls)} cannot be reduced to a value ({reason})") from exc
    if isinstance(reduced, str):
        return reduced
    reduced = _checked(cls, reduced)
    if len(reduced) < 3:
        return reduced
    builtin_exception, cached = _facts(cls)
    if builtin_exception and _empty_state(reduced):
        return reduced[:2]
    if cached:
        return (*reduced[:2], _without(reduced[2], cached), *reduced[3:])
    return _without_nested_caches(obj, reduced)


def _without_nested_caches(obj: object, reduced: tuple[Any, ...]) -> tuple[Any, ...]:
    """A custom state that carries the instance's own ``__dict__`` under ``"__dict__"``
    (pydantic models do): the ``cached_property`` values in it are the same cache."""
    state = reduced[2]
    if type(state) is not dict:
        return reduced
    nested = state.get("__dict__")
    own: object = getattr(obj, "__dict__", None)
    if not isinstance(nested, dict) or nested is not own:
        return reduced
    names = cached_property_names(type(obj))
    if names.isdisjoint(nested):
        return reduced
    state = {**state, "__dict__": {k: v for k, v in nested.items() if k not in names}}
    return (*reduced[:2], state, *reduced[3:])


#: Per class: (pickles with a built-in exception's reduce, its cached_property names).
_FACTS: weakref.WeakKeyDictionary[type, tuple[bool, frozenset[str]]] = weakref.WeakKeyDictionary()


def _facts(cls: type) -> tuple[bool, frozenset[str]]:
    try:
        return _FACTS[cls]
    except (KeyError, TypeError):
        pass
    cached = cached_property_names(cls) if _default_state(cls) else frozenset()
    facts = (issubclass(cls, BaseException) and _builtin_reduce(cls), cached)
    with contextlib.suppress(TypeError):  # not weakly referenceable: computed each time
        _FACTS[cls] = facts
    return facts


def _default_state(cls: type) -> bool:
    """True when `cls` pickles its ``__dict__`` as it is (no custom state methods), so a
    cached property's value in the state is exactly the cache and nothing else."""
    return all(
        getattr(cls, name, None) is getattr(object, name, None)
        for name in ("__reduce_ex__", "__reduce__", "__getstate__")
    )


def _without(state: object, names: frozenset[str]) -> object:
    """`state` less the values ``functools.cached_property`` stored in the instance's
    ``__dict__`` (computed from the rest, and present only once they have been read)."""
    if type(state) is dict:
        if names.isdisjoint(state):
            return state
        return {k: v for k, v in state.items() if k not in names} or None
    if type(state) is tuple and len(state) == 2 and type(state[0]) is dict:
        return (_without(state[0], names), state[1])
    return state


def check_global(obj: object, name: str) -> None:
    """Refuse `obj` unless the global `name` it reduces to is `obj` itself (pickle's own
    rule): otherwise that name stands for another object, or for nothing."""
    module = getattr(obj, "__module__", None)
    if not isinstance(module, str):
        module = "builtins"  # Ellipsis, NotImplemented: built-ins have no __module__
    found: object = _lookup(module, name)
    if found is not obj:
        raise Refusal(
            f"its __reduce_ex__ names the global {module}.{name}, which is "
            f"{'missing' if found is _ABSENT else 'another object'}; give "
            f"{_name(type(obj))} a __reduce__ that returns its state, or register a hasher"
        )


_ABSENT = object()


def _lookup(module: str, name: str) -> object:
    try:
        found: object = sys.modules.get(module) or importlib.import_module(module)
        for part in name.split("."):
            found = getattr(found, part)
    except Exception:
        return _ABSENT
    return found


def _registered_by_owner(cls: type, reducer: object) -> bool:
    """True when the reducer comes from the type's own top-level package (``re`` for
    ``re.Pattern``, numpy for ufuncs) or from ``copyreg``, which registers its own at
    interpreter start-up."""
    if not isinstance(reducer, _FUNCTIONS):
        return False
    where = getattr(reducer, "__module__", None)
    if not isinstance(where, str):
        return False
    owner = getattr(cls, "__module__", None)
    top = where.partition(".")[0]
    return top == "copyreg" or (isinstance(owner, str) and owner.partition(".")[0] == top)


def _checked(cls: type, reduced: object) -> tuple[Any, ...]:
    """`reduced` after pickle's own checks; a refusal that says what was wrong."""
    problem = None
    if not isinstance(reduced, tuple):
        problem = f"returned {_short(reduced)}, not a str or a tuple"
    elif not 2 <= len(reduced) <= 6:
        problem = f"returned a tuple of {len(reduced)} items, not 2 to 6"
    elif not callable(reduced[0]):
        problem = f"returned {_short(reduced[0])} as its constructor, which is not callable"
    elif not isinstance(reduced[1], tuple):
        problem = f"returned {_short(reduced[1])} as its arguments, which is not a tuple"
    if problem is not None:
        raise Refusal(
            f"its __reduce_ex__ {problem} (see the pickle documentation of __reduce__); "
            f"fix {_name(cls)}.__reduce_ex__"
        )
    return cast("tuple[Any, ...]", reduced)


def _builtin_reduce(cls: type) -> bool:
    """True when ``cls`` pickles with a built-in exception's ``__reduce__``."""
    for base in cls.__mro__:
        if "__reduce__" in vars(base) or "__reduce_ex__" in vars(base):
            return base.__module__ == "builtins" and base is not object
    return False


def _empty_state(reduced: tuple[Any, ...]) -> bool:
    return len(reduced) == 3 and type(reduced[2]) is dict and not reduced[2]


def _name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _short(value: object) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 40 else text[:37] + "..."
