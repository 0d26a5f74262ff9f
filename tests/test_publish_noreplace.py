"""A local entry gets its name in one `renameat2(RENAME_NOREPLACE)` where the file
system takes it, by link + unlink where it does not; both publish write-once: the first
writer's bytes stay, every later or racing writer gets `FileExistsError`, and no
temporary file is left behind."""

from __future__ import annotations

import ctypes
import errno
import multiprocessing
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import memokey
from memokey_backends import _noreplace, open_store
from memokey_backends._local import TMP_PREFIX, LocalPrimitives
from memokey_backends._noreplace import publish_noreplace, use_link_only

PATHS = ["renameat2", "link"]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux")


@pytest.fixture(params=PATHS)
def publish_path(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each test runs with the one-syscall rename and with the link fallback forced."""
    use_link_only(request.param == "link")
    try:
        yield str(request.param)
    finally:
        use_link_only(False)


def _temps(directory: Path) -> list[str]:
    return [name for name in os.listdir(directory) if name.startswith(TMP_PREFIX)]


def _primitives() -> LocalPrimitives:
    return LocalPrimitives(open_store("file:///").fs)  # type: ignore[attr-defined]


@linux_only
def test_linux_publishes_with_renameat2_unless_told_otherwise(publish_path: str) -> None:
    assert (_noreplace._renameat2 is not None) is (publish_path == "renameat2")


def test_exclusive_write_publishes_the_bytes_and_leaves_no_temporary_file(
    tmp_path: Path, publish_path: str
) -> None:
    _primitives().write(str(tmp_path / "entry"), b"first", exclusive=True)
    assert (tmp_path / "entry").read_bytes() == b"first"
    assert _temps(tmp_path) == []


def test_a_second_exclusive_write_is_refused_and_the_first_bytes_stay(
    tmp_path: Path, publish_path: str
) -> None:
    primitives = _primitives()
    primitives.write(str(tmp_path / "entry"), b"first", exclusive=True)
    with pytest.raises(FileExistsError):
        primitives.write(str(tmp_path / "entry"), b"second", exclusive=True)
    assert (tmp_path / "entry").read_bytes() == b"first"
    assert _temps(tmp_path) == []


def test_a_sealed_write_is_refused_over_an_existing_entry_and_reports_its_own_file(
    tmp_path: Path, publish_path: str
) -> None:
    primitives = _primitives()
    status = primitives.write_sealed(str(tmp_path / "entry"), [b"mine"], exclusive=True)
    assert os.stat(tmp_path / "entry").st_ino == status.st_ino
    assert os.stat(tmp_path / "entry").st_ctime_ns == status.st_ctime_ns
    with pytest.raises(FileExistsError):
        primitives.write_sealed(str(tmp_path / "entry"), [b"theirs"], exclusive=True)
    assert (tmp_path / "entry").read_bytes() == b"mine"
    assert _temps(tmp_path) == []


def test_racing_threads_publish_exactly_one_entry(tmp_path: Path, publish_path: str) -> None:
    primitives = _primitives()
    for round_ in range(10):
        path = str(tmp_path / f"entry{round_}")
        start = threading.Barrier(16)
        won: list[int] = []

        def publish(
            i: int, path: str = path, start: threading.Barrier = start, won: list[int] = won
        ) -> None:
            start.wait()
            try:
                primitives.write(path, b"%d" % i, exclusive=True)
            except FileExistsError:
                return
            won.append(i)

        threads = [threading.Thread(target=publish, args=(i,)) for i in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(won) == 1
        assert Path(path).read_bytes() == b"%d" % won[0]
    assert _temps(tmp_path) == []


def _publish_in_child(path: str, i: int, start: Any, won: Any) -> None:
    start.wait()
    try:
        _primitives().write(path, b"%d" % i, exclusive=True)
    except FileExistsError:
        return
    won.put(i)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork: the switch is inherited")
def test_racing_processes_publish_exactly_one_entry(tmp_path: Path, publish_path: str) -> None:
    context = multiprocessing.get_context("fork")  # children keep the forced path
    path = str(tmp_path / "entry")
    start, won = context.Barrier(8), context.Queue()
    children = [
        context.Process(target=_publish_in_child, args=(path, i, start, won)) for i in range(8)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(60)
        assert child.exitcode == 0
    winner = won.get(timeout=10)
    assert won.empty()
    assert Path(path).read_bytes() == b"%d" % winner
    assert _temps(tmp_path) == []


def test_memoized_misses_publish_once_and_hit_after_on_both_paths(
    tmp_path: Path, publish_path: str
) -> None:
    root = tmp_path / "root"

    @memokey.memoize(root.as_uri())
    def add(a: int, b: int) -> int:
        return a + b

    assert [add(i, 2) for i in range(5)] == [2, 3, 4, 5, 6]
    entries = {p: p.stat().st_ino for p in root.rglob("*") if p.is_file() and len(p.name) == 32}
    assert len(entries) == 5
    assert [add(i, 2) for i in range(5)] == [2, 3, 4, 5, 6]
    assert {p: p.stat().st_ino for p in entries} == entries  # hits: nothing published again
    assert list(root.rglob(f"{TMP_PREFIX}*")) == []


class _Refusing:
    """A `renameat2` answering as a file system without RENAME_NOREPLACE does (EINVAL),
    counting how often it is asked."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *args: Any) -> int:
        self.calls += 1
        ctypes.set_errno(errno.EINVAL)
        return -1


def test_a_file_system_refusing_the_flag_links_and_is_asked_once_per_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    refusing = _Refusing()
    monkeypatch.setattr(_noreplace, "_renameat2", refusing)
    monkeypatch.setattr(_noreplace, "_refused", set())
    for i in range(3):
        (tmp_path / f"t{i}").write_bytes(b"%d" % i)
        publish_noreplace(str(tmp_path / f"t{i}"), str(tmp_path / f"e{i}"), str(tmp_path))
    assert refusing.calls == 1
    assert [(tmp_path / f"e{i}").read_bytes() for i in range(3)] == [b"0", b"1", b"2"]
    (tmp_path / "t").write_bytes(b"late")
    with pytest.raises(FileExistsError):
        publish_noreplace(str(tmp_path / "t"), str(tmp_path / "e0"), str(tmp_path))
    assert (tmp_path / "e0").read_bytes() == b"0"
    assert sorted(os.listdir(tmp_path)) == ["e0", "e1", "e2"]


@linux_only
def test_a_real_failure_of_the_rename_is_raised_and_the_temporary_file_removed(
    tmp_path: Path, publish_path: str
) -> None:
    (tmp_path / "t").write_bytes(b"x")
    with pytest.raises(FileNotFoundError):  # the target directory is missing
        publish_noreplace(str(tmp_path / "t"), str(tmp_path / "gone" / "e"), str(tmp_path))
    assert not (tmp_path / "t").exists()
