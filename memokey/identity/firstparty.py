"""First-party code: the user's own modules, as opposed to the standard library and
installed distributions. The fingerprint walks first-party code and stops at the rest,
which contributes its qualified name only (a library upgrade does not re-key).
"""

from __future__ import annotations

import contextlib
import functools
import os
import site
import sys
import sysconfig
import types
from pathlib import Path

from memokey.identity.naming import MAIN

__all__ = ["is_first_party", "is_first_party_module"]

#: memokey itself is a library, wherever it is installed from.
_OWN_PACKAGES = frozenset({"memokey", "memokey_backends"})


@functools.cache
def _library_dirs() -> tuple[str, ...]:
    dirs: set[str] = set()
    for name in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(name)
        if path:
            dirs.add(path)
    with contextlib.suppress(AttributeError):  # some virtualenv layouts lack it
        dirs.update(site.getsitepackages())
    user = getattr(site, "USER_SITE", None)
    if isinstance(user, str):
        dirs.add(user)
    dirs.add(os.path.dirname(os.__file__))
    return tuple(sorted(str(Path(d).resolve()) + os.sep for d in dirs))


@functools.lru_cache(maxsize=4096)
def _file_is_first_party(file: str) -> bool:
    resolved = str(Path(file).resolve())
    parts = Path(resolved).parts
    if "site-packages" in parts or "dist-packages" in parts:
        return False
    return not any(resolved.startswith(d) for d in _library_dirs())


def is_first_party_module(name: object) -> bool:
    """Whether the module called `name` is the user's own code."""
    if not isinstance(name, str) or not name:
        return False
    if name == MAIN:
        return True
    top = name.partition(".")[0]
    if top in _OWN_PACKAGES or top in sys.stdlib_module_names or top == "builtins":
        return False
    module = sys.modules.get(name)
    file = getattr(module, "__file__", None)
    if not isinstance(file, str):
        # exec'd code, a module object made by hand: nothing installed it, so it is
        # the user's; a built-in or namespace module has no file and is not.
        return module is None or not isinstance(module, types.ModuleType)
    return _file_is_first_party(file)


def is_first_party(obj: object) -> bool:
    """Whether a function or class was defined by first-party code. A function's code
    knows its file even when its module does not exist (``exec``, ``python -c``)."""
    module = getattr(obj, "__module__", None)
    code = getattr(obj, "__code__", None)
    if isinstance(obj, types.FunctionType) and isinstance(code, types.CodeType):
        top = module.partition(".")[0] if isinstance(module, str) else ""
        if top in _OWN_PACKAGES or top in sys.stdlib_module_names:
            return False
        file = code.co_filename
        return file.startswith("<") or _file_is_first_party(file)
    return is_first_party_module(module)
