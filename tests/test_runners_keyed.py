"""KeyedLocalRunner: the keyfunc shapes the key only; the original call runs on a miss."""

from __future__ import annotations

import importlib
import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import memokey
from helpers.core import memory_root, run_python, write_module
from memokey import KeyedLocalRunner, KeyfuncError, nil_args, use_runner
from memokey.entry_reader import read_entry_meta
from memokey_backends import open_store

calls_seen: list[Any] = []
RUNS: Counter[str] = Counter()


@pytest.fixture(autouse=True)
def _reset() -> None:
    calls_seen.clear()
    RUNS.clear()


def query(conn: Any, tbl_name: str, limit: int = 3) -> str:
    calls_seen.append((conn, tbl_name, limit))
    return f"{tbl_name}:{limit}"


def keyed_as_table(tbl_name: str) -> str:
    raise AssertionError("the function a keyfunc returns is only used for the key")


def test_miss_runs_the_original_function_with_the_original_arguments() -> None:
    runner = KeyedLocalRunner(memory_root(), keyfunc=nil_args("conn"))
    conn = object()
    assert runner(query, (conn, "t"), {}) == "t:3"
    assert calls_seen == [(conn, "t", 3)]


def test_calls_differing_only_in_a_nil_argument_share_one_result() -> None:
    runner = KeyedLocalRunner(memory_root(), keyfunc=nil_args("conn"))
    runner(query, ("c1", "t"), {})
    runner(query, ("c2", "t"), {"limit": 3})
    runner(query, (), {"conn": "c1", "tbl_name": "t"})
    assert len(calls_seen) == 1


def test_keyfunc_may_key_the_call_as_another_function() -> None:
    def as_table(c: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return keyed_as_table, (args[1],), {}

    runner = KeyedLocalRunner(memory_root(), keyfunc=as_table)
    assert runner(query, ("c", "t"), {}) == "t:3"
    assert runner.key_for(query, ("c", "t"), {}).function_id.endswith("--keyed_as_table")


def test_keyfunc_output_that_does_not_bind_raises_before_computing() -> None:
    def bad(c: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return c, (), {"tbl": "t"}

    runner = KeyedLocalRunner(memory_root(), keyfunc=bad)
    with pytest.raises(KeyfuncError, match="tbl"):
        runner(query, ("c", "t"), {})
    assert calls_seen == []


def test_unknown_nil_args_name_fails_at_decoration_time() -> None:
    runner = KeyedLocalRunner(memory_root(), keyfunc=nil_args("connection"))
    with pytest.raises(KeyfuncError, match="connection"):
        use_runner(runner)(query)


def test_metadata_trailer_summarises_the_keyed_arguments_so_nil_args_show_as_none() -> None:
    root_url = memory_root()
    runner = KeyedLocalRunner(root_url, keyfunc=nil_args("conn"))
    runner(query, ("secret-connection", "t"), {})
    key = runner.key_for(query, ("secret-connection", "t"), {})
    meta = read_entry_meta(open_store(root_url), key.path)
    assert meta is not None
    assert meta["arguments"] == {"conn": "None", "tbl_name": "'t'", "limit": "3"}


def test_key_for_a_keyed_function_uses_its_keyfunc() -> None:
    @use_runner(KeyedLocalRunner(memory_root(), keyfunc=nil_args("conn")))
    def q(conn: Any, tbl_name: str, limit: int = 3) -> str:
        return tbl_name

    assert memokey.key_for(q, "c1", "t") == memokey.key_for(q, conn="c2", tbl_name="t", limit=3)


def test_keyfunc_must_be_callable() -> None:
    with pytest.raises(TypeError, match="callable"):
        KeyedLocalRunner(memory_root(), keyfunc="conn")  # type: ignore[arg-type]


SEED_MODULE = """
    import os

    from memokey import KeyedLocalRunner, nil_args, use_runner

    COMPUTED = []


    @use_runner(KeyedLocalRunner(os.environ["SEED_ROOT"], keyfunc=nil_args("conn")))
    def q(conn, tbl_name, limit=3):
        COMPUTED.append((tbl_name, limit))
        sql = f"SELECT id, name FROM {tbl_name} ORDER BY id LIMIT ?"
        return conn.execute(sql, (limit,)).fetchall()
"""


def _make_db(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
        conn.executemany("INSERT INTO t (name) VALUES (?)", [(n,) for n in "abcde"])
    return str(path)


@pytest.mark.slow
def test_seed_sqlite_example_computes_once_and_a_second_process_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _make_db(tmp_path / "data.db")
    root_url = f"file://{tmp_path}/cache"
    monkeypatch.setenv("SEED_ROOT", root_url)
    monkeypatch.syspath_prepend(str(tmp_path))
    name = write_module(tmp_path, SEED_MODULE)
    seed = importlib.import_module(name)
    c1, c2 = sqlite3.connect(db), sqlite3.connect(db)
    try:
        results = [seed.q(c1, "t"), seed.q(c2, "t", limit=3), seed.q(conn=c1, tbl_name="t")]
    finally:
        c1.close()
        c2.close()
    assert results == [[(1, "a"), (2, "b"), (3, "c")]] * 3
    assert seed.COMPUTED == [("t", 3)]

    # The second process's connection has no table at all: only a read can answer.
    proc = run_python(
        f"""
        import sqlite3
        import {name} as seed
        print(seed.q(sqlite3.connect(":memory:"), "t"))
        print(len(seed.COMPUTED))
        """,
        path=tmp_path,
        env={"SEED_ROOT": root_url},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["[(1, 'a'), (2, 'b'), (3, 'c')]", "0"]
