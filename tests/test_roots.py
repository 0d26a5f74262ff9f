"""Root selection: with root() > decorator/runner root > MEMOKEY_ROOT > user cache dir."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from memokey.roots import (
    ENV_VAR,
    default_cache_dir,
    default_root,
    resolve_root,
    root,
    select_root,
)


@pytest.fixture(autouse=True)
def _no_env_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)


def test_context_root_beats_the_runner_root() -> None:
    with root("memory://ctx"):
        assert select_root("memory://runner").url == "memory://ctx"


def test_runner_root_beats_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "memory://env")
    assert select_root("memory://runner").url == "memory://runner"


def test_environment_beats_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "memory://env")
    spec = select_root(None)
    assert (spec.url, spec.source) == ("memory://env", "env")


def test_empty_environment_variable_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "")
    assert select_root(None).source == "default"


def test_without_anything_the_default_is_memokey_in_the_user_cache_dir() -> None:
    spec = select_root(None)
    assert spec.source == "default"
    assert spec.url == default_root()
    assert Path(spec.url).name == "memokey"


def test_environment_is_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "memory://first")
    assert select_root(None).url == "memory://first"
    monkeypatch.setenv(ENV_VAR, "memory://second")
    assert select_root(None).url == "memory://second"


def test_inner_context_root_wins_and_the_outer_one_returns_after() -> None:
    with root("memory://outer"):
        with root("memory://inner"):
            assert select_root(None).url == "memory://inner"
        assert select_root(None).url == "memory://outer"
    assert select_root(None).source == "default"


def test_context_root_yields_its_url() -> None:
    with root("memory://yielded") as url:
        assert url == "memory://yielded"


def test_context_root_accepts_a_path_object(tmp_path: Path) -> None:
    with root(tmp_path):
        assert select_root(None).url == str(tmp_path)


def test_context_root_brings_its_own_storage_options() -> None:
    with root("memory://opts", colour="blue"):
        spec = select_root("memory://runner", {"colour": "red"})
    assert dict(spec.storage_options) == {"colour": "blue"}


def test_runner_storage_options_also_apply_to_the_environment_root(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_VAR, "memory://env")
    assert dict(select_root(None, {"anon": True}).storage_options) == {"anon": True}


def test_context_root_does_not_leak_into_other_threads() -> None:
    seen: list[str] = []
    with root("memory://mine"):
        thread = threading.Thread(target=lambda: seen.append(select_root(None).source))
        thread.start()
        thread.join()
    assert seen == ["default"]


def test_context_root_is_per_asyncio_task() -> None:
    async def in_task(url: str, started: asyncio.Event, other: asyncio.Event) -> str:
        with root(url):
            started.set()
            await other.wait()  # the other task is inside its own root() now
            return select_root(None).url

    async def main() -> list[str]:
        a, b = asyncio.Event(), asyncio.Event()
        return list(await asyncio.gather(in_task("memory://a", a, b), in_task("memory://b", b, a)))

    assert asyncio.run(main()) == ["memory://a", "memory://b"]


def test_to_thread_inherits_the_context_root() -> None:
    async def main() -> str:
        with root("memory://inherited"):
            return await asyncio.to_thread(lambda: select_root(None).url)

    assert asyncio.run(main()) == "memory://inherited"


def test_context_root_refuses_an_empty_url() -> None:
    with pytest.raises(TypeError, match="non-empty"), root(""):
        pass


def test_resolve_root_opens_the_selected_store(tmp_path: Path) -> None:
    with root(f"file://{tmp_path}"):
        store = resolve_root("memory://ignored")
    assert str(tmp_path) in store.url


def test_linux_cache_dir_uses_xdg_cache_home_when_absolute() -> None:
    env = {"HOME": "/home/u", "XDG_CACHE_HOME": "/xdg"}
    assert default_cache_dir("linux", env) == "/xdg"


def test_linux_cache_dir_ignores_a_relative_xdg_cache_home() -> None:
    env = {"HOME": "/home/u", "XDG_CACHE_HOME": "rel"}
    assert default_cache_dir("linux", env) == os.path.join("/home/u", ".cache")


def test_linux_cache_dir_defaults_to_dot_cache() -> None:
    assert default_cache_dir("linux", {"HOME": "/home/u"}) == os.path.join("/home/u", ".cache")


def test_macos_cache_dir_is_library_caches() -> None:
    expected = os.path.join("/Users/u", "Library", "Caches")
    assert default_cache_dir("darwin", {"HOME": "/Users/u"}) == expected


def test_windows_cache_dir_is_local_app_data() -> None:
    env = {"USERPROFILE": "C:/Users/u", "LOCALAPPDATA": "C:/Users/u/AppData/Local"}
    assert default_cache_dir("win32", env) == "C:/Users/u/AppData/Local"


def test_windows_cache_dir_falls_back_to_the_profile() -> None:
    expected = os.path.join("C:/Users/u", "AppData", "Local")
    assert default_cache_dir("win32", {"USERPROFILE": "C:/Users/u"}) == expected


def test_default_root_is_the_memokey_directory_of_the_cache_dir() -> None:
    assert default_root("linux", {"HOME": "/h"}) == os.path.join("/h", ".cache", "memokey")
