"""Real modules written to a temporary directory, imported, edited and reloaded: how a
user's code changes between runs, without mocking anything."""

from __future__ import annotations

import importlib
import sys
import textwrap
import types
import uuid
from pathlib import Path


class ModuleWriter:
    """Write ``name.py`` files under `directory` (on ``sys.path``) and import them."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.prefix = f"m{uuid.uuid4().hex[:8]}_"  # module names unique to this test

    def name(self, short: str) -> str:
        return self.prefix + short

    def write(self, short: str, source: str) -> types.ModuleType:
        """Write (or rewrite) a module and return it freshly (re)loaded."""
        name = self.name(short)
        path = self.directory / f"{name}.py"
        path.write_text(textwrap.dedent(source).replace("PREFIX_", self.prefix))
        importlib.invalidate_caches()
        if name in sys.modules:
            return importlib.reload(sys.modules[name])
        return importlib.import_module(name)
