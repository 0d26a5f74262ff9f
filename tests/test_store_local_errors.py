"""Errors on local roots speak of paths and directories, not credentials and buckets.

Each names the path and the fix (make it writable, or choose another root with
``memokey.root(...)`` / ``MEMOKEY_ROOT``); cloud errors keep their credential hints. The
tests run as root, which ignores permission bits, so they provoke errors with a file
where a directory should be, ``/proc`` and translated `OSError`s.
"""

from __future__ import annotations

import errno
from pathlib import Path

import pytest

import memokey
from memokey_backends import StoreError, StorePermissionError, open_store
from memokey_backends._translate import translate

CLOUD_WORDS = ("credential", "bucket")


def _assert_local_advice(message: str, path: str) -> None:
    assert path in message
    assert "MEMOKEY_ROOT" in message
    assert "memokey.root(" in message
    assert not any(word in message.lower() for word in CLOUD_WORDS), message
    assert "unexpected" not in message


def test_a_root_below_a_regular_file_says_a_path_component_is_not_a_directory(
    tmp_path: Path,
) -> None:
    (tmp_path / "a-file").write_bytes(b"")
    root = tmp_path / "a-file" / "memo"
    store = open_store(str(root))
    with pytest.raises(StoreError) as info:
        store.write("ns/f/d", b"x", exclusive=True)
    _assert_local_advice(str(info.value), str(root))
    assert "not a directory" in str(info.value)


def test_a_root_under_proc_says_the_directory_cannot_be_created() -> None:
    store = open_store("/proc/memokey-test-x")
    with pytest.raises(StoreError) as info:
        store.write("ns/f/d.lease", b"x", exclusive=True)
    _assert_local_advice(str(info.value), "/proc/memokey-test-x")
    assert "cannot be created" in str(info.value)


def test_a_memoized_call_on_an_unusable_root_names_the_path_and_the_fix() -> None:
    @memokey.memoize(root="/proc/memokey-test-y")
    def f(x: int) -> int:
        return x

    with pytest.raises(StoreError) as info:
        f(1)
    _assert_local_advice(str(info.value), "/proc/memokey-test-y")


@pytest.mark.parametrize(
    "exc",
    [
        PermissionError(errno.EACCES, "Permission denied", "/data/memo/ns"),
        OSError(errno.EROFS, "Read-only file system", "/data/memo/ns"),
    ],
    ids=["permission-denied", "read-only"],
)
def test_an_unwritable_local_root_says_make_it_writable(exc: OSError) -> None:
    err = translate(exc, op="write", uri="file:///data/memo/ns/f/d")
    assert type(err) is StorePermissionError
    _assert_local_advice(str(err), "/data/memo/ns/f/d")
    assert "writable" in str(err)


def test_a_cloud_permission_error_keeps_its_credential_hint() -> None:
    err = translate(PermissionError("denied"), op="write", uri="s3://b/memo/k")
    assert "credentials" in str(err)
    assert "bucket" in str(err)
