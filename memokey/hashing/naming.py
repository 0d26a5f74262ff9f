"""Stable names for modules, classes and functions, used by keys and by the encoder.

A name is only useful in a key if another process computes the same one. Objects defined
in ``__main__`` would all be called ``__main__.x``, so two scripts' ``process()`` would
collide and a class would change name when its script is imported as a module; we use the
script's real module name instead.
"""

from __future__ import annotations

import sys
from pathlib import Path

MAIN = "__main__"


def main_module_name() -> str:
    """The real name of the running ``__main__``: ``__spec__.name`` under ``-m``, else the
    script's file stem; ``__main__`` only when neither exists (an interactive session)."""
    main = sys.modules.get(MAIN)
    spec = getattr(main, "__spec__", None)
    name = getattr(spec, "name", None)
    if isinstance(name, str) and name:
        return name
    file = getattr(main, "__file__", None)
    if isinstance(file, str) and file:
        return Path(file).stem
    return MAIN


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
