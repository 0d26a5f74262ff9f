"""Outside review of memoized methods: code that runs through ``self`` (or through any
argument's methods) but that no name in the memoized function reveals must still re-key
it; the edge cases of binding never raise raw errors or key the wrong thing."""

from __future__ import annotations

import dataclasses
import enum
import functools
import os
import subprocess
import sys
import types
from pathlib import Path
from typing import NamedTuple

import pytest

import memokey
from memokey import memoize as memokey_memoize
from memokey.errors import ConfigurationError

SUBCLASS_MODULE = """
import memokey

class Base:
    def __init__(self, k):
        self.k = k

    def helper(self, x):
        return x

    @memokey.memoize("memory://review")
    def predict(self, x):
        return self.helper(x) * self.k

class Sub(Base):
    def helper(self, x):
        return x + {offset}

class Model:
    def predict(self, x):
        return x * {factor}

@memokey.memoize("memory://review")
def run(model, x):
    return model.predict(x)

class HashedModel:
    def predict(self, x):
        return x * {factor}

memokey.register_hasher(HashedModel, lambda model: "config")
"""

PRINT_KEYS = (
    "import subcode; "
    "print(subcode.Sub(2).predict.key_for(3).uri); "
    "print(subcode.Base(2).predict.key_for(3).uri); "
    "print(subcode.run.key_for(subcode.Model(), 3).uri); "
    "print(subcode.run.key_for(subcode.HashedModel(), 3).uri)"
)


def _keys(tmp_path: Path, *, offset: int = 1, factor: int = 1) -> list[str]:
    (tmp_path / "subcode.py").write_text(SUBCLASS_MODULE.format(offset=offset, factor=factor))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    result = subprocess.run(
        [sys.executable, "-B", "-c", PRINT_KEYS],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.split()


@pytest.mark.slow
def test_editing_a_subclass_override_re_keys_the_inherited_memoized_method(
    tmp_path: Path,
) -> None:
    before = _keys(tmp_path)
    edited = _keys(tmp_path, offset=2)
    assert edited[0] != before[0]  # Sub(2).predict(3) runs the edited Sub.helper
    assert edited[1] == before[1]  # Base(2).predict(3) does not
    assert _keys(tmp_path) == before


@pytest.mark.slow
def test_editing_a_method_of_an_argument_class_re_keys_the_function_that_calls_it(
    tmp_path: Path,
) -> None:
    before = _keys(tmp_path)
    edited = _keys(tmp_path, factor=2)
    assert edited[2] != before[2]
    assert edited[3] != before[3]  # a registered hasher keys the state, not the code
    assert edited[:2] == before[:2]
    assert _keys(tmp_path) == before


class Reader:
    """``@classmethod`` above ``@memoize``: Python 3.13 no longer passes the class
    through the memoized descriptor, so ``Reader.load`` is a plain bound method."""

    @classmethod
    @memokey_memoize("memory://review-classmethod")
    def load(cls, x: int = 0) -> tuple[str, int]:
        return (cls.__name__, x)


class SubReader(Reader):
    pass


#: Python 3.13 stopped chaining descriptors through classmethod (python/cpython#89519).
CHAINS_CLASSMETHOD = sys.version_info < (3, 13)


@pytest.mark.parametrize("owner", [Reader, SubReader])
def test_key_for_of_classmethod_above_memoize_keys_the_class_or_names_the_order(
    owner: type[Reader],
) -> None:
    inner = vars(Reader)["load"].__func__
    expected = memokey.key_for(types.MethodType(inner, owner), 1)
    if CHAINS_CLASSMETHOD:
        assert owner.load.key_for(1) == expected
    else:
        with pytest.raises(ConfigurationError, match="@memoize above @classmethod"):
            owner.load.key_for(1)
    assert memokey.key_for(owner.load, 1) == expected


@pytest.mark.parametrize("owner", [Reader, SubReader])
def test_submit_of_classmethod_above_memoize_runs_on_the_class_or_names_the_order(
    owner: type[Reader],
) -> None:
    if CHAINS_CLASSMETHOD:
        assert owner.load.submit(1).result() == (owner.__name__, 1)
    else:
        with pytest.raises(ConfigurationError, match="@memoize above @classmethod"):
            owner.load.submit(1)


def test_classmethod_above_memoize_is_called_with_its_class_on_every_python() -> None:
    assert Reader.load(2) == ("Reader", 2)
    assert SubReader.load(2) == ("SubReader", 2)
    assert SubReader().load(2) == ("SubReader", 2)
    assert memokey.key_for(SubReader.load, 2) != memokey.key_for(Reader.load, 2)


def test_the_memoized_function_inside_a_classmethod_refuses_keys_without_its_class() -> None:
    inner = vars(Reader)["load"].__func__
    with pytest.raises(ConfigurationError, match="@memoize above @classmethod"):
        inner.key_for(1)
    with pytest.raises(ConfigurationError, match="@memoize above @classmethod"):
        inner.submit(1)


@pytest.mark.parametrize("kind", [property, functools.cached_property])
def test_memoize_above_a_property_names_the_order_to_use(kind: type) -> None:
    with pytest.raises(ConfigurationError, match=f"@{kind.__name__} above @memoize"):

        class Config:
            @memokey_memoize("memory://review-property")
            @kind
            def size(self) -> int:
                return 1


def test_property_above_memoize_keys_the_instance() -> None:
    class Sized:
        def __init__(self, n: int) -> None:
            self.n = n

        @property
        @memokey_memoize("memory://review-property")
        def size(self) -> int:
            return self.n * 10

    assert (Sized(1).size, Sized(2).size) == (10, 20)


class Registered:
    """A base whose instances are keyed by a registered hasher (its config)."""

    def __init__(self, k: int) -> None:
        self.k = k


memokey.register_hasher(Registered, lambda obj: obj.k)


def _registered_subclass(offset: int) -> type[Registered]:
    class Shifted(Registered):  # every call makes a class with the same qualified name
        def apply(self, x: int) -> int:
            return self.k * x + offset

    return Shifted


def test_registered_hasher_instances_of_same_named_factory_classes_never_share_results() -> None:
    @memokey_memoize("memory://review-registered")
    def apply(obj: Registered, x: int) -> int:
        return obj.apply(x)  # type: ignore[attr-defined, no-any-return]

    plus_one, plus_two = _registered_subclass(1)(2), _registered_subclass(2)(2)
    assert apply.key_for(plus_one, 5) != apply.key_for(plus_two, 5)
    assert (apply(plus_one, 5), apply(plus_two, 5)) == (11, 12)


@dataclasses.dataclass(frozen=True)
class Settings:
    scale: int

    @memokey_memoize("memory://review-dataclass")
    def apply(self, x: int) -> int:
        return self.scale * x


class Mode(enum.Enum):
    FAST = 1

    @memokey_memoize("memory://review-enum")
    def apply(self, x: int) -> int:
        return self.value * x


class Pair(NamedTuple):
    left: int

    @memokey_memoize("memory://review-namedtuple")
    def apply(self, x: int) -> int:
        return self.left * x


@pytest.mark.parametrize("cls", [Settings, Mode, Pair])
def test_methods_of_dataclasses_enums_and_namedtuples_are_fingerprinted_from_source(
    cls: type,
) -> None:
    # their generated members (dataclass __init__, Enum.__new__, namedtuple __new__) come
    # from "<string>" or the standard library: the class's own file has its source
    assert memokey.code_fingerprint(vars(cls)["apply"]).from_source
