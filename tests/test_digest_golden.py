"""Pinned golden vectors: a digest that changes would orphan every stored result, so any
change needs a new key scheme (a new storage path) and regenerated vectors."""

from __future__ import annotations

import json

import pytest

import memokey.keys as keys
from helpers.keys import GOLDEN_PATH, compute


@pytest.fixture(scope="module")
def pinned() -> dict[str, object]:
    return json.loads(GOLDEN_PATH.read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def current() -> dict[str, str]:
    return compute()


def test_golden_vectors_belong_to_the_current_scheme(pinned: dict[str, object]) -> None:
    assert pinned["scheme"] == keys.SCHEME


def test_every_golden_value_is_pinned(pinned: dict[str, object], current: dict[str, str]) -> None:
    assert set(pinned["digests"]) == set(current)  # type: ignore[arg-type]


def test_digests_match_the_golden_vectors(
    pinned: dict[str, object], current: dict[str, str]
) -> None:
    expected = pinned["digests"]
    changed = {name: value for name, value in current.items() if expected.get(name) != value}  # type: ignore[attr-defined]
    assert not changed, (
        f"digests changed for {sorted(changed)}: bump keys.SCHEME and regenerate with "
        "`python tests/helpers/keys.py --write`"
    )


def test_golden_digests_are_all_distinct(current: dict[str, str]) -> None:
    # Layout twins (C/Fortran order of one array) are the only intended equalities.
    twins = {current["ndarray_f8"], current["ndarray_fortran"]}
    assert len(twins) == 1
    assert len(set(current.values())) == len(current) - 1
