"""The normalized source: comments, docstrings, blank lines, formatting, the memoizing
decorator and Python-version details of the AST do not count; everything that changes
what the code does does."""

from __future__ import annotations

import ast
import glob
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import memokey.identity.source as source_module
from memokey.identity.source import canonical_text


def _text(code: str) -> str:
    node = ast.parse(textwrap.dedent(code)).body[0]
    return canonical_text(node)


def test_comments_docstrings_blank_lines_and_formatting_do_not_count() -> None:
    plain = _text(
        """
        def f(x, y=2):
            return [x + y, 'a']
        """
    )
    restyled = _text(
        '''
        def f(x,
              y = 2):  # a comment
            """A docstring."""

            return [
                x + y,   "a",
            ]
        '''
    )
    assert plain == restyled


def test_the_memoizing_decorator_does_not_count_but_other_decorators_do() -> None:
    plain = _text("def f(x):\n    return x\n")
    assert _text("@memokey.memoize('s3://b/m', logic_key='v2')\ndef f(x):\n    return x\n") == plain
    assert _text("@memoize\ndef f(x):\n    return x\n") == plain
    assert _text("@functools.cache\ndef f(x):\n    return x\n") != plain


@pytest.mark.parametrize(
    "edited",
    [
        "def f(x, y=3):\n    return [x + y, 'a']\n",  # a default
        "def f(x, y=2):\n    return [x - y, 'a']\n",  # an operator
        "def f(x, y=2):\n    return [x + y, 'b']\n",  # a constant
        "def f(x, y=2):\n    return [x + y, 1]\n",  # a constant's type
        "def f(x, y=2):\n    return (x + y, 'a')\n",  # a container
        "def g(x, y=2):\n    return [x + y, 'a']\n",  # the name
        "def f(y, x=2):\n    return [x + y, 'a']\n",  # the parameters
        "def f(x, y=2):\n    '''doc'''\n    'not a docstring'\n    return [x + y, 'a']\n",
    ],
)
def test_what_changes_the_code_changes_the_canonical_form(edited: str) -> None:
    assert _text(edited) != _text("def f(x, y=2):\n    return [x + y, 'a']\n")


SAMPLE = '''
import functools


def outer(items: list[int], *args: int, scale: float = 1.5, **kw: str) -> dict[str, int]:
    """Docstring."""
    total = 0
    for i, item in enumerate(items):
        if (doubled := item * 2) > 3 and not kw:
            total += doubled
        elif item in {1, 2} or i is None:
            continue
    match items:
        case [first, *rest] if first > 0:
            total -= len(rest)
        case {"key": value}:
            total += value
        case _:
            pass
    label = f"{total!r:>10} and {scale:.2f} {'x'}"
    try:
        raise ValueError(label)
    except (ValueError, TypeError) as exc:
        total += len(str(exc))
    finally:
        total += 1
    with open(__file__) as fh, functools.partial(print) as p:
        pass
    return {k: v for k, v in zip("ab", [total, lambda z: z ** 2])}


class Model(object):
    """Doc."""

    threshold: float = 0.5

    @functools.cached_property
    def size(self) -> int:
        return 1 << 3

    async def fetch(self, *, retries=3):
        async with self.session() as s:
            async for chunk in s:
                await chunk
        return [x async for x in s]


def gen():
    yield from range(3)
    x = yield
    del x
    global G
    assert G, "message"
    return ..., b"bytes", 1j, -0.0, 10**100, None, True
'''


def _interpreters() -> list[str]:
    found: dict[str, str] = {}
    candidates = [shutil.which(f"python3.{minor}") for minor in range(10, 14)]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[0-3]*/bin/python3")))
    for path in [sys.executable, *candidates]:
        if not path:
            continue
        version = subprocess.run(
            [path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if version in {"3.10", "3.11", "3.12", "3.13"}:
            found.setdefault(version, path)
    return sorted(found.values())


_PROBE = """
import ast, importlib.util, json, sys
spec = importlib.util.spec_from_file_location("probe_source", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
tree = ast.parse(sys.stdin.read())
print(json.dumps([sys.version_info[:2], [module.canonical_text(n) for n in tree.body]]))
"""


def test_the_canonical_form_is_identical_across_python_versions() -> None:
    interpreters = _interpreters()
    if len(interpreters) < 2:
        pytest.skip("fewer than two of Python 3.10-3.13 are installed here")
    forms = {}
    for interpreter in interpreters:
        done = subprocess.run(
            [interpreter, "-c", _PROBE, source_module.__file__],
            input=SAMPLE,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        version, texts = json.loads(done.stdout)
        forms[tuple(version)] = texts
    versions = sorted(forms)
    assert len(versions) >= 2
    for version in versions[1:]:
        assert forms[version] == forms[versions[0]], f"{version} differs from {versions[0]}"


def test_functions_are_found_by_code_even_with_two_lambdas_on_a_line(tmp_path: Path) -> None:
    path = tmp_path / "two_lambdas.py"
    path.write_text("pair = (lambda x: x * 2, lambda x: x ** 3)\n")
    namespace: dict[str, object] = {"__name__": "two_lambdas", "__file__": str(path)}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    first, second = namespace["pair"]  # type: ignore[misc]
    node_a = source_module.function_node(first.__code__, namespace)
    node_b = source_module.function_node(second.__code__, namespace)
    assert node_a is not None
    assert node_b is not None
    assert canonical_text(node_a) != canonical_text(node_b)
    assert "Pow" in canonical_text(node_b)
