"""Turning root URLs and storage options into stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from memokey_backends import InvalidRootError, open_store


def test_plain_path_becomes_a_file_url(tmp_path: Path) -> None:
    assert open_store(str(tmp_path / "r")).url == f"file://{tmp_path}/r"


def test_relative_path_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert open_store("rel/root").url == f"file://{tmp_path}/rel/root"


def test_plain_path_and_file_url_share_one_directory(tmp_path: Path) -> None:
    open_store(str(tmp_path)).write("a/b", b"1")
    assert open_store(f"file://{tmp_path}").read("a/b") == b"1"


def test_same_url_and_options_give_the_same_store() -> None:
    assert open_store("memory://same") is open_store("memory://same")


def test_different_options_give_different_stores(tmp_path: Path) -> None:
    assert open_store(str(tmp_path)) is not open_store(str(tmp_path), auto_mkdir=True)


def test_uri_of_a_store_opens_the_same_place(tmp_path: Path) -> None:
    store = open_store(str(tmp_path))
    store.write("d/x", b"1")
    assert open_store(store.uri("d")).read("x") == b"1"


def test_chained_url_reads_through_the_cache_and_writes_to_the_target(tmp_path: Path) -> None:
    target = tmp_path / "target"
    store = open_store(
        f"simplecache::file://{target}", simplecache={"cache_storage": str(tmp_path / "cache")}
    )
    store.write("k/result", b"value", exclusive=True)
    assert (target / "k" / "result").read_bytes() == b"value"
    assert store.read("k/result") == b"value"
    assert store.url == f"simplecache::file://{target}"
    assert os.listdir(tmp_path / "cache")  # the read went through the cache


def test_unknown_scheme_is_an_invalid_root() -> None:
    with pytest.raises(InvalidRootError, match="nosuchscheme"):
        open_store("nosuchscheme://x/y")


def test_empty_url_is_an_invalid_root() -> None:
    with pytest.raises(InvalidRootError):
        open_store("")


@pytest.mark.cloud
def test_s3_options_come_from_fsspec_configuration_when_not_given(
    s3_root: tuple[str, dict[str, Any]],
) -> None:
    url, options = s3_root
    code = textwrap.dedent(
        f"""
        from memokey_backends import open_store
        store = open_store({url!r})
        store.write("x", b"configured", exclusive=True)
        print(store.read("x").decode())
        """
    )
    env = {**os.environ, "FSSPEC_S3": json.dumps(options)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "configured"
    assert open_store(url, **options).read("x") == b"configured"


@pytest.mark.cloud
def test_chained_url_over_s3_publishes_write_once(s3_root: tuple[str, dict[str, Any]]) -> None:
    url, options = s3_root
    store = open_store(f"simplecache::{url}", s3=options)
    store.write("k/result", b"v", exclusive=True)
    assert open_store(url, **options).read("k/result") == b"v"
    assert store.read("k/result") == b"v"
