"""The shortcuts of a tiny miss change no byte that is written and no place that is
locked: a same-thread miss runs under one step driver, the lock file sits where
`os.path.join(os.path.dirname(entry), LOCK_FILE)` puts it, and the header and trailer
JSON are exactly what ``json.dumps`` gives."""

from __future__ import annotations

import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import memokey
from memokey import _steps, entry_format
from memokey._local_locks import LOCK_FILE, lock_for
from memokey._targets import read_entry
from memokey.results import _encode_trailer, read_meta
from memokey.shims import ExecutorShim
from memokey_backends import open_store

DRIVERS: list[int] = []


def _drivers_on_stack() -> int:
    frame = sys._getframe()
    count = 0
    while frame is not None:
        count += frame.f_code is _steps.drive.__code__
        frame = frame.f_back  # type: ignore[assignment]
    return count


def add(a: int, b: int) -> int:
    DRIVERS.append(_drivers_on_stack())
    return a + b


def test_a_same_thread_miss_runs_the_function_under_one_step_driver(tmp_path: Path) -> None:
    DRIVERS.clear()
    memoized = memokey.memoize(tmp_path.as_uri())(add)
    assert memoized(1, 2) == 3
    assert memoized(1, 2) == 3  # a hit: not run again
    assert DRIVERS == [1]


def test_a_miss_on_a_thread_pool_shim_still_runs_there_and_publishes(tmp_path: Path) -> None:
    DRIVERS.clear()
    with ThreadPoolExecutor(max_workers=2) as pool:
        memoized = memokey.memoize(tmp_path.as_uri(), shim=ExecutorShim(pool))(add)
        assert memoized(2, 2) == 4
        assert memoized(2, 2) == 4
    assert len(DRIVERS) == 1


@pytest.mark.parametrize(
    "entry",
    ["/root/ns/fn/abcd", "/x", "rel/dir/entry", "entry", "/a b/ü/fn=1/d"],
)
def test_the_lock_file_sits_where_os_path_join_puts_it(entry: str) -> None:
    lock = lock_for(entry, "0" * 32)
    if lock is None:
        pytest.skip("no fcntl: no local locks")
    assert lock.lock_file == os.path.join(os.path.dirname(entry), LOCK_FILE)


json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=20),
)
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
fields = st.dictionaries(st.text(max_size=12), json_value, max_size=8)


@settings(max_examples=200, deadline=None)
@given(extra=fields)
def test_header_fields_are_exactly_what_json_dumps_gives(extra: dict[str, Any]) -> None:
    header, _ = entry_format.pack_header("pickle", extra)
    expected = json.dumps(extra, separators=(",", ":"), sort_keys=True).encode() if extra else b""
    start = len(entry_format.MAGIC) + 2 + len("pickle") + 4
    assert header[start : start + len(expected)] == expected
    assert header[start - 4 : start] == len(expected).to_bytes(4, "big")


class Odd:
    def __str__(self) -> str:
        return "odd"


@settings(max_examples=200, deadline=None)
@given(meta=fields, size=st.integers(min_value=0, max_value=2**40), odd=st.booleans())
def test_the_trailer_is_exactly_what_json_dumps_gives(
    meta: dict[str, Any], size: int, odd: bool
) -> None:
    if odd:
        meta = {**meta, "odd": Odd()}  # not JSON: written as its str()
    trailer = _encode_trailer(meta, "pickle", size, 3.5)
    plain = dict(meta)
    plain["serializer"] = "pickle"
    plain["payload_bytes"] = size
    plain.setdefault("result_type", "builtins.float")
    assert trailer == json.dumps(plain, separators=(",", ":"), default=str).encode()


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"tiny entry",
        bytearray(b"a bytearray"),
        memoryview(b"a view"),
        [b"one part"],
        [b"head", memoryview(b"-middle-"), bytearray(b"tail")],
        [b"x" * 100_000],
    ],
    ids=["empty", "bytes", "bytearray", "memoryview", "one-part", "parts", "large"],
)
def test_a_local_write_stores_exactly_the_bytes_given(tmp_path: Path, data: Any) -> None:
    store = open_store(tmp_path.as_uri())
    expected = b"".join(data) if isinstance(data, list) else bytes(data)
    store.write_parts("fn/entry", data if isinstance(data, list) else [data], exclusive=True)
    assert (tmp_path / "fn" / "entry").read_bytes() == expected
    assert os.listdir(tmp_path / "fn") == ["entry"]  # no temporary file left behind


@pytest.mark.parametrize(
    "options",
    [{}, {"logic_key": "v7"}, {"code": "key"}, {"namespace": "other"}],
    ids=["plain", "logic-key", "code-keyed", "namespace"],
)
def test_the_trailer_names_the_key_the_call_was_stored_under(
    tmp_path: Path, options: dict[str, Any]
) -> None:
    memoized = memokey.memoize(tmp_path.as_uri(), **options)(add)
    assert memoized(3, 4) == 7
    runner = memoized.__memokey_runner__  # type: ignore[attr-defined]
    target = runner.target(add, (3, 4), {})
    key = target.key
    stored = read_meta(bytes(read_entry(target.store, target.path)), target.uri)
    assert (stored["uri"], stored["function_id"], stored["logic_key"]) == (
        key.uri,
        key.function_id,
        key.logic_key,
    )
    assert (stored["namespace"], stored["digest"]) == (key.namespace, key.digest)
