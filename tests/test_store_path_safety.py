"""The store refuses object paths that a backend would parse instead of store.

The core validates namespaces and logic keys, but the store must be safe on its own:
``?versionId=`` in a path gave `ResultCorruptedError` on S3, ``?versionid=`` made Azure
calls loop forever, a NUL byte escaped as a raw `ValueError`, and ``*``/``[`` would make
a delete match other objects (fsspec expands glob patterns). Such paths are refused, on
every backend, before any request, with `InvalidPathError` (a `ConfigurationError`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from memokey_backends import ConfigurationError, InvalidPathError, Store, open_store

UNSAFE = [
    "ns?versionId=1/f/d",
    "ns?versionid=1/f/d",
    "ns#frag/f/d",
    "ns\x00/f/d",
    "ns/f\\g/d",
    "ns/f\n/d",
    "ns/f\x1b[31m/d",
    "ns/f\x7f/d",
    "ns/*/d",
    "ns/[ab]/d",
    "ns/../d",
    "ns/./d",
    "..",
]
OPERATIONS: dict[str, Callable[[Store, str], object]] = {
    "read": lambda s, p: s.read(p),
    "read_versioned": lambda s, p: s.read_versioned(p),
    "write": lambda s, p: s.write(p, b"x"),
    "exclusive write": lambda s, p: s.write(p, b"x", exclusive=True),
    "swap": lambda s, p: s.swap(p, b"x", version="1"),
    "exists": lambda s, p: s.exists(p),
    "info": lambda s, p: s.info(p),
    "list": lambda s, p: s.list(p),
    "delete": lambda s, p: s.delete(p),
    "recursive delete": lambda s, p: s.delete(p, recursive=True),
}


@pytest.mark.parametrize("path", UNSAFE, ids=repr)
def test_every_operation_refuses_a_path_with_characters_a_backend_would_parse(
    store_root: tuple[str, dict[str, Any]], path: str
) -> None:
    store = open_store(store_root[0], **store_root[1])
    store.write("ns/keep/d", b"kept")
    for name, operation in OPERATIONS.items():
        with pytest.raises(InvalidPathError) as info:
            operation(store, path)
        assert repr(path) in str(info.value), name
    assert store.read("ns/keep/d") == b"kept"
    assert [e.path for e in store.list("", recursive=True)] == ["ns/keep/d"]


def test_an_unsafe_path_is_a_configuration_error_naming_the_allowed_characters(
    memory_root: tuple[str, dict[str, Any]],
) -> None:
    store = open_store(memory_root[0])
    with pytest.raises(ConfigurationError) as info:
        store.read("ns?versionId=1/f/d")
    assert "letters, digits" in str(info.value)


def test_names_with_angle_brackets_dashes_plus_and_at_signs_stay_usable(
    store_root: tuple[str, dict[str, Any]],
) -> None:
    store = open_store(store_root[0], **store_root[1])
    path = "memokey-v2/my.ns_1+x/mod--f.<locals>.<lambda>@v2/0123abcd"
    store.write(path, b"ok", exclusive=True)
    assert store.read(path) == b"ok"


def test_a_recursive_delete_removes_a_symlink_not_what_it_points_to(tmp_path: Any) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_bytes(b"keep")
    store = open_store(str(tmp_path / "root"))
    store.write("ns/keep", b"x")
    (tmp_path / "root" / "ns" / "link").symlink_to(outside, target_is_directory=True)
    store.delete("ns/link", recursive=True)
    assert (outside / "precious").read_bytes() == b"keep"
    assert not (tmp_path / "root" / "ns" / "link").exists()
