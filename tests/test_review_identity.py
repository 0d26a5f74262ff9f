"""Outside review of the function side of the key: what a user could change that the
key would not see. Each test is a way to get another code's result; the key must see it.

Modules are real files, imported, edited and reloaded (`helpers.modules.ModuleWriter`).
"""

from __future__ import annotations

import datetime
import decimal
import fractions
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import memokey
from helpers.modules import ModuleWriter
from memokey.keys import bind_call, call_digest


@pytest.fixture
def root(tmp_path: Path) -> str:
    return (tmp_path / "memo").as_uri()


# --- instances passed as arguments are keyed by their class's code (code="key") ---------

MODEL = """
class Model:
    def __init__(self, w):
        self.w = w

    def predict(self, x):
        return x * self.w
"""

PIPELINE = """
import memokey


@memokey.memoize("ROOT")
def process(model, x):
    return model.predict(x)
"""


def _pipeline(modules: ModuleWriter, root: str, source: str = PIPELINE) -> Any:
    return modules.write("pipeline", source.replace("ROOT", root))


def test_editing_a_method_of_an_arguments_class_rekeys(modules: ModuleWriter, root: str) -> None:
    models = modules.write("models", MODEL)
    process = _pipeline(modules, root).process
    assert process(models.Model(2), 5) == 10
    models = modules.write("models", MODEL.replace("x * self.w", "x + self.w"))
    assert process(models.Model(2), 5) == 7
    models = modules.write("models", MODEL)  # reverting hits the first result again
    assert process(models.Model(2), 5) == 10


def test_editing_a_base_class_method_of_an_argument_rekeys(
    modules: ModuleWriter, root: str
) -> None:
    base = """
    class Base:
        def scale(self):
            return 2
    """
    child = """
    import PREFIX_base


    class Model(PREFIX_base.Base):
        def predict(self, x):
            return x * self.scale()
    """
    modules.write("base", base)
    models = modules.write("child", child)
    process = _pipeline(modules, root).process
    assert process(models.Model(), 5) == 10
    modules.write("base", base.replace("return 2", "return 3"))
    models = modules.write("child", child)  # same text: its class now has the new base
    assert process(models.Model(), 5) == 15


def test_editing_a_method_of_a_dataclass_inside_a_list_argument_rekeys(
    modules: ModuleWriter, root: str
) -> None:
    config = """
    import dataclasses


    @dataclasses.dataclass
    class Step:
        k: int

        def apply(self, x):
            return x + self.k
    """
    steps = modules.write("steps", config)
    source = PIPELINE.replace(
        "def process(model, x):\n    return model.predict(x)",
        "def process(steps, x):\n    for s in steps:\n        x = s.apply(x)\n    return x",
    )
    process = _pipeline(modules, root, source).process
    assert process([steps.Step(1), steps.Step(2)], 0) == 3
    steps = modules.write("steps", config.replace("x + self.k", "x - self.k"))
    assert process([steps.Step(1), steps.Step(2)], 0) == -3


def test_an_arguments_class_code_is_not_keyed_under_code_off(
    modules: ModuleWriter, root: str
) -> None:
    """code="off" means the user owns invalidation: the key is function id + arguments."""
    models = modules.write("models", MODEL)
    source = PIPELINE.replace('memoize("ROOT")', 'memoize("ROOT", code="off")')
    process = _pipeline(modules, root, source).process
    key = process.key_for(models.Model(2), 5)
    models = modules.write("models", MODEL.replace("x * self.w", "x + self.w"))
    assert process.key_for(models.Model(2), 5) == key


def _stdlib_and_library_values() -> list[object]:
    frame = pd.DataFrame({"a": [1, 2], "b": pd.Categorical(["x", "y"])})
    return [
        np.arange(4),
        np.float32(1.5),
        frame,
        frame["a"],
        pd.Timestamp("2024-01-01"),
        fractions.Fraction(1, 3),
        decimal.Decimal("1.5"),
        datetime.date(2024, 1, 1),
        [{"k": np.int64(3)}],
    ]


@pytest.mark.parametrize("value", _stdlib_and_library_values(), ids=lambda v: type(v).__name__)
def test_library_and_stdlib_classes_add_nothing_to_the_argument_digest(value: object) -> None:
    def process(data: object) -> object:
        return data

    bound = bind_call(process, (value,), {})
    assert call_digest(process, bound, code_classes=True) == call_digest(process, bound)
