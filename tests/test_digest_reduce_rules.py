"""Objects keyed through ``__reduce_ex__`` are keyed by everything pickle rebuilds them
from, and by a global name only when that name imports back to the very same object."""

from __future__ import annotations

import collections
from typing import Any

import pytest

from memokey.errors import UnkeyableArgumentError
from memokey.hashing import digest


def _set_a(obj: Any, state: Any) -> None:
    obj.a = state


def _set_b(obj: Any, state: Any) -> None:
    obj.b = state


class WithSetter:
    def __init__(self, setter: Any) -> None:
        self.setter = setter

    def __reduce_ex__(self, protocol: object) -> Any:
        return (WithSetter.__new__, (WithSetter,), 1, None, None, self.setter)


def test_state_setter_is_part_of_the_key() -> None:
    assert digest(WithSetter(_set_a)) != digest(WithSetter(_set_b))


class Named:
    """Reduces to a global name, as singletons do."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __reduce__(self) -> str:
        return self.name


SENTINEL = Named("SENTINEL")


def test_an_object_reducing_to_its_own_global_name_is_keyed_by_it() -> None:
    assert digest(SENTINEL) == digest(SENTINEL)
    assert digest(SENTINEL) != digest(Ellipsis)
    assert digest(Ellipsis) == digest(...)
    assert digest(NotImplemented) != digest(Ellipsis)


def test_an_object_whose_global_name_is_another_object_is_refused() -> None:
    impostor = Named("SENTINEL")  # pickle would load SENTINEL, which is another object
    with pytest.raises(UnkeyableArgumentError, match="SENTINEL"):
        digest(impostor)
    with pytest.raises(UnkeyableArgumentError):
        digest(Named("no_such_name"))


Pair = collections.namedtuple("Pair", "x y")


class TaggedPair(Pair):
    pass


def test_namedtuple_subclass_attributes_are_part_of_the_key() -> None:
    left, right = TaggedPair(1, 2), TaggedPair(1, 2)
    left.tag = "a"  # type: ignore[attr-defined]
    right.tag = "b"  # type: ignore[attr-defined]
    assert digest(left) != digest(right)
    assert digest(TaggedPair(1, 2)) == digest(TaggedPair(1, 2))
