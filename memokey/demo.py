"""`memokey demo`: a small real pipeline showing misses, then hits, and where results live.

Two steps: a slow function (it sleeps a second, standing in for a model fit or a big
query) and the seed example, a sqlite query memoized with ``nil_args("conn")`` so that
the connection is not part of the key. Whether a call computed is read from a counter
the functions bump when their bodies actually run, not guessed from timings.

With ``--shim subprocess`` the slow step's misses run in a child process
(``python -m memokey run URI``); the counter cannot see a child, so that step's status
is whether its result was stored before the call. The sqlite step always runs here: its
connection is a ``nil_args`` argument that cannot leave the process.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TextIO

import memokey
from memokey.shims import subprocess_shim

__all__ = ["SHIMS", "q", "run_demo", "slow_square"]

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


slow_square_in_subprocess = memokey.memoize(namespace=NAMESPACE, shim=subprocess_shim)(
    slow_square.__wrapped__
)
"""The same function (so the same key and stored results), its misses run in a child."""

SHIMS = ("same-thread", "subprocess")


def _connect() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
    conn.executemany("INSERT INTO t (name) VALUES (?)", [(n,) for n in "abcdef"])
    return conn


def _step(
    out: TextIO,
    label: str,
    call: Callable[[], Any],
    key: Callable[[], memokey.MemoKey],
    *,
    elsewhere: bool = False,
) -> None:
    """Run one call, say whether its body ran (miss) or not (hit), and where it is stored."""
    before = sum(runs.values())
    stored_before = elsewhere and _is_stored(key())
    clock = time.perf_counter()
    value = call()
    seconds = time.perf_counter() - clock
    ran = not stored_before if elsewhere else sum(runs.values()) > before
    status = "miss" if ran else "hit "
    where = "  (ran in a subprocess)" if elsewhere and ran else ""
    print(f"{status} {seconds * 1000:8.1f} ms  {label} -> {value!r}{where}", file=out)
    print(f"{'':17}{key().uri}", file=out)


def _is_stored(key: memokey.MemoKey) -> bool:
    from memokey_backends import open_store

    return open_store(key.root_url).exists(key.path)


def run_demo(root_url: str | None, out: TextIO, *, shim: str = "same-thread") -> None:
    """Run the pipeline on `root_url` (None: MEMOKEY_ROOT or the user cache directory);
    `shim="subprocess"` runs the slow step's misses in a child process."""
    if shim not in SHIMS:
        raise ValueError(f"shim must be one of {', '.join(SHIMS)}, got {shim!r}")
    if root_url is not None:
        with memokey.root(root_url):
            _run(out, shim)
    else:
        _run(out, shim)


def _run(out: TextIO, shim: str) -> None:
    print(f"memokey demo, root: {slow_square.key_for(12).root_url}", file=out)
    slow = slow_square_in_subprocess if shim == "subprocess" else slow_square
    elsewhere = shim == "subprocess"
    c1, c2 = _connect(), _connect()
    try:
        for _ in range(2):
            _step(
                out,
                "slow_square(12)",
                lambda: slow(12),
                lambda: slow.key_for(12),
                elsewhere=elsewhere,
            )
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
