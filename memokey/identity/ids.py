"""Function ids and logic keys: the names under which a function's results are stored.

A name identifies code only when it round-trips the way pickle's does: importing the
module and walking the qualname gives back the very same object. Lambdas, nested
functions, ``exec``'d code and functions of a file-less ``__main__`` (REPL, ``python -c``,
stdin, notebooks) fail that test, so their keys always carry the code fingerprint.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import Any

from memokey.errors import ConfigurationError
from memokey.identity.naming import MAIN, main_has_file, module_name
from memokey.names import check_logic_key

__all__ = [
    "LOGIC_KEY_ATTR",
    "function_id",
    "has_stable_name",
    "logic_key_of",
    "round_trips",
]

_LOGIC_KEY_LINE = re.compile(r"^\s*function-logic-key:(.*)$", re.MULTILINE)
#: Attribute a decorator may set on its wrapper to carry an explicit ``logic_key=``.
LOGIC_KEY_ATTR = "__memokey_logic_key__"


def function_id(func: Callable[..., Any]) -> str:
    """``{module}--{qualname}``; a function of ``__main__`` gets the script's real module
    name, so two scripts' ``process()`` never share results."""
    target = getattr(func, "__func__", func)  # a bound method: its function
    qualname = getattr(target, "__qualname__", None) or getattr(target, "__name__", None)
    if not isinstance(qualname, str):
        raise ConfigurationError(
            f"cannot name {func!r} for a key: it has no __qualname__; memoize a plain "
            "function or method"
        )
    return f"{module_name(getattr(target, '__module__', None))}--{qualname}"


def logic_key_of(func: Callable[..., Any], explicit: str | None = None) -> str | None:
    """The function's logic key: `explicit`, else the wrapper attribute set by a
    decorator, else a ``function-logic-key: X`` docstring line, else None."""
    key = explicit if explicit is not None else getattr(func, LOGIC_KEY_ATTR, None)
    if key is None:
        doc = getattr(func, "__doc__", None)
        match = _LOGIC_KEY_LINE.search(doc) if isinstance(doc, str) else None
        key = match.group(1).strip() if match else None  # malformed: refused below
    return None if key is None else check_logic_key(key, func)


def _lookup(obj: object) -> object:
    """What importing ``obj.__module__`` and walking ``obj.__qualname__`` gives (without
    importing anything new: an object whose module is not loaded cannot round-trip)."""
    module_name_ = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(module_name_, str) or not isinstance(qualname, str):
        return None
    if module_name_ == MAIN and not main_has_file():
        return None  # a REPL, `python -c`, stdin or a notebook: no other process has it
    found: object = sys.modules.get(module_name_)
    for part in qualname.split("."):
        if found is None or part.startswith("<"):
            return None
        found = getattr(found, part, None)
    return found


def round_trips(obj: object) -> bool:
    """True when `obj` is what its ``module:qualname`` names (pickle's rule for
    references); False for factory classes, lambdas, nested or shadowed functions."""
    try:
        return _lookup(obj) is obj
    except Exception:  # a module's __getattr__ may raise anything
        return False


def has_stable_name(func: Callable[..., Any]) -> bool:
    """`round_trips` for a memoized function: its name may lead to a wrapper of it (the
    memoizing decorator replaced it in its module), which names it just as well."""
    try:
        found = _lookup(func)
    except Exception:
        return False
    for _ in range(16):
        if found is func:
            return True
        found = getattr(found, "__wrapped__", None)
        if found is None:
            return False
    return False
