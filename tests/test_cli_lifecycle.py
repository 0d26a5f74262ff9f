"""A CLI you can live in: --version, ids from ls that show/rm accept, du, rm by prefix
with --dry-run, show --value, progress only on a terminal, memory flat in the entries."""

from __future__ import annotations

import io
import os
import re
import shlex
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

import memokey
from memokey._version import __version__
from memokey.cli import main
from memokey.cli._progress import Progress
from memokey.cli.listing import cmd_ls
from memokey_backends import open_store

Location = tuple[str, dict[str, Any]]


def _fill(url: str, namespace: str = "default", n: int = 3) -> Any:
    @memokey.memoize(url, namespace=namespace)
    def word(i: int) -> str:
        return "w" * (i + 1)

    for i in range(n):
        word(i)
    return word


@pytest.fixture
def root_url(tmp_path: Path) -> str:
    return f"file://{tmp_path}/cache"


def _ids(out: str) -> list[str]:
    """The first column of ls's entry lines, as a shell reads it (they are quoted)."""
    return [shlex.split(line)[0] for line in out.splitlines() if not line.startswith("root: ")]


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"memokey {__version__}"


def test_the_ids_ls_prints_are_what_show_and_rm_accept(
    root_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    word = _fill(root_url)
    assert main(["ls", root_url]) == 0
    ids = _ids(capsys.readouterr().out)
    assert len(ids) == 3
    first = word.key_for(0)
    assert first.uri.split("/memokey-v2/", 1)[1] in ids
    own = first.uri.split("/memokey-v2/", 1)[1]
    assert main(["show", own, "--root", root_url]) == 0
    assert '"arguments"' in capsys.readouterr().out
    assert main(["rm", own, "--root", root_url]) == 0
    assert not word.is_cached(0)
    assert word.is_cached(1)


def test_ids_resolve_against_memokey_root_without_root(
    root_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MEMOKEY_ROOT", root_url)
    word = _fill(root_url, n=1)
    assert main(["ls"]) == 0
    (only,) = _ids(capsys.readouterr().out)
    assert main(["show", only, "--value"]) == 0
    assert capsys.readouterr().out.strip() == "'w'"
    assert main(["rm", only]) == 0
    assert not word.is_cached(0)


def test_ls_uri_prints_full_uris_that_show_accepts(
    store_root: Location, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, options = store_root
    store = open_store(url, **options)
    from memokey.cli import _common

    monkeypatch.setattr(_common, "open_store", lambda root, **_: store)
    with memokey.root(url, **options):
        word = _fill(url, n=2)
        uris = {word.key_for(i).uri for i in range(2)}
    assert main(["ls", url, "--uri"]) == 0
    printed = _ids(capsys.readouterr().out)
    assert uris == set(printed)
    assert main(["show", sorted(uris)[0]]) == 0


def test_show_value_prints_the_stored_values_repr_truncated(
    root_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    @memokey.memoize(root_url)
    def big(n: int) -> list[int]:
        return list(range(n))

    big(10_000)
    assert main(["show", big.key_for(10_000).uri, "--value"]) == 0
    out = capsys.readouterr().out.strip()
    assert out.startswith("[0, 1, 2")
    assert len(out) <= 2000


def test_du_reports_real_bytes_per_function_namespace_and_total(
    root_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(root_url, "alpha", n=3)
    _fill(root_url, "beta", n=2)
    store = open_store(root_url)
    real = {
        ns: sum(i.size for i in store.list(f"memokey-v2/{ns}", recursive=True))
        for ns in ("alpha", "beta")
    }
    assert main(["du", root_url]) == 0
    out = capsys.readouterr().out

    def row(where: str) -> tuple[str, int]:
        (line,) = [x for x in out.splitlines() if x.endswith(where)]
        parts = line.split()
        return " ".join(parts[:2]), int(parts[2])

    from memokey.cli._common import format_size

    assert row("alpha/ (namespace)") == (format_size(real["alpha"]), 3)
    assert row("beta/ (namespace)") == (format_size(real["beta"]), 2)
    assert row("total") == (format_size(real["alpha"] + real["beta"]), 5)
    assert re.search(r"alpha/.*--_fill\.<locals>\.word=", out)


def test_rm_of_a_function_prefix_removes_its_entries_in_every_version_and_counts(
    root_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    word = _fill(root_url, "alpha", n=3)
    other = _fill(root_url, "beta", n=2)
    function_id = word.key_for(0).function_id
    assert main(["rm", f"alpha/{function_id}", "--root", root_url, "--dry-run"]) == 0
    assert "would remove 3 entries" in capsys.readouterr().out
    assert word.is_cached(0)  # a dry run deletes nothing
    assert main(["rm", f"alpha/{function_id}", "--root", root_url]) == 0
    assert "removed 3 entries" in capsys.readouterr().out
    assert not any(word.is_cached(i) for i in range(3))
    assert other.is_cached(0)


def test_rm_of_a_namespace_prefix_given_as_a_uri(
    store_root: Location, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, options = store_root
    store = open_store(url, **options)
    from memokey.cli import _common

    monkeypatch.setattr(_common, "open_store", lambda root, **_: store)
    with memokey.root(url, **options):
        gone = _fill(url, "gone", n=2)
        kept = _fill(url, "kept", n=1)
    assert main(["rm", f"{store.url}/memokey-v2/gone"]) == 0
    assert "removed 2 entries" in capsys.readouterr().out
    with memokey.root(url, **options):
        assert not gone.is_cached(0)
        assert kept.is_cached(0)


def test_rm_of_a_prefix_that_matches_nothing_fails_with_a_pointer_to_ls(
    root_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(root_url, "alpha", n=1)
    assert main(["rm", "nosuch", "--root", root_url]) == 1
    assert "memokey ls" in capsys.readouterr().err


def test_a_progress_bar_is_drawn_only_when_stderr_is_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with Progress("walking") as shown:
        assert shown._bar is not None
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with Progress("walking") as hidden:
        assert hidden._bar is None


def test_piped_commands_print_no_progress(root_url: str) -> None:
    _fill(root_url, n=2)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-m", "memokey", "du", root_url],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0
    assert done.stderr == ""


def _plant_names(tmp_path: Path, n: int) -> str:
    """A root whose one function directory holds `n` entry files (ls reads names only)."""
    directory = tmp_path / f"r{n}" / "memokey-v2" / "default" / "m--f"
    directory.mkdir(parents=True)
    for i in range(n):
        (directory / f"{i:032x}").write_bytes(b"")
    return f"file://{tmp_path}/r{n}"


def test_ls_memory_does_not_grow_with_the_number_of_entries(tmp_path: Path) -> None:
    peaks = {}
    for n in (1_000, 20_000):
        url = _plant_names(tmp_path, n)
        with open(os.devnull, "w") as sink:
            tracemalloc.start()
            cmd_ls(url, None, sink)
            peaks[n] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    # 20 times the entries: far less than 20 times the memory (a list of them would be).
    assert peaks[20_000] < 2 * peaks[1_000] + 512 * 1024, peaks
