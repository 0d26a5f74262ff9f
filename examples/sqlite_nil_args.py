"""The seed example: memoize a sqlite query without keying on the connection.

    python examples/sqlite_nil_args.py [ROOT]

A connection cannot be part of a key (it is not a value), and which connection serves the
rows does not change them, so ``nil_args("conn")`` keys it as ``None``. The three calls
below share one key: the first computes, the other two read. Run the script again and
even the first call reads, in a new process. ROOT defaults to ``MEMOKEY_ROOT`` or the
user cache directory.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from typing import Any

import memokey
from memokey import KeyedLocalRunner, nil_args, use_runner

ROOT = sys.argv[1] if len(sys.argv) > 1 else None
COMPUTED: list[tuple[str, int]] = []


@use_runner(KeyedLocalRunner(ROOT, keyfunc=nil_args("conn"), namespace="examples"))
def q(conn: sqlite3.Connection, tbl_name: str, limit: int = 3) -> list[tuple[Any, ...]]:
    """The first `limit` rows of a table."""
    COMPUTED.append((tbl_name, limit))
    if not tbl_name.isidentifier():
        raise ValueError(f"table name must be an identifier, got {tbl_name!r}")
    return conn.execute(f"SELECT * FROM {tbl_name} ORDER BY id LIMIT ?", (limit,)).fetchall()


def connect() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    conn.executemany("INSERT INTO t (name) VALUES (?)", [(n,) for n in "abcde"])
    return conn


def main() -> None:
    c1, c2 = connect(), connect()
    for label, call in [
        ('q(c1, "t")', lambda: q(c1, "t")),
        ('q(c2, "t", limit=3)', lambda: q(c2, "t", limit=3)),
        ('q(conn=c1, tbl_name="t")', lambda: q(conn=c1, tbl_name="t")),
    ]:
        before = len(COMPUTED)
        start = time.perf_counter()
        rows = call()
        status = "computed" if len(COMPUTED) > before else "read    "
        print(f"{status} {time.perf_counter() - start:.4f}s  {label} -> {rows}")
    print(f"stored at {memokey.key_for(q, c1, 't').uri}")
    print(f"the query ran {len(COMPUTED)} time(s) in this process")


if __name__ == "__main__":
    main()
