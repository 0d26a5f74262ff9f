"""Type checkers see memoized methods with the right signature: ``self`` (or ``cls``) is
dropped on a bound access, wrong calls are rejected. Checked by running mypy (strict) on a
snippet: every line marked ``# wrong`` must be an error, and no other line may be."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest
from mypy import api as mypy_api

ROOT = Path(__file__).resolve().parents[1]

SNIPPET = """
from __future__ import annotations

import asyncio
from concurrent.futures import Future
from typing import Any

from typing_extensions import assert_type

import memokey
from memokey import MemoizingRunner, MemoKey, memoize, use_runner


class Model:
    def __init__(self, k: int) -> None:
        self.k = k

    @memoize
    def apply(self, x: int, *, scale: float = 1.0) -> float:
        return self.k * x * scale

    @memoize("memory://typing", namespace="t")
    def configured(self, name: str) -> str:
        return name

    @memoize
    async def fetch(self, x: int) -> str:
        return str(x)

    @memoize
    def no_args(self) -> int:
        return self.k

    @use_runner(MemoizingRunner("memory://typing"))
    def through_runner(self, x: int) -> bytes:
        return b""

    @memoize
    @staticmethod
    def static_above(x: int) -> int:
        return x

    @staticmethod
    @memoize
    def static_below(x: int) -> int:
        return x

    @memoize
    @classmethod
    def class_above(cls, x: int) -> str:
        return cls.__name__

    @classmethod
    @memoize
    def class_below(cls, x: int) -> str:
        return cls.__name__


class SubModel(Model):
    pass


@memoize
def plain(x: int, y: str = "") -> list[int]:
    return [x]


@memoize
async def plain_async(x: int) -> bytes:
    return b""


async def correct_calls(model: Model) -> None:
    assert_type(model.apply(1), float)
    assert_type(model.apply(1, scale=2.0), float)
    assert_type(model.apply.key_for(1), MemoKey)
    assert_type(model.apply.submit(1), Future[Any])
    assert_type(memokey.key_for(model.apply, 1), MemoKey)
    assert_type(Model.apply(model, 1), float)
    assert_type(Model.apply.key_for(model, 1), MemoKey)
    assert_type(model.configured("a"), str)
    assert_type(model.no_args(), int)
    assert_type(model.through_runner(1), bytes)
    assert_type(model.through_runner.key_for(1), MemoKey)
    assert_type(await model.fetch(1), str)
    assert_type(model.fetch.key_for(1), MemoKey)
    assert_type(model.static_above(1), int)
    assert_type(Model.static_above(1), int)
    assert_type(Model.static_above.key_for(1), MemoKey)
    assert_type(Model.static_below(1), int)
    assert_type(Model.static_below.key_for(1), MemoKey)
    assert_type(model.static_below(1), int)
    assert_type(Model.class_above(1), str)
    assert_type(SubModel.class_above(1), str)
    assert_type(model.class_above(1), str)
    assert_type(Model.class_above.key_for(1), MemoKey)
    assert_type(Model.class_below(1), str)
    assert_type(model.class_below(1), str)
    assert_type(Model.class_below.key_for(1), MemoKey)
    assert_type(plain(1), list[int])
    assert_type(plain(1, y="a"), list[int])
    assert_type(plain.key_for(1), MemoKey)
    assert_type(await plain_async(1), bytes)


async def wrong_calls(model: Model) -> None:
    model.apply("1")  # wrong
    model.apply(1, 2)  # wrong
    model.apply(model, 1)  # wrong
    model.apply(1, scale="big")  # wrong
    model.apply.key_for("1")  # wrong
    model.apply.submit(1, 2)  # wrong
    model.no_args(1)  # wrong
    model.through_runner(model, 1)  # wrong
    model.fetch("x")  # wrong
    Model.apply(1)  # wrong
    Model.static_above("1")  # wrong
    Model.static_below(1, 2)  # wrong
    Model.class_above("1")  # wrong
    Model.class_above(Model, 1)  # wrong
    Model.class_below("1")  # wrong
    model.class_above.key_for("1")  # wrong
    plain("1")  # wrong
    plain.key_for(1, z=2)  # wrong
    x: int = model.apply(1)  # wrong
"""


@pytest.fixture(scope="module")
def mypy_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[int, str]:
    work = tmp_path_factory.mktemp("typing")
    snippet = work / "snippet.py"
    snippet.write_text(textwrap.dedent(SNIPPET))
    here = Path.cwd()
    os.chdir(ROOT)  # mypy finds this source tree's memokey (and mypy_path) from here
    try:
        stdout, stderr, _status = mypy_api.run(
            [
                "--strict",
                "--no-incremental",
                "--cache-dir",
                str(work / "cache"),
                "--config-file",
                str(ROOT / "pyproject.toml"),
                "--follow-imports",
                "silent",
                str(snippet),
            ]
        )
    finally:
        os.chdir(here)
    assert not stderr, stderr
    errors: dict[int, str] = {}
    for line in stdout.splitlines():
        match = re.match(r".*snippet\.py:(\d+): error: (.*)", line)
        if match:
            errors.setdefault(int(match.group(1)), match.group(2))
    assert "Found" in stdout or "Success" in stdout, stdout
    return errors


def _lines(marked: bool) -> dict[int, str]:
    source = textwrap.dedent(SNIPPET).splitlines()
    return {
        number: text.strip()
        for number, text in enumerate(source, start=1)
        if text.strip() and not text.strip().startswith("#") and text.endswith("# wrong") == marked
    }


def test_correct_calls_of_memoized_methods_type_check(mypy_errors: dict[int, str]) -> None:
    unexpected = {
        _lines(marked=False)[n]: message
        for n, message in mypy_errors.items()
        if n in _lines(marked=False)
    }
    assert unexpected == {}


def test_wrong_calls_of_memoized_methods_are_rejected(mypy_errors: dict[int, str]) -> None:
    missed = [text for n, text in _lines(marked=True).items() if n not in mypy_errors]
    assert missed == []
