"""The hit fast path reads memokey's environment variables cheaply (a dict lookup,
parsed once per value), but never stale: a variable set or cleared while the process
runs applies to the very next call, after any number of warm hits."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import memokey
from memokey.errors import SignatureError

CALLS: list[int] = []

SIGNING_KEY = "k1:" + "ab" * 32


def triple(x: int) -> int:
    CALLS.append(x)
    return 3 * x


@pytest.fixture(autouse=True)
def _clean_env() -> Iterator[None]:
    names = ("MEMOKEY_MODE", "MEMOKEY_SIGNING_KEY", "MEMOKEY_ROOT", "MEMOKEY_ALLOW_PICKLE")
    saved = {name: os.environ.pop(name, None) for name in names}
    CALLS.clear()
    yield
    for name, value in saved.items():
        os.environ.pop(name, None)
        if value is not None:
            os.environ[name] = value


def _warm(f: memokey.MemoizedFunction[[int], int], x: int) -> None:
    for _ in range(50):
        assert f(x) == 3 * x


def test_memokey_mode_set_at_run_time_applies_to_the_next_call(tmp_path: Path) -> None:
    f = memokey.memoize(tmp_path.as_uri())(triple)
    _warm(f, 1)
    os.environ["MEMOKEY_MODE"] = "offline"
    with pytest.raises(memokey.OfflineMissError):
        f(2)  # a miss is refused at once, not after the cached "normal" expires
    os.environ["MEMOKEY_MODE"] = "off"
    assert f(1) == 3  # off: the function runs although the entry is there
    assert CALLS == [1, 1]
    del os.environ["MEMOKEY_MODE"]
    _warm(f, 1)
    assert CALLS == [1, 1]
    os.environ["MEMOKEY_MODE"] = "refresh"
    f(1)
    assert CALLS == [1, 1, 1]


def test_a_malformed_memokey_mode_set_at_run_time_is_reported(tmp_path: Path) -> None:
    f = memokey.memoize(tmp_path.as_uri())(triple)
    _warm(f, 1)
    os.environ["MEMOKEY_MODE"] = "sometimes"
    with pytest.raises(memokey.ConfigurationError, match="MEMOKEY_MODE"):
        f(1)


def test_a_signing_key_set_at_run_time_refuses_the_next_unsigned_hit(tmp_path: Path) -> None:
    f = memokey.memoize(tmp_path.as_uri())(triple)
    _warm(f, 4)
    os.environ["MEMOKEY_SIGNING_KEY"] = SIGNING_KEY
    with pytest.raises(SignatureError):
        f(4)
    del os.environ["MEMOKEY_SIGNING_KEY"]
    assert f(4) == 12


def test_memokey_root_set_at_run_time_moves_the_next_call(tmp_path: Path) -> None:
    os.environ["MEMOKEY_ROOT"] = (tmp_path / "a").as_uri()
    f = memokey.memoize(triple)
    _warm(f, 5)
    os.environ["MEMOKEY_ROOT"] = (tmp_path / "b").as_uri()
    assert f(5) == 15
    assert CALLS == [5, 5]  # computed again in the new root
    assert f.key_for(5).uri.startswith((tmp_path / "b").as_uri())


def test_refusing_pickle_at_run_time_refuses_the_next_pickled_hit(tmp_path: Path) -> None:
    f = memokey.memoize(tmp_path.as_uri())(triple)
    _warm(f, 6)
    os.environ["MEMOKEY_ALLOW_PICKLE"] = "0"
    with pytest.raises(memokey.ConfigurationError):
        f(6)
