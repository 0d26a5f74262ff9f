"""Hypothesis properties: equal values give equal digests, different values (including
values of different types) give different digests, and set order never matters."""

from __future__ import annotations

import copy
import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from memokey.hashing import digest

atoms = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text(max_size=20)
    | st.binary(max_size=20)
)
hashables = st.recursive(atoms, lambda inner: st.tuples(inner, inner), max_leaves=5)
values = st.recursive(
    atoms,
    lambda inner: (
        st.lists(inner, max_size=40)
        | st.tuples(inner, inner)
        | st.dictionaries(hashables, inner, max_size=20)
        | st.sets(hashables, max_size=20)
        | st.frozensets(hashables, max_size=10)
    ),
    max_leaves=60,
)


def canon(value: Any) -> Any:
    """A comparison that sees exactly what a pure function could: types, float bits,
    dict order; but not set order."""
    kind = type(value).__name__
    if isinstance(value, float):
        return (kind, struct.pack("<d", value))
    if isinstance(value, (list, tuple)):
        return (kind, tuple(canon(v) for v in value))
    if isinstance(value, dict):
        return (kind, tuple((canon(k), canon(v)) for k, v in value.items()))
    if isinstance(value, (set, frozenset)):
        return (kind, tuple(sorted((canon(v) for v in value), key=repr)))
    return (kind, value)


@settings(max_examples=60, deadline=None)
@given(values)
def test_equal_values_have_equal_digests(value: Any) -> None:
    assert digest(value) == digest(copy.deepcopy(value))


@settings(max_examples=80, deadline=None)
@given(values, values)
def test_digests_are_equal_exactly_when_values_are_indistinguishable(left: Any, right: Any) -> None:
    assert (digest(left) == digest(right)) == (canon(left) == canon(right))


@settings(max_examples=40, deadline=None)
@given(st.lists(hashables, max_size=40))
def test_set_order_is_irrelevant(items: list[Any]) -> None:
    # Equal but distinguishable elements (False, 0, 0.0) would make set() keep whichever
    # comes first; those sets really hold different values, so keep one of each.
    distinct: list[Any] = []
    for item in items:
        if all(item != seen for seen in distinct):
            distinct.append(item)
    items, backwards = distinct, distinct[::-1]
    assert digest(set(items)) == digest(set(backwards))
    assert digest(frozenset(items)) == digest(frozenset(backwards))
    assert digest([set(items)] * 20) == digest([set(backwards)] * 20)


@settings(max_examples=40, deadline=None)
@given(atoms)
def test_a_value_and_its_containers_have_different_digests(value: Any) -> None:
    digests = {digest(value), digest([value]), digest((value,)), digest(str(value))}
    assert len(digests) == (3 if isinstance(value, str) and str(value) == value else 4)


@settings(max_examples=40, deadline=None)
@given(st.integers())
def test_int_float_and_str_of_one_number_differ(number: int) -> None:
    forms = [number, str(number), [number]]
    if abs(number) < 2**53:
        forms.append(float(number))
    assert len({digest(form) for form in forms}) == len(forms)
