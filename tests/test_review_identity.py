"""Outside review of the function side of the key: what a user could change that the
key would not see. Each test is a way to get another code's result; the key must see it.

Modules are real files, imported, edited and reloaded (`helpers.modules.ModuleWriter`).
"""

from __future__ import annotations

import datetime
import decimal
import fractions
import importlib
import os
import sys
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


# --- attacks on the code fingerprint ------------------------------------------------------


def test_a_helper_reached_through_a_deep_package_path_is_fingerprinted(
    modules: ModuleWriter, root: str
) -> None:
    package = modules.directory / modules.name("proj")
    leaf_dir = package / "data" / "loaders" / "text"
    leaf_dir.mkdir(parents=True)
    for directory in (package, package / "data", package / "data" / "loaders", leaf_dir):
        (directory / "__init__.py").write_text("")
    leaf = leaf_dir / "clean.py"
    leaf.write_text("def normalize(x):\n    return x + 1\n")
    source = PIPELINE.replace(
        "import memokey", "import memokey\nimport PREFIX_proj.data.loaders.text.clean"
    )
    source = source.replace("model.predict(x)", "PREFIX_proj.data.loaders.text.clean.normalize(x)")
    process = _pipeline(modules, root, source).process
    assert process(None, 1) == 2
    leaf.write_text("def normalize(x):\n    return x + 2\n")
    importlib.reload(sys.modules[f"{modules.name('proj')}.data.loaders.text.clean"])
    assert process(None, 1) == 3


def test_a_class_attribute_reassigned_at_runtime_rekeys(modules: ModuleWriter, root: str) -> None:
    """A notebook cell runs ``Config.LR = 0.2``: the class's source did not change."""
    source = PIPELINE.replace(
        "@memokey.memoize",
        "class Config:\n    LR = 1\n    NAME = 'a'\n\n\n@memokey.memoize",
    ).replace("model.predict(x)", "x * Config.LR")
    pipeline = _pipeline(modules, root, source)
    key = pipeline.process.key_for(None, 5)
    assert pipeline.process(None, 5) == 5
    pipeline.Config.LR = 2
    assert pipeline.process(None, 5) == 10
    pipeline.Config.LR = 1  # back: the first key again
    assert pipeline.process.key_for(None, 5) == key


def test_a_class_counter_its_own_methods_increment_does_not_rekey(
    modules: ModuleWriter, root: str
) -> None:
    """State the class keeps about itself (``Model.created += 1``) is not code."""
    source = """
    class Model:
        created = 0

        def __init__(self, w):
            Model.created += 1
            self.w = w

        def predict(self, x):
            return x * self.w
    """
    models = modules.write("models", source)
    process = _pipeline(modules, root).process
    key = process.key_for(models.Model(2), 5)
    assert process.key_for(models.Model(2), 5) == key


def test_editing_only_an_annotation_rekeys_in_the_same_process_as_in_a_new_one(
    modules: ModuleWriter, root: str
) -> None:
    """Annotations are source (pydantic, typer and dataclasses act on them). The code
    object does not hold them, so a cache keyed by code equality served the old source."""
    process = _pipeline(modules, root).process
    key = process.key_for(None, 1)
    edited = PIPELINE.replace("def process(model, x):", "def process(model, x: float):")
    assert _pipeline(modules, root, edited).process.key_for(None, 1) != key


def test_a_helper_edited_on_disk_but_not_reloaded_does_not_lend_its_new_source_to_old_code(
    modules: ModuleWriter, root: str
) -> None:
    """A notebook imported `helpers`, then the file was edited without a reload: the
    code that runs is the old one, so its result must not be stored under the new
    source's fingerprint (a restart would then serve it as the new code's result)."""
    modules.write("helpers", "def clean(x):\n    return x + 1\n")
    path = modules.directory / f"{modules.name('helpers')}.py"
    path.write_text("def clean(x):\n    return x + 20\n")  # edited on disk only
    source = PIPELINE.replace("import memokey", "import memokey\nimport PREFIX_helpers")
    process = _pipeline(
        modules, root, source.replace("model.predict(x)", "PREFIX_helpers.clean(x)")
    ).process
    assert process(None, 1) == 2  # the old code ran
    modules.write("helpers", "def clean(x):\n    return x + 20\n")  # the restart / reload
    assert process(None, 1) == 21


def test_a_class_edited_on_disk_but_not_reloaded_does_not_lend_its_new_source_to_old_code(
    modules: ModuleWriter, root: str
) -> None:
    models = modules.write("models", MODEL)
    path = modules.directory / f"{modules.name('models')}.py"
    path.write_text(MODEL.replace("x * self.w", "x + self.w"))  # edited on disk only
    process = _pipeline(modules, root).process
    assert process(models.Model(2), 5) == 10  # the old code ran
    models = modules.write("models", MODEL.replace("x * self.w", "x + self.w"))
    assert process(models.Model(2), 5) == 7


def test_editing_one_of_two_lambdas_on_a_line_rekeys_even_when_constants_fold(
    modules: ModuleWriter, root: str
) -> None:
    """``x * (2 + 3) - 1`` compiles to the constants 5 and 1, which the other lambda's
    text (``x - 5 * 1``) also holds: matching by constants picked the wrong text."""
    source = (
        "import memokey\n"
        "a, b = memokey.memoize('ROOT')(lambda x: x * (2 + 3) - 1), "
        "memokey.memoize('ROOT')(lambda x: x - 5 * 1)\n"
    )
    first = modules.write("lambdas", source.replace("ROOT", root))
    key = first.a.key_for(3)
    edited = modules.write("lambdas", source.replace("- 1)", "* 1)").replace("ROOT", root))
    assert edited.a(3) == 15
    assert edited.a.key_for(3) != key


def test_a_subprocess_run_with_a_first_party_instance_argument_is_accepted_by_the_far_side(
    modules: ModuleWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The far side recomputes the digest with the arguments' class code, as the caller did."""
    from memokey.shims import subprocess_shim

    repo = Path(__file__).resolve().parents[1]
    models = modules.write("models", MODEL)
    job = modules.write("job", "def job(model, x):\n    return model.predict(x)\n")
    memoized = memokey.memoize((tmp_path / "memo").as_uri(), shim=subprocess_shim)(job.job)
    path = os.pathsep.join([str(modules.directory), str(repo), str(repo / "backends")])
    monkeypatch.setenv("PYTHONPATH", path)
    assert memoized(models.Model(3), 2) == 6
    assert memoized.key_for(models.Model(3), 2).code_version is not None


KEYED = """
import memokey


def config_key(batch, epochs, log):
    return (batch, epochs, None), {}


runner = memokey.KeyedLocalRunner("ROOT", keyfunc=config_key)


@memokey.use_runner(runner)
def train(batch, epochs, log):
    return f"batch={batch} epochs={epochs}"
"""


def test_editing_a_keyfunc_rekeys(modules: ModuleWriter, root: str) -> None:
    """The keyfunc says which calls share a result. Both versions below are correct,
    but ``train(32, 10)`` under the first and ``train(10, 32)`` under the second (fields
    swapped in a refactor) both key ``(32, 10)``: the keyfunc's code is part of the key."""
    keyed = modules.write("keyed", KEYED.replace("ROOT", root))
    assert keyed.train(32, 10, None) == "batch=32 epochs=10"
    swapped = KEYED.replace("return (batch, epochs, None), {}", "return (epochs, batch, None), {}")
    keyed = modules.write("keyed", swapped.replace("ROOT", root))
    assert keyed.train(10, 32, None) == "batch=10 epochs=32"
    restyled = swapped.replace("(epochs, batch, None), {}", "((epochs, batch, None), {})")
    key = keyed.train.key_for(10, 32, None)
    keyed = modules.write("keyed", restyled.replace("ROOT", root))
    assert keyed.train.key_for(10, 32, None) == key  # formatting is not code


def test_nil_args_keyfuncs_key_as_before(root: str) -> None:
    def query(conn: object, sql: str) -> str:
        return sql

    runner = memokey.KeyedLocalRunner(root, keyfunc=memokey.nil_args("conn"))
    memoized = memokey.use_runner(runner)(query)
    assert memoized.key_for(object(), "q") == memoized.key_for(None, "q")


def test_a_method_replaced_at_runtime_on_an_arguments_class_rekeys(
    modules: ModuleWriter, root: str
) -> None:
    """``Model.predict = faster_predict`` (a notebook patching a class) changes the code
    every instance runs, though the class statement's text did not change."""
    models = modules.write("models", MODEL)
    process = _pipeline(modules, root).process
    assert process(models.Model(2), 5) == 10

    def add_instead(self: Any, x: int) -> int:
        return x + self.w

    models.Model.predict = add_instead
    assert process(models.Model(2), 5) == 7


def test_the_far_side_refuses_an_arguments_class_whose_code_differs_there(
    modules: ModuleWriter, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The far side would run its own ``Model.predict``: a different result under the
    caller's key. It recomputes the digest with the class code it has, and refuses."""
    from memokey.errors import ShimError
    from memokey.shims import subprocess_shim

    repo = Path(__file__).resolve().parents[1]
    models = modules.write("models", MODEL)
    job = modules.write("job", "def job(model, x):\n    return model.predict(x)\n")
    memoized = memokey.memoize((tmp_path / "memo").as_uri(), shim=subprocess_shim)(job.job)
    path = os.pathsep.join([str(modules.directory), str(repo), str(repo / "backends")])
    monkeypatch.setenv("PYTHONPATH", path)
    model = models.Model(3)
    memoized.key_for(model, 1)  # the caller keys with the code it runs
    (modules.directory / f"{modules.name('models')}.py").write_text(
        MODEL.replace("x * self.w", "x + self.w")
    )
    with pytest.raises(ShimError, match="digest"):
        memoized(model, 1)


def test_a_subprocess_run_with_an_instance_of_a_main_script_class_runs(tmp_path: Path) -> None:
    """Classes of the caller's ``__main__`` travel by value; the far side cannot name the
    caller's script, so it trusts the caller's digest for them (as for its functions)."""
    import subprocess

    repo = Path(__file__).resolve().parents[1]
    (tmp_path / "jobmod.py").write_text("def job(model, x):\n    return model.predict(x)\n")
    script = tmp_path / "script.py"
    script.write_text(
        "import sys, memokey, jobmod\n"
        "from memokey.shims import subprocess_shim\n"
        + MODEL
        + "\nrun = memokey.memoize(sys.argv[1], shim=subprocess_shim)(jobmod.job)\n"
        "print(run(Model(3), 2))\n"
    )
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(repo), str(repo / "backends")])
    )
    done = subprocess.run(
        [sys.executable, str(script), (tmp_path / "memo").as_uri()],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "6"


def test_editing_a_class_passed_as_an_argument_rekeys(modules: ModuleWriter, root: str) -> None:
    """``fit(Model, x)``: a class used as a value was keyed by its name only."""
    models = modules.write("models", MODEL)
    source = PIPELINE.replace("return model.predict(x)", "return model(2).predict(x)")
    process = _pipeline(modules, root, source).process
    assert process(models.Model, 5) == 10
    models = modules.write("models", MODEL.replace("x * self.w", "x - self.w"))
    assert process(models.Model, 5) == 3
