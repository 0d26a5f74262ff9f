"""What a runner caches between calls never changes which key or root a call uses."""

from __future__ import annotations

from pathlib import Path

import pytest

import memokey
from memokey.keys import (
    MemoKey,
    bind_call,
    call_digest,
    entry_digest,
    function_id,
    memo_dir,
    place_salt,
)
from memokey.roots import ENV_VAR, RootCache, root, select_root
from memokey.runners import MemoizingRunner

CALLS: list[object] = []


def record(x: int) -> int:
    CALLS.append(x)
    return x


def echo(a: object, b: object = None, *rest: object, **extra: object) -> object:
    CALLS.append(a)
    return (a, b, rest, extra)


def _url(root_url: str) -> str:
    return select_root(root_url).open().url


def versioned(a: int) -> int:
    """function-logic-key: v2"""
    return a


@pytest.fixture(autouse=True)
def _no_env_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    CALLS.clear()


def test_cached_key_equals_a_key_built_from_scratch(tmp_path: Path) -> None:
    runner = MemoizingRunner(f"file://{tmp_path}", namespace="exp")
    for _ in range(2):  # the second call is served from the caches
        key = runner.key_for(versioned, (1,), {})
        store_url = select_root(f"file://{tmp_path}").open().url
        arguments = call_digest(versioned, bind_call(versioned, (1,), {}))
        salt = place_salt(memo_dir("exp", function_id(versioned), "v2", ""))
        digest = entry_digest(salt, arguments)
        assert key == MemoKey.build("exp", function_id(versioned), "v2", digest, store_url)


def test_root_cache_follows_the_environment_between_calls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = RootCache(None)
    monkeypatch.setenv(ENV_VAR, "memory://first-root")
    assert cache.store().url == _url("memory://first-root")
    monkeypatch.setenv(ENV_VAR, "memory://second-root")
    assert cache.store().url == _url("memory://second-root")


def test_root_cache_prefers_the_active_context_root() -> None:
    cache = RootCache("memory://runner-root")
    assert cache.store().url == _url("memory://runner-root")
    with root("memory://context-root"):
        assert cache.store().url == _url("memory://context-root")
    with root("memory://another-context"):
        assert cache.store().url == _url("memory://another-context")
    assert cache.store().url == _url("memory://runner-root")


def test_root_cache_without_any_root_uses_the_default_directory() -> None:
    assert RootCache(None).store().url == select_root(None).open().url


def test_a_hit_after_switching_roots_reads_the_new_root(tmp_path: Path) -> None:
    memo = memokey.memoize(f"file://{tmp_path}/a")(record)
    assert memo(1) == 1
    with root(f"file://{tmp_path}/b"):
        assert memo(1) == 1  # a different root: computed again
        assert memo.key_for(1).root_url.endswith("/b")
    assert memo(1) == 1  # back on the first root: a hit
    assert CALLS == [1, 1]


def test_hits_return_what_the_miss_computed_for_every_argument_shape(tmp_path: Path) -> None:
    memo = memokey.memoize(f"file://{tmp_path}")(echo)
    calls = [((1, 2), {}), ((1,), {"b": 2}), (("x", None, 3), {"k": 1.5}), (([1],), {})]
    first = [memo(*args, **kwargs) for args, kwargs in calls]
    again = [memo(*args, **kwargs) for args, kwargs in calls]
    assert again == first
    assert len(CALLS) == 3  # (1, 2) and (1, b=2) bind to the same key
