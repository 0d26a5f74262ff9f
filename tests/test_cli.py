"""The memokey command line: ls, show, rm, delegated subcommands and the entry points."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import memokey
from helpers.core import memory_root, write_module
from memokey import MemoizingRunner
from memokey.cli import CliError, _delegate, main, split_memo_uri
from memokey.roots import ENV_VAR

RUNS: Counter[str] = Counter()


def square(x: int) -> int:
    RUNS["square"] += 1
    return x * x


@pytest.fixture
def root_url(tmp_path: Path) -> str:
    RUNS.clear()
    return f"file://{tmp_path}/cache"


def _store_square(root_url: str, x: int, namespace: str = "default") -> str:
    runner = MemoizingRunner(root_url, namespace=namespace)
    runner(square, (x,), {})
    return runner.key_for(square, (x,), {}).uri


def test_ls_prints_one_id_per_entry_with_size_and_time(
    root_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = _store_square(root_url, 2)
    _store_square(root_url, 3)
    assert main(["ls", root_url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("root: ")
    entry_id = uri.split("/memokey-v2/", 1)[1]  # namespace/function dir/digest
    code_version = uri.rsplit("/", 2)[-2].rpartition("=")[2]  # the code fingerprint
    assert entry_id.startswith(f"default/{__name__}--square={code_version}/")
    mine = [line for line in lines[1:] if line.startswith(entry_id + "  ")]
    assert len(mine) == 1
    assert "UTC" in mine[0]
    assert len(lines) == 3


def test_ls_filters_by_namespace(root_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _store_square(root_url, 2, namespace="keep")
    _store_square(root_url, 2, namespace="other")
    assert main(["ls", root_url, "--namespace", "keep"]) == 0
    out = capsys.readouterr().out
    assert "keep/" in out
    assert "other/" not in out


def test_ls_of_an_empty_root_says_so(root_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", root_url]) == 0
    assert "no entries" in capsys.readouterr().out


def test_ls_without_a_root_uses_memokey_root(
    root_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _store_square(root_url, 4)
    monkeypatch.setenv(ENV_VAR, root_url)
    assert main(["ls"]) == 0
    assert re.search(r"--square=[0-9a-f]{32}/[0-9a-f]{32}  ", capsys.readouterr().out)


def test_show_prints_the_entrys_meta_json(
    root_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = _store_square(root_url, 5)
    assert main(["show", uri]) == 0
    meta = json.loads(capsys.readouterr().out)
    assert meta["uri"] == uri
    assert meta["arguments"] == {"x": "5"}


def test_show_accepts_a_sibling_uri_too(root_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    uri = _store_square(root_url, 5)
    assert main(["show", f"{uri}.lease"]) == 0
    assert json.loads(capsys.readouterr().out)["uri"] == uri


def test_show_of_a_missing_entry_fails_with_a_message(
    root_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = _store_square(root_url, 5)
    missing = uri[:-4] + "0000"
    assert main(["show", missing]) == 1
    assert "nothing is stored" in capsys.readouterr().err


def test_rm_removes_the_entry_so_the_next_call_computes(
    root_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = _store_square(root_url, 6)
    assert main(["rm", uri]) == 0
    assert "removed" in capsys.readouterr().out
    _store_square(root_url, 6)
    assert RUNS["square"] == 2


def test_rm_leaves_other_entries_alone(root_url: str) -> None:
    uri = _store_square(root_url, 6)
    _store_square(root_url, 7)
    main(["rm", uri])
    _store_square(root_url, 7)
    assert RUNS["square"] == 2


def test_rm_of_a_missing_entry_fails(root_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rm", f"{root_url}/memokey-v2/default/m--f/{'0' * 32}"]) == 1
    assert "nothing is stored" in capsys.readouterr().err


@pytest.mark.parametrize(
    "uri",
    [
        "file:///tmp/no-scheme-here",
        "file:///tmp/memokey-v2/default/m--f",
        "memory://x/memokey-v2/a",
    ],
)
def test_uri_that_is_not_one_entry_is_refused(uri: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rm", uri]) == 1
    assert "memokey ls" in capsys.readouterr().err


def test_split_memo_uri_separates_root_and_entry_path() -> None:
    root, path = split_memo_uri("s3://bucket/pre/memokey-v2/ns/m--f/abc.error")
    assert (root, path) == ("s3://bucket/pre", "memokey-v2/ns/m--f/abc")


def test_delegated_subcommand_gets_the_remaining_arguments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    name = write_module(tmp_path, "def main(argv):\n    print(argv)\n    return 3\n")
    assert _delegate(name, ["URI", "--flag"]) == 3
    assert capsys.readouterr().out.strip() == "['URI', '--flag']"


def test_delegated_subcommand_that_is_not_installed_is_a_clear_error() -> None:
    with pytest.raises(CliError, match=r"has no memokey\.no_such_tool"):
        _delegate("memokey.no_such_tool", [])


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2


@pytest.mark.slow
def test_python_dash_m_memokey_runs_the_cli(root_url: str) -> None:
    _store_square(root_url, 8)
    proc = subprocess.run(
        [sys.executable, "-m", "memokey", "ls", root_url],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"--square=[0-9a-f]{32}/[0-9a-f]{32}  ", proc.stdout)


@pytest.mark.slow
def test_console_script_runs_the_cli() -> None:
    script = Path(sys.executable).parent / "memokey"
    proc = subprocess.run(
        [str(script), "ls", memory_root()], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "no entries" in proc.stdout


@pytest.mark.slow
def test_failure_exits_1_with_the_message_on_stderr() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "memokey", "show", "memory://x/not-an-entry"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.startswith("memokey show: error:")


def test_output_cut_short_by_the_reader_is_not_an_error(tmp_path: Path) -> None:
    root_url = f"file://{tmp_path}/root"
    for i in range(300):  # enough entries that `ls` outlives a pipe closed after one line
        with memokey.root(root_url):
            _pipe_filler(i)
    proc = subprocess.run(
        f"{sys.executable} -m memokey ls {root_url} | head -n 1",
        shell=True,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.stdout.startswith("root:")
    assert "Traceback" not in proc.stderr


@memokey.memoize(namespace="pipe")
def _pipe_filler(i: int) -> int:
    return i


def test_ls_tells_entries_from_their_siblings_and_bookkeeping_by_name(
    root_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from memokey_backends import open_store

    uri = _store_square(root_url, 4)
    root, path = split_memo_uri(uri)
    store = open_store(root)
    store.write(f"{path}.error", b"{}")  # a stored failure beside the entry
    pending = path[:-1] + ("0" if path[-1] != "0" else "1")
    store.write(f"{pending}.lease", b"{}")  # being computed: no entry yet
    assert main(["ls", root_url]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 3  # root, the entry and the pending one; no lock file
    assert "(error)" in out
    assert "no result" in out
    assert "(lease)" in out
    assert ".memokey-locks" not in out


def test_rm_removes_the_entry_and_its_siblings(root_url: str) -> None:
    from memokey_backends import open_store

    uri = _store_square(root_url, 6)
    root, path = split_memo_uri(uri)
    store = open_store(root)
    store.write(f"{path}.error", b"{}")
    assert main(["rm", f"{uri}.error"]) == 0
    assert store.read(path) is None
    assert store.read(f"{path}.error") is None
