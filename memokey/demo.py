"""`memokey demo`: a small real pipeline showing misses, then hits, and where results live.

Two steps: a slow function (it sleeps a second, standing in for a model fit or a big
query) and the seed example, a sqlite query memoized with ``nil_args("conn")`` so that
the connection is not part of the key. Whether a call computed is read from a counter
the functions bump when their bodies actually run, not guessed from timings.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TextIO

import memokey

__all__ = ["q", "run_demo", "slow_square"]

NAMESPACE = "demo"
runs: Counter[str] = Counter()
"""How many times each demo function body ran in this process."""


@memokey.memoize(namespace=NAMESPACE)
def slow_square(x: int) -> int:
    """An expensive step: one second of work per call that is not memoized."""
    runs["slow_square"] += 1
    time.sleep(1.0)
    return x * x


@memokey.use_runner(
    memokey.KeyedLocalRunner(None, keyfunc=memokey.nil_args("conn"), namespace=NAMESPACE)
)
def q(conn: sqlite3.Connection, tbl_name: str, limit: int = 3) -> list[tuple[Any, ...]]:
    """The first `limit` rows of a table; which connection serves them is not in the key."""
    runs["q"] += 1
    if not tbl_name.isidentifier():
        raise ValueError(f"table name must be an identifier, got {tbl_name!r}")
    return conn.execute(f"SELECT * FROM {tbl_name} ORDER BY id LIMIT ?", (limit,)).fetchall()


def _connect() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    conn.executemany("INSERT INTO t (name) VALUES (?)", [(n,) for n in "abcdef"])
    return conn


def _step(
    out: TextIO, label: str, call: Callable[[], Any], key: Callable[[], memokey.MemoKey]
) -> None:
    """Run one call, say whether its body ran (miss) or not (hit), and where it is stored."""
    before = sum(runs.values())
    clock = time.perf_counter()
    value = call()
    seconds = time.perf_counter() - clock
    status = "miss" if sum(runs.values()) > before else "hit "
    print(f"{status} {seconds * 1000:8.1f} ms  {label} -> {value!r}", file=out)
    print(f"{'':17}{key().uri}", file=out)


def run_demo(root_url: str | None, out: TextIO) -> None:
    """Run the pipeline on `root_url` (None: MEMOKEY_ROOT or the user cache directory)."""
    if root_url is not None:
        with memokey.root(root_url):
            _run(out)
    else:
        _run(out)


def _run(out: TextIO) -> None:
    print(f"memokey demo, root: {slow_square.key_for(12).root_url}", file=out)
    c1, c2 = _connect(), _connect()
    try:
        _step(out, "slow_square(12)", lambda: slow_square(12), lambda: slow_square.key_for(12))
        _step(out, "slow_square(12)", lambda: slow_square(12), lambda: slow_square.key_for(12))
        _step(out, 'q(c1, "t")', lambda: q(c1, "t"), lambda: q.key_for(c1, "t"))
        _step(
            out,
            'q(c2, "t", limit=3)',
            lambda: q(c2, "t", limit=3),
            lambda: q.key_for(c2, "t", limit=3),
        )
        _step(
            out,
            'q(conn=c1, tbl_name="t")',
            lambda: q(conn=c1, tbl_name="t"),
            lambda: q.key_for(conn=c1, tbl_name="t"),
        )
    finally:
        c1.close()
        c2.close()
    print("run `memokey demo` again: every call is now a hit, read from the URIs above", file=out)
