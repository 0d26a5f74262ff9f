"""Local reads check a path in a directory already seen plain by its last segment only
(`FsspecStore._os_path`): a name in that directory that is not plain is still refused
exactly as in a fresh store, and never escapes the root."""

from __future__ import annotations

from pathlib import Path

import pytest

from memokey_backends import InvalidPathError, open_store

NOT_PLAIN_NAMES = ["..", ".", "name?versionId=1", "a*b", "[ab]", "x\x00y", "a\\b", "\x1b[31m"]


@pytest.mark.parametrize("name", NOT_PLAIN_NAMES, ids=repr)
def test_a_name_that_is_not_plain_is_refused_in_a_directory_seen_plain(
    tmp_path: Path, name: str
) -> None:
    store = open_store(tmp_path.as_uri())
    store.write("ns/fn/entry", b"kept")
    for _ in range(3):
        assert store.read("ns/fn/entry") == b"kept"  # the directory is now known plain
    with pytest.raises(InvalidPathError):
        store.read(f"ns/fn/{name}")


def test_a_hidden_name_in_a_directory_seen_plain_is_read_through_the_checked_path(
    tmp_path: Path,
) -> None:
    store = open_store(tmp_path.as_uri())
    store.write("ns/fn/entry", b"kept")
    assert store.read("ns/fn/entry") == b"kept"
    (tmp_path / "ns" / "fn" / ".hidden").write_bytes(b"hidden")
    assert store.read("ns/fn/.hidden") == b"hidden"  # allowed, but checked in full


def test_a_path_with_an_empty_first_segment_never_matches_a_known_directory(
    tmp_path: Path,
) -> None:
    store = open_store(tmp_path.as_uri())
    store.write("entry", b"top")
    store.write("ns/entry", b"kept")
    assert store.read("ns/entry") == b"kept"
    with pytest.raises(InvalidPathError):
        store.read("/entry")
