"""What the CLI prints and deletes when the store holds hostile names or symbolic links."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from memokey.cli import main
from memokey.errors import StorePermissionError
from memokey.results import encode_result
from memokey_backends import open_store

DIGEST = "0123456789abcdef0123456789abcdef"
EVIL = "evil\x1b]0;pwned\x07\x1b[2J\u202e--f"


def _plant(url: str, options: dict[str, Any], function: str) -> None:
    """Write an entry under a hostile name with the filesystem itself, as another tool
    or an attacker with write access would: memokey's store refuses such names."""
    from fsspec.core import url_to_fs

    fs, root = url_to_fs(url, **options)
    path = f"{root}/memokey-v2/default/{function}/{DIGEST}"
    fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    fs.pipe_file(path, encode_result(1))


def test_ls_escapes_terminal_sequences_in_stored_names_on_every_backend(
    store_root: tuple[str, dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, options = store_root
    if url.startswith("az://"):
        pytest.skip("Azurite answers 500 when listing a blob name with control characters")
    _plant(url, options, EVIL)
    store = open_store(url, **options)
    from memokey.cli import _common

    monkeypatch.setattr(_common, "open_store", lambda root: store)  # the CLI takes no options
    assert main(["ls", url]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "\x07" not in out
    assert "\u202e" not in out
    assert "evil\\x1b]0;pwned\\x07\\x1b[2J\\u202e--f" in out


def test_error_lines_escape_what_came_from_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"file://{tmp_path}/memokey-v2/default/{EVIL}/{DIGEST}"
    assert main(["rm", uri]) == 1
    err = capsys.readouterr().err
    assert "\x1b" not in err
    assert "would parse" in err  # the store refuses the name before touching anything


def _entry_via_link(tmp_path: Path, link_level: str) -> tuple[str, Path]:
    """A root whose function (or entry) directory is a symlink to a directory outside it."""
    outside = tmp_path / "precious"
    root = tmp_path / "root"
    functions = root / "memokey-v2" / "default"
    functions.mkdir(parents=True)
    outside.mkdir()
    if link_level == "function":
        (outside / DIGEST).write_bytes(encode_result(1))
        (functions / "m--f").symlink_to(outside)
    else:
        (outside / "precious-entry").write_bytes(encode_result(1))
        (functions / "m--f").mkdir()
        (functions / "m--f" / DIGEST).symlink_to(outside / "precious-entry")
    return f"file://{root}/memokey-v2/default/m--f/{DIGEST}", outside


@pytest.mark.parametrize("link_level", ["function", "entry"])
def test_rm_through_a_symlink_deletes_nothing_outside_the_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], link_level: str
) -> None:
    uri, outside = _entry_via_link(tmp_path, link_level)
    assert main(["rm", uri]) == 1
    err = capsys.readouterr().err
    assert "symbolic link" in err
    assert "nothing was deleted" in err
    assert sorted(p.name for p in outside.rglob("*")) == (
        [DIGEST] if link_level == "function" else ["precious-entry"]
    )


def test_containment_check_refuses_a_symlinked_path(tmp_path: Path) -> None:
    from memokey._containment import check_inside_root

    uri, _ = _entry_via_link(tmp_path, "function")
    with pytest.raises(StorePermissionError, match="symbolic link"):
        check_inside_root(open_store(f"file://{tmp_path}/root"), uri.split("/root/", 1)[1])


def test_rm_of_a_plain_entry_under_a_symlinked_root_still_works(tmp_path: Path) -> None:
    real = tmp_path / "real"
    _plant(f"file://{real}", {}, "m--f")
    (tmp_path / "alias").symlink_to(real)  # the root itself may be a link (~/.cache -> /data)
    assert main(["rm", f"file://{tmp_path}/alias/memokey-v2/default/m--f/{DIGEST}"]) == 0
    assert not (real / "memokey-v2" / "default" / "m--f" / DIGEST).exists()


def test_the_uri_ls_prints_is_what_rm_takes_when_pasted_into_a_shell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"file://{tmp_path}/my root"  # a space: the URI must come out quoted
    _plant(url, {}, "m--f.<locals>.g")
    assert main(["ls", url, "--uri"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if DIGEST in x)
    printed = line.split("  ", 1)[0]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = f"{shlex.quote(sys.executable)} -m memokey rm {printed}"
    done = subprocess.run(command, shell=True, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (
        not (tmp_path / "my root" / "memokey-v2" / "default" / "m--f.<locals>.g")
        .joinpath(DIGEST)
        .exists()
    )
