"""Memoized methods end to end: instance, static and class methods in either decorator
order; calls, ``.key_for``, ``memokey.key_for`` and ``.submit`` all bind ``self``/``cls``."""

from __future__ import annotations

import asyncio
import inspect
import pickle
from collections import Counter
from pathlib import Path

import pytest

import memokey
from helpers.core import memory_root
from memokey import memoize
from memokey.roots import ENV_VAR

RUNS: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> None:
    RUNS.clear()
    monkeypatch.setenv(ENV_VAR, memory_root())


class Model:
    """Module level, so that its methods pickle by reference."""

    def __init__(self, k: int) -> None:
        self.k = k

    @memoize
    def apply(self, x: int) -> int:
        RUNS["apply"] += 1
        return self.k * x

    @memoize
    async def aapply(self, x: int) -> int:
        RUNS["aapply"] += 1
        return self.k * x

    @memoize
    @staticmethod
    def static_above(x: int) -> int:
        RUNS["static_above"] += 1
        return x + 1

    @staticmethod
    @memoize
    def static_below(x: int) -> int:
        RUNS["static_below"] += 1
        return x + 2

    @memoize
    @classmethod
    def class_above(cls, x: int) -> tuple[str, int]:
        RUNS["class_above"] += 1
        return cls.__name__, x

    @classmethod
    @memoize
    def class_below(cls, x: int) -> tuple[str, int]:
        RUNS["class_below"] += 1
        return cls.__name__, x


class SubModel(Model):
    pass


# -- instance methods ----------------------------------------------------------------------


def test_key_for_of_a_bound_method_keys_self() -> None:
    two, three = Model(2), Model(3)
    assert two.apply.key_for(5) == Model(2).apply.key_for(5)
    assert two.apply.key_for(5) != three.apply.key_for(5)
    assert two.apply.key_for(5) == Model.apply.key_for(two, 5)


def test_key_for_of_a_bound_method_is_where_the_call_stores_its_result(tmp_path: Path) -> None:
    model = Model(2)
    with memokey.root(f"file://{tmp_path}"):
        assert model.apply(5) == 10
        key = model.apply.key_for(5)
        assert memokey.key_for(model.apply, 5) == key
    stored = [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()]
    assert any(path.startswith(key.path) for path in stored), stored


def test_memokey_key_for_binds_self_of_a_memoized_method() -> None:
    assert memokey.key_for(Model(2).apply, 5) != memokey.key_for(Model(3).apply, 5)
    assert memokey.key_for(Model(2).apply, 5) == memokey.key_for(Model.apply, Model(2), 5)


def test_submit_on_a_bound_method_binds_self() -> None:
    assert Model(2).apply.submit(5).result() == 10
    assert Model(3).apply.submit(5).result() == 15
    assert Model(2).apply(5) == 10
    assert RUNS["apply"] == 2


def test_instance_and_class_calls_of_a_method_share_one_entry() -> None:
    model = Model(4)
    assert model.apply(2) == 8
    assert Model.apply(model, 2) == 8
    assert Model.apply(Model(4), x=2) == 8
    assert RUNS["apply"] == 1


def test_a_bound_memoized_method_shows_the_signature_without_self() -> None:
    assert list(inspect.signature(Model(1).apply).parameters) == ["x"]
    assert list(inspect.signature(Model.apply).parameters) == ["self", "x"]
    assert Model(1).apply.__name__ == "apply"
    assert Model(1).apply.__qualname__ == "Model.apply"


def test_bound_memoized_methods_compare_like_bound_methods() -> None:
    model = Model(1)
    assert model.apply == model.apply
    assert hash(model.apply) == hash(model.apply)
    assert model.apply != Model(1).apply
    assert model.apply.__self__ is model


def test_memoized_methods_and_functions_pickle_by_reference() -> None:
    model = Model(6)
    assert pickle.loads(pickle.dumps(Model.apply)) is Model.apply
    assert pickle.loads(pickle.dumps(Model.static_above)) is Model.static_above
    assert pickle.loads(pickle.dumps(Model.class_above))(1) == ("Model", 1)
    again = pickle.loads(pickle.dumps(model.apply))
    assert again(7) == 42
    assert again.key_for(7) == model.apply.key_for(7)


def test_async_methods_bind_self_for_calls_and_keys() -> None:
    async def main() -> list[int]:
        return [await Model(2).aapply(5), await Model(3).aapply(5), await Model(2).aapply(5)]

    assert asyncio.run(main()) == [10, 15, 10]
    assert RUNS["aapply"] == 2
    assert Model(2).aapply.key_for(5) != Model(3).aapply.key_for(5)
    assert inspect.iscoroutinefunction(Model.aapply)
    assert inspect.iscoroutinefunction(Model(2).aapply)


# -- static methods ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["static_above", "static_below"])
def test_static_methods_work_through_the_class_and_instances(name: str) -> None:
    offset = 1 if name == "static_above" else 2
    through_class = getattr(Model, name)
    through_instance = getattr(Model(9), name)
    assert through_class(1) == 1 + offset
    assert through_instance(1) == 1 + offset
    assert through_instance(x=1) == 1 + offset
    assert RUNS[name] == 1
    assert through_class.key_for(1) == through_instance.key_for(1)
    assert memokey.key_for(through_instance, 1) == through_class.key_for(1)
    assert through_instance.submit(1).result() == 1 + offset
    assert through_class.key_for(1).function_id.endswith(f"Model.{name}")


# -- class methods -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["class_above", "class_below"])
def test_class_methods_key_the_class_they_are_called_on(name: str) -> None:
    assert getattr(Model, name)(1) == ("Model", 1)
    assert getattr(SubModel, name)(1) == ("SubModel", 1)
    assert getattr(Model(0), name)(1) == ("Model", 1)
    assert getattr(SubModel(0), name)(x=1) == ("SubModel", 1)
    assert RUNS[name] == 2
    assert getattr(Model, name).key_for(1) != getattr(SubModel, name).key_for(1)
    assert getattr(Model, name).key_for(1) == getattr(Model(5), name).key_for(1)
    assert memokey.key_for(getattr(SubModel, name), 1) == getattr(SubModel, name).key_for(1)
    assert getattr(SubModel, name).submit(1).result() == ("SubModel", 1)
    assert RUNS[name] == 2


def test_memoize_above_classmethod_is_accepted_by_every_spelling() -> None:
    class Local:
        @memoize(memory_root(), namespace="classmethods")
        @classmethod
        def make(cls, n: int) -> str:
            return f"{cls.__name__}{n}"

    assert Local.make(2) == "Local2"
    assert Local.make.key_for(2).namespace == "classmethods"


# -- memoized callables as arguments -------------------------------------------------------


def test_a_bound_memoized_method_passed_as_an_argument_is_keyed_with_its_object() -> None:
    assert memokey.digest(Model(2).apply) == memokey.digest(Model(2).apply)
    assert memokey.digest(Model(2).apply) != memokey.digest(Model(3).apply)
    assert memokey.digest(Model.class_above) != memokey.digest(SubModel.class_above)
    assert memokey.digest(Model.apply) != memokey.digest(Model.static_above)


def test_a_memoized_function_passed_as_an_argument_is_keyed_with_its_logic_key() -> None:
    def step(x: int) -> int:
        return x

    first = memoize(memory_root(), logic_key="v1")(step)
    second = memoize(memory_root(), logic_key="v2")(step)
    assert memokey.digest(first) != memokey.digest(second)
    assert memokey.digest(first) == memokey.digest(memoize(memory_root(), logic_key="v1")(step))


def test_a_local_class_with_memoized_methods_travels_by_value_with_its_runner() -> None:
    import cloudpickle

    root = memory_root()

    class Local:
        @memoize(root, namespace="travel", logic_key="v3")
        def bump(self, x: int) -> int:
            return x + 1

    again = cloudpickle.loads(cloudpickle.dumps(Local))
    assert again().bump(1) == 2
    assert again.bump.runner.root == root
    assert again().bump.key_for(1).namespace == "travel"
    assert again().bump.key_for(1).logic_key == "v3"


def test_a_memoized_method_travelling_by_value_leaves_its_storage_options_behind() -> None:
    import cloudpickle

    class Local:
        @memoize(memory_root(), storage_options={"secret": "hunter2-token"})
        def bump(self, x: int) -> int:
            return x + 1

    assert b"hunter2-token" not in cloudpickle.dumps(Local)
    assert b"hunter2-token" not in cloudpickle.dumps(Local())


def test_a_memoized_method_travelling_by_value_leaves_its_signing_key_behind() -> None:
    import cloudpickle

    class Local:
        @memoize(memory_root(), signing_key="k" * 32 + "-signing-secret")
        def bump(self, x: int) -> int:
            return x + 1

    assert b"signing-secret" not in cloudpickle.dumps(Local)
