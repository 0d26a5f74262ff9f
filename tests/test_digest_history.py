"""A value's key never depends on the process's history: not on what was imported (a
library registering copyreg reducers), read (a lazily created ``__dict__``), cached or
computed before. Each test keys a value, changes only the history, and keys it again."""

from __future__ import annotations

import abc
import copyreg
import dataclasses
import enum
import functools
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memokey.hashing import digest

ROOT = Path(__file__).resolve().parents[1]


class Sized(abc.ABC):
    @abc.abstractmethod
    def size(self) -> int: ...


class _Custom:
    def __init__(self, value: int) -> None:
        self.value = value


def test_exception_digest_ignores_a_first_read_of_its_dict() -> None:
    before = digest(ValueError("bad", 3))
    error = ValueError("bad", 3)
    assert error.__dict__ == {}  # creates the (empty) instance dict as a side effect
    assert digest(error) == before


def test_exception_attributes_and_notes_are_part_of_its_key() -> None:
    plain = ValueError("bad")
    noted = ValueError("bad")
    noted.add_note("while loading x.csv")
    tagged = ValueError("bad")
    tagged.code = 7  # type: ignore[attr-defined]
    assert len({digest(plain), digest(noted), digest(tagged)}) == 3
    assert digest(ValueError("bad")) != digest(KeyError("bad"))
    assert digest(ValueError("bad")) != digest(ValueError("worse"))


def test_import_error_digest_ignores_a_first_read_of_its_dict() -> None:
    before = digest(ImportError("no module", name="x"))
    error = ImportError("no module", name="x")
    _ = error.__dict__
    assert digest(error) == before


@pytest.fixture
def foreign_reducer() -> Iterator[None]:
    """A library (not the type's owner) registers reducers, as ``import dask`` does."""
    saved = dict(copyreg.dispatch_table)

    def reduce_anything(obj: Any) -> Any:
        return (type(obj), ("replaced",))

    reduce_anything.__module__ = "otherlib.pickling"  # as defined by another package
    for cls in (ValueError, _Custom, OSError):
        copyreg.pickle(cls, reduce_anything)
    yield
    copyreg.dispatch_table.clear()
    copyreg.dispatch_table.update(saved)


def test_reducers_registered_by_another_library_do_not_change_keys(
    foreign_reducer: None,
) -> None:
    # The fixture has already registered the reducers; compare with fresh values.
    saved = {cls: copyreg.dispatch_table.pop(cls) for cls in (ValueError, _Custom, OSError)}
    values = [ValueError("bad", 3), _Custom(1), OSError(2, "missing")]
    before = [digest(value) for value in values]
    copyreg.dispatch_table.update(saved)
    assert [digest(value) for value in values] == before
    assert digest(_Custom(1)) != digest(_Custom(2))


_IMPORT_SCRIPT = """
import copyreg, json, sys
from memokey.hashing import digest

class Job:
    def __init__(self, name):
        self.name = name

def values():
    err = OSError(2, "missing", "x.csv")
    return {
        "value_error": ValueError("bad", 3),
        "key_error": KeyError("k"),
        "os_error": err,
        "chained": ValueError("outer"),
        "job": Job("etl"),
        "method_descriptor": str.upper,
        "union": int | str,
        "pattern": __import__("re").compile("a+b"),
    }

before = {name: digest(value) for name, value in values().items()}
count = len(copyreg.dispatch_table)
import dask.distributed  # noqa: F401  (registers hundreds of copyreg reducers)
assert len(copyreg.dispatch_table) > count + 100, "dask no longer registers reducers"
after = {name: digest(value) for name, value in values().items()}
print(json.dumps([before, after]))
"""


@pytest.mark.slow
def test_importing_dask_distributed_does_not_change_any_key(tmp_path: Path) -> None:
    (tmp_path / "history_script.py").write_text(textwrap.dedent(_IMPORT_SCRIPT))
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'backends'}"}
    result = subprocess.run(
        [sys.executable, "history_script.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    before, after = json.loads(result.stdout.splitlines()[-1])
    assert before == after


def _local_flag() -> type[enum.Flag]:
    class Perm(enum.Flag):
        R = 4
        W = 2
        X = 1

    return Perm


def test_local_flag_key_ignores_composite_members_computed_since() -> None:
    perm = _local_flag()
    before = digest(perm.R)
    class_before = digest(perm)
    both = perm.R | perm.W
    assert digest(perm.R) == before
    assert digest(perm) == class_before
    assert digest(both) != before


def test_local_enum_key_ignores_value_lookups() -> None:
    def make() -> type[enum.Enum]:
        class Mode(enum.Enum):
            A = 1
            B = 2

        return Mode

    mode = make()
    before = digest(mode)
    assert mode(2) is mode.B
    assert digest(mode) == before


def test_local_class_key_ignores_lazily_created_annotations() -> None:
    def make() -> type:
        class Plain:
            size = 3

        return Plain

    cls = make()
    before = digest(cls)
    assert cls.__annotations__ == {}  # Python 3.10+ stores an empty dict on first read
    assert digest(cls) == before


def test_local_class_key_ignores_abc_caches() -> None:
    def make() -> type:
        class Impl(Sized):
            def size(self) -> int:
                return 1

        return Impl

    impl = make()
    before = digest(impl)
    assert isinstance(impl(), Sized)
    assert not isinstance(3, impl)
    assert digest(impl) == before


def test_local_class_key_ignores_pickling_caches() -> None:
    def make() -> type:
        class Slotted:
            __slots__ = ("a",)

            def __init__(self) -> None:
                self.a = 1

        return Slotted

    cls = make()
    before = digest(cls)
    digest(cls())  # reducing an instance caches __slotnames__ on the class
    copyreg._slotnames(cls)  # type: ignore[attr-defined]
    assert digest(cls) == before


def test_vectorized_function_key_ignores_its_cached_ufunc() -> None:
    double = np.vectorize(lambda x: x * 2, otypes=[float])
    before = digest(double)
    double(np.arange(3))  # builds and caches a ufunc inside the vectorize object
    assert digest(double) == before
    assert digest(double) != digest(np.vectorize(lambda x: x * 3, otypes=[float]))


class Order:
    def __init__(self, prices: list[float]) -> None:
        self.prices = prices

    @functools.cached_property
    def total(self) -> float:
        return sum(self.prices)


def test_object_key_ignores_cached_properties_computed_since() -> None:
    order = Order([1.0, 2.0])
    before = digest(order)
    assert order.total == 3.0  # stores the value in the instance's __dict__
    assert digest(order) == before
    assert digest(order) != digest(Order([1.0, 2.5]))


@dataclasses.dataclass
class Priced:
    prices: list[float]

    @functools.cached_property
    def total(self) -> float:
        return sum(self.prices)


def test_dataclass_key_ignores_cached_properties_but_not_other_attributes() -> None:
    item = Priced([1.0])
    before = digest(item)
    assert item.total == 1.0
    assert digest(item) == before
    item.note = "checked"  # type: ignore[attr-defined]
    assert digest(item) != before
