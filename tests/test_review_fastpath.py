"""Outside review of the tiny-hit fast path (`memokey.keys.positional_digest`, the
signature plan, `memokey._decoded`): ways a call could be answered with another call's
result. Each test is a false hit found in review, or a probe of one that must not exist."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import memokey

def test_a_function_whose_code_is_replaced_binds_calls_by_its_new_parameters(
    tmp_path: Path,
) -> None:
    def f(a: Any, b: Any) -> tuple[str, Any, Any]:
        return ("a", a, b)

    def g(b: Any, a: Any) -> tuple[str, Any, Any]:
        return ("a", a, b)

    memo = memokey.memoize(tmp_path.as_uri())(f)
    for _ in range(3):
        assert memo(1, 2) == ("a", 1, 2)  # the plan for (a, b) is warm
    f.__code__ = g.__code__  # now f(b, a)
    assert memo(2, 1) == ("a", 1, 2)  # b=2, a=1
    assert memo(a=2, b=1) == ("a", 2, 1)  # not the entry of f(2, 1)
    assert memo(b=2, a=1) == ("a", 1, 2)  # f(2, 1) again: a hit of the same call


_PROCESS = """
import sys
import memokey

def f(a, b):
    return ("a", a, b, "computed by", sys.argv[2])

def g(b, a):
    return ("a", a, b, "computed by", sys.argv[2])

memo = memokey.memoize(sys.argv[1], code="off", logic_key="v1")(f)
memo(10, 20)
memo(10, 20)  # warm: the signature plan is cached for (a, b)
f.__code__ = g.__code__
if sys.argv[2] == "positional":
    print(repr(memo(2, 1)))
else:
    print(repr(memo(a=2, b=1)))
"""


def test_processes_that_replace_a_functions_code_never_read_each_others_other_calls(
    tmp_path: Path,
) -> None:
    script = tmp_path / "swap.py"
    script.write_text(textwrap.dedent(_PROCESS))
    root = (tmp_path / "root").as_uri()

    def run(how: str) -> str:
        done = subprocess.run(
            [sys.executable, str(script), root, how],
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return done.stdout.strip()

    # code="off" with one logic key: both processes share a directory (the user says
    # the logic did not change); f(2, 1) and f(a=2, b=1) are still different calls.
    assert run("positional") == repr(("a", 1, 2, "computed by", "positional"))
    assert run("keyword") == repr(("a", 2, 1, "computed by", "keyword"))
