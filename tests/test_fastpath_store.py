"""Local stores read, check and delete with plain OS calls; they must answer exactly as the
general fsspec path does, and the `fsync` option must be a real, validated choice."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import memokey
from memokey_backends import (
    InvalidRootError,
    Store,
    StoreError,
    WriteConflictError,
    fsspec_store,
    open_store,
)
from memokey_backends._local import TMP_PREFIX


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(f"file://{tmp_path}/root")


@pytest.fixture
def chained(tmp_path: Path) -> Store:
    """The same root behind a caching layer: reads go through fsspec, not the fast path."""
    return open_store(
        f"simplecache::file://{tmp_path}/root",
        simplecache={"cache_storage": str(tmp_path / "cache")},
    )


def test_fast_read_returns_what_was_written(store: Store) -> None:
    store.write("a/b/result", b"payload", exclusive=True)
    assert store.read("a/b/result") == b"payload"


def test_fast_read_of_an_empty_object_is_empty_bytes(store: Store) -> None:
    store.write("a/empty", b"")
    assert store.read("a/empty") == b""


def test_fast_read_of_an_absent_object_is_none(store: Store) -> None:
    assert store.read("never/written") is None


def test_fast_and_general_reads_agree(store: Store, chained: Store) -> None:
    store.write("x/y/result", b"\x00\x01" * 1000, exclusive=True)
    assert store.read("x/y/result") == chained.read("x/y/result")
    assert store.read("x/absent") is chained.read("x/absent") is None


def test_a_large_object_is_read_whole(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fsspec_store, "_ONE_READ", 16)  # force the looping reader
    data = bytes(range(256)) * 300
    store.write("big/result", data)
    assert store.read("big/result") == data


def test_reading_a_directory_raises_a_store_error(store: Store) -> None:
    store.write("dir/inside", b"x")
    with pytest.raises(StoreError):
        store.read("dir")


def test_dot_segments_are_refused_on_the_fast_path(store: Store) -> None:
    for path in ("../escape", "a/../b", "./a", "/abs"):
        with pytest.raises(InvalidRootError):
            store.read(path)
        with pytest.raises(InvalidRootError):
            store.exists(path)
        with pytest.raises(InvalidRootError):
            store.delete(path)


def test_hidden_names_are_still_readable(store: Store) -> None:
    store.write("a/.hidden", b"h")
    assert store.read("a/.hidden") == b"h"
    assert store.exists("a/.hidden")


def test_exists_sees_objects_and_directories(store: Store) -> None:
    store.write("e/f/result", b"1")
    assert store.exists("e/f/result")
    assert store.exists("e/f")
    assert not store.exists("e/g")


def test_delete_removes_an_object_and_ignores_an_absent_one(store: Store) -> None:
    store.write("d/result", b"1")
    store.delete("d/result")
    store.delete("d/result")
    assert store.read("d/result") is None


def test_delete_of_a_directory_without_recursive_takes_the_general_path(
    store: Store, chained: Store
) -> None:
    store.write("tree/leaf", b"1")
    outcomes = []
    for each in (store, chained):
        try:
            each.delete("tree")
            outcomes.append("deleted")
        except StoreError as exc:
            outcomes.append(type(exc).__name__)
    assert outcomes[0] == outcomes[1]


def test_writes_leave_no_temporary_files(store: Store, tmp_path: Path) -> None:
    store.write("w/result", b"1", exclusive=True)
    with pytest.raises(WriteConflictError):
        store.write("w/result", b"2", exclusive=True)
    store.write("w/meta.json", b"{}")
    store.write("w/meta.json", b"{ }")
    names = os.listdir(tmp_path / "root" / "w")
    assert sorted(names) == ["meta.json", "result"]
    assert not [n for n in names if n.startswith(TMP_PREFIX)]


def test_fsync_option_writes_durably_and_reads_back(tmp_path: Path) -> None:
    durable = open_store(f"file://{tmp_path}/durable", fsync=True)
    durable.write("new/dirs/result", b"kept", exclusive=True)
    durable.write("new/dirs/meta.json", b"{}")
    assert durable.read("new/dirs/result") == b"kept"


def test_fsync_option_must_be_a_bool(tmp_path: Path) -> None:
    with pytest.raises(InvalidRootError, match="fsync must be True or False"):
        open_store(f"file://{tmp_path}/bad", fsync="yes")


def test_fsync_option_reaches_the_store_through_memoize(tmp_path: Path) -> None:
    memo = memokey.memoize(f"file://{tmp_path}/m", storage_options={"fsync": True})(_double)
    assert memo(4) == 8
    assert memo(4) == 8
    bad = memokey.memoize(f"file://{tmp_path}/m", storage_options={"fsync": "yes"})(_double)
    with pytest.raises(InvalidRootError):
        bad(4)


def _double(x: int) -> int:
    return 2 * x


def test_a_failing_local_write_raises_the_same_store_error_as_the_general_path(
    store: Store, chained: Store
) -> None:
    store.write("blocker", b"a file where a directory should be")
    errors = []
    for each in (store, chained):
        with pytest.raises(StoreError) as caught:
            each.write("blocker/child", b"x")
        errors.append(type(caught.value))
    assert errors[0] is errors[1]
