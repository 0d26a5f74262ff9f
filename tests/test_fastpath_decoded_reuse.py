"""A hit that reads exactly the bytes it decoded last time may reuse the immutable value
(`memokey._decoded`); every hit still reads the entry, so nothing stored after the
value was decoded is ever missed: tampering, replacement, deletion, settings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import memokey
from memokey.errors import ResultCorruptedError
from memokey_backends import open_store

RUNS: list[Any] = []


def pair(x: int) -> tuple[int, str]:
    RUNS.append(x)
    return (x, "value")


def listed(x: int) -> list[int]:
    RUNS.append(x)
    return [x]


def _dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


def _entry(f: Any, *args: Any) -> Path:
    return Path(f.key_for(*args).uri.removeprefix("file://"))


def _warm(f: Any, *args: Any) -> Any:
    for _ in range(20):
        value = f(*args)
    return value


@pytest.fixture(autouse=True)
def _reset() -> None:
    RUNS.clear()


def test_a_byte_flipped_in_the_payload_after_warm_hits_is_refused(tmp_path: Path) -> None:
    f = memokey.memoize(tmp_path.as_uri())(pair)
    _warm(f, 1)
    path = _entry(f, 1)
    data = bytearray(path.read_bytes())
    payload_byte = data.index(b"value")
    data[payload_byte] ^= 0x01  # same length, same header: only the checksum can tell
    path.write_bytes(bytes(data))
    with pytest.raises(ResultCorruptedError):
        f(1)
    assert RUNS == [1]


def test_an_entry_replaced_after_warm_hits_returns_the_new_value(tmp_path: Path) -> None:
    f = memokey.memoize(tmp_path.as_uri())(pair)
    _warm(f, 2)
    other = memokey.memoize((tmp_path / "other").as_uri())(pair)
    other(3)
    _entry(f, 2).write_bytes(_entry(other, 3).read_bytes())  # another entry's bytes
    assert f(2) == (3, "value")


def test_an_entry_deleted_after_warm_hits_is_computed_again(tmp_path: Path) -> None:
    f = memokey.memoize(tmp_path.as_uri())(pair)
    _warm(f, 4)
    _entry(f, 4).unlink()
    assert f(4) == (4, "value")
    assert RUNS == [4, 4]


def test_a_mutable_result_is_a_fresh_object_on_every_hit(tmp_path: Path) -> None:
    f = memokey.memoize(tmp_path.as_uri())(listed)
    f(5)
    first = f(5)
    first.append("changed by the caller")
    assert f(5) == [5]
    assert f(5) is not f(5)


def test_a_signed_entry_reused_is_refused_once_the_key_changes(tmp_path: Path) -> None:
    old = memokey.memoize(tmp_path.as_uri(), signing_key="the-first-signing-key-long-enough")(pair)
    _warm(old, 6)
    new = memokey.memoize(tmp_path.as_uri(), signing_key="another-signing-key-long-enough")(pair)
    with pytest.raises(memokey.MemokeyError):
        new(6)


def test_a_serializer_registered_again_decodes_entries_afresh(tmp_path: Path) -> None:
    memokey.register_serializer("reuse-json", _dumps, json.loads, clobber=True)
    f = memokey.memoize(tmp_path.as_uri(), serializer="reuse-json")(pair)
    f(7)
    assert _warm(f, 7) == [7, "value"]  # json: a list comes back (mutable: never reused)
    f8 = memokey.memoize(tmp_path.as_uri(), serializer="reuse-json")(lambda x: f"s{x}")
    assert _warm(f8, 8) == "s8"
    memokey.register_serializer(
        "reuse-json", _dumps, lambda data: "decoded by the new one", clobber=True
    )
    try:
        assert f8(8) == "decoded by the new one"
    finally:
        memokey.register_serializer("reuse-json", _dumps, json.loads, clobber=True)


def test_every_warm_hit_still_reads_the_entry(tmp_path: Path) -> None:
    f = memokey.memoize(tmp_path.as_uri())(pair)
    _warm(f, 9)
    store = open_store(tmp_path.as_uri())
    store.delete(f.key_for(9).path)
    store.write(f.key_for(9).path, memokey.results.encode_result((9, "rewritten")))
    assert f(9) == (9, "rewritten")
