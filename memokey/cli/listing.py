"""``memokey ls`` and ``memokey du``: what a root holds, streamed (`memokey.walk`)."""

from __future__ import annotations

import shlex
import sys
from typing import TextIO

from memokey._terminal import printable
from memokey.cli._common import format_size, format_time, open_root
from memokey.cli._progress import Progress
from memokey.errors import InvalidPathError
from memokey.layout import USED
from memokey.walk import function_dirs, walk_function

__all__ = ["UNREADABLE", "cmd_du", "cmd_ls"]

UNREADABLE = "its name holds characters memokey never writes; inspect and delete it by hand"


def cmd_ls(
    root_url: str | None,
    namespace: str | None,
    out: TextIO,
    *,
    uris: bool = False,
    function: str | None = None,
) -> None:
    """One line per key: its id (or URI), entry size, time, and siblings in parentheses
    (a key being computed shows ``no result (lease)``). Lines are printed as the walk
    meets them; ids and URIs are shell-quoted, ready for show / rm / explain."""
    store = open_root(root_url)
    print(printable(f"root: {store.url}"), file=sys.stderr if uris else out)
    any_found = False
    with Progress("listing", enabled=None if not out.isatty() else False) as progress:
        for ns, fdir in function_dirs(store, namespace, function):
            try:
                for found in walk_function(store, ns, fdir):
                    any_found = True
                    progress.update()
                    name = store.uri(found.path) if uris else found.id
                    size = format_size(found.size) if found.has_entry else "no result"
                    shown = [kind for kind in found.siblings if kind != USED]
                    extra = f"  ({', '.join(shown)})" if shown else ""
                    line = f"{shlex.quote(name)}  {size:>10}  {format_time(found.mtime)}{extra}"
                    print(printable(line), file=out)
            except InvalidPathError:
                any_found = True
                print(printable(f"{ns}/{fdir}/  (not memokey's: {UNREADABLE})"), file=out)
    if not any_found:
        where = f"namespace {namespace!r}" if namespace else "this root"
        print(f"no entries in {where}", file=out)


def cmd_du(root_url: str | None, namespace: str | None, out: TextIO) -> None:
    """Real bytes (entries and their siblings) and entry counts per function directory,
    per namespace and in total, each line printed once its part is walked."""
    store = open_root(root_url)
    print(printable(f"root: {store.url}"), file=out)
    print(f"{'size':>10}  {'entries':>9}  where", file=out)

    def line(size: int, count: int, where: str) -> None:
        print(printable(f"{format_size(size):>10}  {count:>9}  {where}"), file=out)

    totals = {"": [0, 0]}  # "" = everything; else the namespace being walked
    with Progress("measuring") as progress:
        current_ns: str | None = None
        for ns, fdir in function_dirs(store, namespace):
            if ns != current_ns:
                if current_ns is not None:
                    size_n, count_n = totals.pop(current_ns)
                    line(size_n, count_n, f"{current_ns}/ (namespace)")
                current_ns, totals[ns] = ns, [0, 0]
            size = count = 0
            try:
                for found in walk_function(store, ns, fdir):
                    progress.update()
                    size += found.size + found.sibling_bytes
                    count += found.has_entry
            except InvalidPathError:
                print(printable(f"{ns}/{fdir}/  (skipped: {UNREADABLE})"), file=sys.stderr)
                continue
            line(size, count, f"{ns}/{fdir}")
            for key in ("", ns):
                totals[key][0] += size
                totals[key][1] += count
        if current_ns is not None:
            size_n, count_n = totals.pop(current_ns)
            line(size_n, count_n, f"{current_ns}/ (namespace)")
    line(totals[""][0], totals[""][1], "total")
