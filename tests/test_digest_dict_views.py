"""dict views are keyed by their kind and the dict they view: a view exposes that whole
dict through ``.mapping`` (and iterates in its order), so two views are one value only
when their dicts are."""

from __future__ import annotations

import collections

from memokey.hashing import digest


def test_dict_views_are_keyed() -> None:
    d = {"a": 1, "b": 2}
    assert digest(d.keys()) == digest({"a": 1, "b": 2}.keys())
    assert digest(d.values()) == digest({"a": 1, "b": 2}.values())
    assert digest(d.items()) == digest({"a": 1, "b": 2}.items())


def test_the_three_kinds_of_view_and_the_dict_differ() -> None:
    d = {"a": 1}
    assert len({digest(d), digest(d.keys()), digest(d.values()), digest(d.items())}) == 4


def test_view_content_and_order_are_part_of_the_key() -> None:
    assert digest({"a": 1, "b": 2}.keys()) != digest({"b": 2, "a": 1}.keys())
    assert digest({"a": 1}.values()) != digest({"a": 2}.values())
    assert digest({"a": 1}.items()) != digest({"b": 1}.items())


def test_a_keys_view_is_keyed_with_the_values_it_exposes() -> None:
    # `view.mapping["a"]` reads the value, so equal keys over different values differ.
    assert digest({"a": 1}.keys()) != digest({"a": 2}.keys())


def test_views_of_dict_subclasses_keep_the_subclass() -> None:
    plain = {"a": 1}
    ordered = collections.OrderedDict(plain)
    defaulted = collections.defaultdict(int, plain)
    keys = {digest(plain.keys()), digest(ordered.keys()), digest(defaulted.keys())}
    assert len(keys) == 3


def test_a_large_view_is_keyed_by_value() -> None:
    big = {f"k{i}": i for i in range(1000)}
    assert digest(big.items()) == digest(dict(big).items())
    assert digest([big.values()]) != digest([{**big, "k0": -1}.values()])
