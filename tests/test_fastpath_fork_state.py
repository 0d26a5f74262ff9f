"""What a miss keeps per process instead of asking the kernel each time (the process id
in the metadata trailer, the token in temporary file names) is renewed in a forked
child: a child never writes its parent's pid, nor a temporary name its parent may use."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import memokey
from memokey.entry_reader import read_entry_meta
from memokey_backends import open_store
from memokey_backends._local import _temp_name

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def add(a: int, b: int) -> int:
    return a + b


def _in_child(work: str, tmp_path: Path) -> dict[str, object]:
    """Run `work` (a statement) in a forked child; what it wrote to out.json."""
    out = tmp_path / "out.json"
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            exec(work, globals(), {"out": out, "tmp_path": tmp_path})
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return dict(json.loads(out.read_text()))


def test_a_forked_child_names_its_temporary_files_apart_from_its_parent(
    tmp_path: Path,
) -> None:
    before = _temp_name()
    child = _in_child(
        "out.write_text(json.dumps({'name': _temp_name(), 'pid': os.getpid()}))", tmp_path
    )
    after = _temp_name()
    assert str(child["name"]).split("-")[0] != after.split("-")[0]
    assert before.split("-")[0] == after.split("-")[0]  # the parent keeps its own token
    assert child["name"] != after


def test_a_forked_child_records_its_own_pid_in_what_it_publishes(tmp_path: Path) -> None:
    root = (tmp_path / "memo").as_uri()
    f = memokey.memoize(root)(add)
    f(1, 1)  # the parent published once (its pid is known to the process)
    child = _in_child(
        "f = memokey.memoize(root)(add); f(2, 2); "
        "out.write_text(json.dumps({'pid': os.getpid()}))".replace("root", repr(root)),
        tmp_path,
    )
    meta = read_entry_meta(open_store(root), f.key_for(2, 2).path)
    assert meta is not None
    assert meta["pid"] == child["pid"]
    assert meta["pid"] != os.getpid()
    parent_meta = read_entry_meta(open_store(root), f.key_for(1, 1).path)
    assert parent_meta is not None
    assert parent_meta["pid"] == os.getpid()
