"""`memokey.set_root`: a process-wide root between the decorator's root and MEMOKEY_ROOT,
and how `with memokey.root()` reaches (or does not reach) the user's own thread pools."""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import memokey
from memokey.errors import ConfigurationError, MemokeyError
from memokey.roots import ENV_VAR
from memokey_backends import open_store


def _url(tag: str) -> str:
    """A fresh root URL, as stores spell it (so that key URIs start with it)."""
    return open_store(f"memory://{tag}-{uuid.uuid4().hex[:8]}").url


@pytest.fixture(autouse=True)
def _no_process_root(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(ENV_VAR, raising=False)
    memokey.set_root(None)
    yield
    memokey.set_root(None)


@memokey.memoize
def cube(x: int) -> int:
    return x**3


def test_set_root_is_used_by_functions_without_a_root_in_every_thread() -> None:
    url = _url("process")
    memokey.set_root(url)
    with ThreadPoolExecutor(2) as pool:
        uris = list(pool.map(lambda x: cube.key_for(x).uri, [1, 2]))
        assert list(pool.map(cube, [1, 2])) == [1, 8]
    assert all(uri.startswith(url) for uri in uris)


def test_set_root_beats_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    env, process = _url("env"), _url("process")
    monkeypatch.setenv(ENV_VAR, env)
    assert cube.key_for(1).uri.startswith(env)
    memokey.set_root(process)
    assert cube.key_for(1).uri.startswith(process)
    memokey.set_root(None)  # cleared: back to MEMOKEY_ROOT
    assert cube.key_for(1).uri.startswith(env)


def test_decorator_root_and_root_block_beat_set_root() -> None:
    own, process, block = _url("own"), _url("process"), _url("block")
    memokey.set_root(process)

    @memokey.memoize(own)
    def square(x: int) -> int:
        return x * x

    assert square.key_for(3).uri.startswith(own)
    with memokey.root(block):
        assert square.key_for(3).uri.startswith(block)
        assert cube.key_for(3).uri.startswith(block)


def test_set_root_storage_options_travel_with_it() -> None:
    url = _url("opts")
    memokey.set_root(url, skip_instance_cache=True)
    assert cube(4) == 64
    assert cube.key_for(4).uri.startswith(url)


@pytest.mark.parametrize(
    ("args", "options"),
    [(("",), {}), ((42,), {}), (("/tmp/a\x00b",), {})],
)
def test_a_bad_process_root_fails_at_once(args: tuple[Any, ...], options: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match=r"write e\.g\."):
        memokey.set_root(*args, **options)
    assert memokey.roots.process_root() is None


def test_an_unknown_protocol_fails_at_set_root_not_at_the_first_call() -> None:
    with pytest.raises(MemokeyError):
        memokey.set_root("nosuchprotocol://bucket/memo")
    assert memokey.roots.process_root() is None


def test_set_root_none_with_options_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"set_root\(None\)"):
        memokey.set_root(None, anon=True)


def test_root_block_does_not_reach_a_thread_pool_but_a_copied_context_does() -> None:
    block = _url("block")
    with memokey.root(block), ThreadPoolExecutor(1) as pool:
        plain = pool.submit(lambda: cube.key_for(5).uri).result()
        context = contextvars.copy_context()
        copied = pool.submit(context.run, lambda: cube.key_for(5).uri).result()
    assert not plain.startswith(block)  # documented: contextvars do not cross into pools
    assert copied.startswith(block)
