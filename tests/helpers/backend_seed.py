"""The seed example (a sqlite query keyed without its connection) for backend tests.

Importable from a second process, so both processes share one function id.
Run as ``python -m helpers.backend_seed URL OPTIONS_JSON`` it prints how many times
the query was computed and what it returned.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections import Counter
from typing import Any

import memokey

COMPUTED: Counter[str] = Counter()


def query(conn: sqlite3.Connection, tbl_name: str, limit: int = 3) -> list[tuple[int]]:
    """The seed's function: the connection is not part of the answer, only of the access."""
    COMPUTED["query"] += 1
    rows = conn.execute(f"SELECT x FROM {tbl_name} ORDER BY x LIMIT ?", (limit,)).fetchall()
    return [tuple(r) for r in rows]


def connect() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", check_same_thread=False)
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(10)])
    return conn


def memoized_query(url: str, options: dict[str, Any]) -> Any:
    runner = memokey.KeyedLocalRunner(
        url, keyfunc=memokey.nil_args("conn"), storage_options=options
    )
    return memokey.use_runner(runner)(query)


if __name__ == "__main__":
    q = memoized_query(sys.argv[1], json.loads(sys.argv[2]))
    rows = q(connect(), "t")
    print(json.dumps({"computed": COMPUTED["query"], "rows": rows}))
