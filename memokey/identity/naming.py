"""Stable names for modules, classes and functions, used by keys and by the encoder.

A name is only useful in a key if another process computes the same one. Objects defined
in ``__main__`` would all be called ``__main__.x``, so two scripts' ``process()`` would
collide and a class would change name when its script is imported as a module; we use the
script's real module name instead (a notebook's file name when the kernel exposes it).
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

MAIN = "__main__"

#: Globals through which notebook kernels expose the notebook's path (Jupyter's
#: ``__session__``, VS Code's ``__vsc_ipynb_file__``).
_NOTEBOOK_GLOBALS = ("__vsc_ipynb_file__", "__session__")


def notebook_path() -> str | None:
    """The running notebook's path, when the kernel exposes it in ``__main__``."""
    main = sys.modules.get(MAIN)
    for name in _NOTEBOOK_GLOBALS:
        value = getattr(main, name, None)
        if isinstance(value, str) and value.endswith(".ipynb"):
            return value
    return None


_main_named: list[tuple[object, str]] = []


def main_module_name() -> str:
    """The real name of the running ``__main__``: ``__spec__.name`` under ``-m``, else the
    script's file stem (or the notebook's); ``__main__`` only when none exists (REPL,
    ``python -c``, stdin). Asked per keyed value: answered once per ``__main__`` object."""
    main = sys.modules.get(MAIN)
    if _main_named and _main_named[0][0] is main:
        return _main_named[0][1]
    name = _main_module_name(main)
    _main_named[:] = [(main, name)]
    return name


def _main_module_name(main: object) -> str:
    spec = getattr(main, "__spec__", None)
    name = getattr(spec, "name", None)
    if isinstance(name, str) and name:
        return name
    file = getattr(main, "__file__", None)
    if isinstance(file, str) and file:
        return Path(file).stem
    notebook = notebook_path()
    if notebook is not None:
        return Path(notebook).stem
    return MAIN


_main_seen: list[tuple[object, bool]] = []


def main_has_file() -> bool:
    """True when ``__main__`` is a file another process can import (a script or -m).
    Asked per keyed value, so answered once per ``__main__`` module object."""
    main = sys.modules.get(MAIN)
    if _main_seen and _main_seen[0][0] is main:
        return _main_seen[0][1]
    spec = getattr(main, "__spec__", None)
    file = getattr(main, "__file__", None)
    found = isinstance(getattr(spec, "name", None), str) or (
        isinstance(file, str) and bool(file) and _is_file(file)
    )
    _main_seen[:] = [(main, found)]
    return found


@functools.lru_cache(maxsize=8)
def _is_file(path: str) -> bool:
    """Whether the script exists (asked once per path: keying calls it per value)."""
    return Path(path).is_file()


def module_name(module: object) -> str:
    """`module` (a ``__module__`` value) with ``__main__`` replaced by its real name."""
    if not isinstance(module, str) or not module:
        return "<unknown>"
    return main_module_name() if module == MAIN else module


def qualified_name(obj: object) -> str:
    """``module:qualname`` of a class or function, stable across processes."""
    module = module_name(getattr(obj, "__module__", None))
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    return f"{module}:{qualname if isinstance(qualname, str) else '<anonymous>'}"
