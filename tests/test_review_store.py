"""An outside review of the storage hardening (issue 11), on the real emulators.

Each test names a behaviour that was seen going wrong, or that a reviewer tried to break
and that must keep holding.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import memokey

Location = tuple[str, dict[str, Any]]

# Module names a script's file name gives (the stem becomes the module part of the
# function id): every one of them must be memoizable, on every backend.
SCRIPT_MODULES = [
    "run[1]",
    "a?b",
    "100%",
    "x%3F",  # must not collide with "x?"
    "x?",
    "notes#2",
    "star*",
    "back\\slash",
    "tab\tname",
    "café_ünïcode",
    "with space",
]


CALLS: list[int] = []


def _job(x: int) -> int:
    CALLS.append(x)
    return x * 2


def _function_in(module: str) -> Callable[[int], int]:
    """`_job` as the function `job` of the module `module` (what a script of that name
    defines); it records its calls in `CALLS` (a global: not part of the key)."""
    job = types.FunctionType(_job.__code__, globals(), "job")
    job.__module__ = module
    job.__qualname__ = "job"
    return job


@pytest.mark.parametrize("module", SCRIPT_MODULES)
def test_functions_of_scripts_with_any_file_name_can_be_memoized(
    store_root: Location, module: str
) -> None:
    url, options = store_root
    CALLS.clear()
    job = memokey.memoize(url, storage_options=options, namespace="review")(_function_in(module))
    assert job(21) == 42
    assert job(21) == 42
    assert CALLS == [21]
    key = job.key_for(21)
    assert key.function_id == f"{module}--job"  # the id keeps the real name


def test_function_ids_that_differ_never_share_a_store_path(memory_root: Location) -> None:
    url, _ = memory_root
    paths = {
        memokey.memoize(url)(_function_in(module)).key_for(1).path for module in SCRIPT_MODULES
    }
    assert len(paths) == len(SCRIPT_MODULES)


def test_a_module_name_with_a_slash_stays_one_path_segment(memory_root: Location) -> None:
    url, _ = memory_root
    key = memokey.memoize(url)(_function_in("a/../../b")).key_for(1)
    assert key.path.split("/")[2] != "a"
    assert len(key.path.split("/")) == 4


def test_a_script_named_like_a_glob_pattern_is_memoized_across_processes(tmp_path: Path) -> None:
    script = tmp_path / "run[1].py"
    script.write_text(
        textwrap.dedent(
            f"""
            import memokey

            @memokey.memoize({(tmp_path / "root").as_uri()!r})
            def job(x):
                print("computed")
                return x + 1

            print(job(1))
            """
        )
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    outputs = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout.split())
    assert outputs == [["computed", "2"], ["2"]]


def test_a_script_name_with_an_at_sign_never_reaches_another_functions_logic_key(
    memory_root: Location,
) -> None:
    url, _ = memory_root
    plain = memokey.memoize(url)(_function_in("m--job@v2"))  # script "m--job@v2.py"
    versioned = memokey.memoize(url, logic_key="v2--job")(_function_in("m"))
    assert plain.key_for(1).path != versioned.key_for(1).path
