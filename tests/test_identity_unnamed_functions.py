"""Functions whose name does not say which code they are (lambdas, nested functions,
``exec``'d code, functions of a file-less ``__main__``: ``python -c``, stdin, REPL,
notebooks) are always keyed by their code fingerprint, whatever ``code=`` says.

The ``-c`` and stdin tests run real interpreters against one ``file://`` root.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import memokey
from helpers.modules import ModuleWriter

REPO = Path(__file__).resolve().parents[1]


def _python(args: list[str], stdin: str | None = None) -> str:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), str(REPO / "backends")]))
    done = subprocess.run(
        [sys.executable, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _program(root: str, body: str) -> str:
    return (
        "import memokey\n"
        f"@memokey.memoize({root!r})\n"
        "def process(x):\n"
        f"    return {body}\n"
        "print(process(3))\n"
    )


def test_two_lambdas_in_one_module_never_share_results(
    modules: ModuleWriter, tmp_path: Path
) -> None:
    root = (tmp_path / "memo").as_uri()
    module = modules.write(
        "lambdas",
        f"""
import memokey
sq = memokey.memoize({root!r})(lambda x: x * x)
cube = memokey.memoize({root!r})(lambda x: x ** 3)
""",
    )
    assert module.sq(4) == 16
    assert module.cube(4) == 64


def test_two_lambdas_on_one_line_never_share_results(tmp_path: Path) -> None:
    root = (tmp_path / "memo").as_uri()
    sq, cube = memokey.memoize(root)(lambda x: x * x), memokey.memoize(root)(lambda x: x**3)
    assert sq(4) == 16
    assert cube(4) == 64


def test_two_python_c_programs_defining_process_never_share_results(tmp_path: Path) -> None:
    root = (tmp_path / "memo").as_uri()
    assert _python(["-c", _program(root, "x + 1")]) == "4"
    assert _python(["-c", _program(root, "x * 10")]) == "30"
    assert _python(["-c", _program(root, "x + 1")]) == "4"


def test_two_stdin_programs_defining_process_never_share_results(tmp_path: Path) -> None:
    root = (tmp_path / "memo").as_uri()
    assert _python(["-"], stdin=_program(root, "x + 1")) == "4"
    assert _python(["-"], stdin=_program(root, "x * 10")) == "30"


def test_exec_d_functions_with_different_bodies_never_share_results(tmp_path: Path) -> None:
    root = (tmp_path / "memo").as_uri()
    results = []
    for body in ("x + 1", "x * 10"):
        namespace: dict[str, object] = {"__name__": "generated"}
        exec(f"def process(x):\n    return {body}\n", namespace)
        results.append(memokey.memoize(root)(namespace["process"])(3))  # type: ignore[arg-type]
    assert results == [4, 30]


def test_a_notebook_function_is_named_after_the_notebook_and_fingerprinted(
    tmp_path: Path,
) -> None:
    root = (tmp_path / "memo").as_uri()
    program = (
        "__vsc_ipynb_file__ = '/home/me/analysis.ipynb'\n"
        "import memokey\n"
        f"@memokey.memoize({root!r}, logic_key='v1', code='off')\n"
        "def process(x):\n"
        "    return x + 1\n"
        "print(process.key_for(3).function_id, process.key_for(3).code_version is not None)\n"
    )
    assert _python(["-c", program]) == "analysis--process True"


@pytest.mark.parametrize("code", ["key", "warn", "off"])
def test_lambdas_and_nested_functions_are_fingerprinted_whatever_code_says(
    code: str, tmp_path: Path
) -> None:
    root = (tmp_path / "memo").as_uri()

    def nested(x: int) -> int:
        return x

    for func in (lambda x: x, nested):
        key = memokey.memoize(root, code=code, logic_key="v1")(func).key_for(1)  # type: ignore[arg-type]
        assert key.code_version == memokey.code_fingerprint(func).digest


def test_the_same_lambda_source_gives_the_same_key_in_another_process(tmp_path: Path) -> None:
    root = (tmp_path / "memo").as_uri()
    script = tmp_path / "job.py"
    script.write_text(
        "import memokey\n"
        f"double = memokey.memoize({root!r})(lambda x: 2 * x)\n"
        "print(double.key_for(1).uri)\n"
    )
    first = _python([str(script)])
    env_seed = _python([str(script)])
    assert first == env_seed
    assert "=" in first.rsplit("/", 2)[-2]
