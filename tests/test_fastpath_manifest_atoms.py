"""A miss describes small int, float, str, bool and None arguments without the encoder
or reprlib; what it writes in the manifest and the argument summary is exactly what the
general path writes."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from memokey import manifest, meta
from memokey.hashing import digest

atoms = st.one_of(
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=100),
    st.booleans(),
    st.none(),
)


def _general_manifest(value: Any) -> dict[str, Any]:
    return {**manifest._leaf(value), "hasher": manifest._hasher(value)}


@settings(max_examples=500, deadline=None)
@given(atoms)
def test_an_atom_is_described_as_the_general_path_describes_it(value: Any) -> None:
    assert manifest.argument_manifest(value) == _general_manifest(value)
    assert (meta.atom_repr(value) or meta.short_repr(value)) == meta.short_repr(value)


@settings(max_examples=300, deadline=None)
@given(atoms)
def test_the_digest_in_the_manifest_is_the_key_engines(value: Any) -> None:
    assert manifest.argument_manifest(value)["digest"] == digest(value)


class Number(int):
    """A subclass: not an atom (its own type name, maybe its own repr)."""

    def __repr__(self) -> str:
        return "Number(...)"


def test_subclasses_of_atoms_take_the_general_path() -> None:
    described = manifest.argument_manifest(Number(3))
    assert described["type"].endswith("Number")
    assert described["repr"] == "Number(...)"
