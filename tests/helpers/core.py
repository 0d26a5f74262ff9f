"""Helpers for the core's tests: unique roots, importable throwaway modules, subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from pathlib import Path

__all__ = ["REPO_ROOT", "memory_root", "run_python", "write_module"]

REPO_ROOT = Path(__file__).resolve().parents[2]


def memory_root() -> str:
    """A fresh memory:// root: the memory filesystem is process-global, so never share one."""
    return f"memory://memokey-test-{uuid.uuid4().hex[:12]}"


def write_module(directory: Path, source: str) -> str:
    """Write `source` as a uniquely named module in `directory`; return the module name.

    Memoized functions need a real module (their key names it) that a second process can
    import too; the unique name keeps tests from sharing keys.
    """
    name = f"memokey_testmod_{uuid.uuid4().hex[:10]}"
    (directory / f"{name}.py").write_text(textwrap.dedent(source))
    return name


def run_python(
    code: str, *, path: Path | None = None, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter (the test venv's) with `path` importable."""
    full_env = {**os.environ, **(env or {})}
    if path is not None:
        full_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(path), full_env.get("PYTHONPATH", "")) if p
        )
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )


def script_runner(source: str, directory: Path, name: str) -> Callable[..., str]:
    """Write `source` as the script `directory/name`; the returned function runs it in a
    fresh interpreter with the given arguments and gives its stripped output (it raises
    if the script failed)."""
    script = directory / name
    script.write_text(textwrap.dedent(source))

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, str(script), *args],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return done.stdout.strip()

    return run
