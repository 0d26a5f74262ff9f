"""The ``memokey`` command: demo, ls, show, rm, and the run/bench entry points.

    memokey demo [--root URL] [--shim S] a small real pipeline: misses, then hits
    memokey ls [ROOT] [--namespace N]    stored functions and entries, with sizes and times
    memokey show URI                     an entry's metadata (its trailer, read alone)
    memokey rm URI                       delete one entry (and its lease, invocation, error)
    memokey run URI                      run a stored invocation (memokey.remote)
    memokey bench ...                    the benchmark suite (memokey.bench)

Without ROOT, ``ls`` uses the same root a memoized call would: ``MEMOKEY_ROOT``, else the
user cache directory. ``ls`` prints each entry's URI, shell-quoted, ready for ``memokey rm``.
Everything printed that comes from the store has its control characters escaped
(`memokey._terminal`), and ``rm`` deletes nothing outside the root: no symbolic link below
it is followed (`memokey._containment`). Exit status: 0 success, 1 failure (message on
stderr), 2 usage.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import shlex
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TextIO

from memokey._containment import check_inside_root, check_is_entry
from memokey._terminal import printable
from memokey.entry_reader import read_entry_meta
from memokey.errors import MemokeyError
from memokey.keys import SCHEME
from memokey.layout import SIBLINGS, sibling, split_name
from memokey.roots import select_root
from memokey_backends import EntryInfo, open_store

__all__ = ["main", "split_memo_uri"]

_DELEGATES = {"run": "memokey.remote", "bench": "memokey.bench"}


class CliError(Exception):
    """A failure to report as one line on stderr with exit status 1."""


def split_memo_uri(uri: str) -> tuple[str, str]:
    """(root URL, entry path) of an entry's URI; a sibling's (``.lease``, ``.error``, ...)
    names its entry.

    The entry path is ``memokey-v2/{namespace}/{function}/{digest}``: the last four
    components, read from the end, since the root itself (or a namespace) may contain a
    ``memokey-v2`` component.
    """
    parts = uri.rstrip("/").split("/")
    named = split_name(parts[-1]) if parts else None
    if named is not None:
        parts[-1] = named[0]
    if named is None or len(parts) < 5 or parts[-4] != SCHEME or not all(parts[-3:]):
        if f"/{SCHEME}/" not in uri:
            raise CliError(
                f"{uri} is not a memokey entry URI (no /{SCHEME}/ in it); copy one from "
                "`memokey ls` or from MemoKey.uri"
            )
        raise CliError(
            f"{uri} does not name one entry; expected "
            f"ROOT/{SCHEME}/NAMESPACE/FUNCTION/DIGEST (see `memokey ls`)"
        )
    return "/".join(parts[:-4]), "/".join(parts[-4:])


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _time(mtime: float | None) -> str:
    if mtime is None:
        return "-"
    return datetime.fromtimestamp(mtime, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass
class _Entry:
    digest: str
    size: int = 0
    result_size: int | None = None
    mtime: float | None = None
    siblings: tuple[str, ...] = ()


def _group(files: list[EntryInfo]) -> dict[tuple[str, str], dict[str, _Entry]]:
    """{(namespace, function): {digest: entry}} from ONE recursive listing of the scheme
    directory: entries and siblings are told apart by name, nothing else is read."""
    tree: dict[tuple[str, str], dict[str, _Entry]] = defaultdict(dict)
    for info in files:
        parts = info.path.strip("/").split("/")
        if info.is_dir or len(parts) != 4 or parts[0] != SCHEME:
            continue
        named = split_name(parts[3])
        if named is None:
            continue  # the lock file, writes in progress, foreign files
        digest, kind = named
        entry = tree[(parts[1], parts[2])].setdefault(digest, _Entry(digest))
        entry.size += info.size
        if kind is None:
            entry.result_size, entry.mtime = info.size, info.mtime
        else:
            entry.siblings = (*entry.siblings, kind)
    return tree


def cmd_ls(root_url: str | None, namespace: str | None, out: TextIO) -> None:
    store = open_store(root_url) if root_url else select_root().open()
    prefix = f"{SCHEME}/{namespace}" if namespace else SCHEME
    tree = _group(store.list(prefix, recursive=True))
    print(f"root: {printable(store.url)}", file=out)
    if not tree:
        where = f"namespace {namespace!r}" if namespace else "this root"
        print(f"no entries in {where}", file=out)
        return
    for (ns, function), entries in sorted(tree.items()):
        total = sum(e.size for e in entries.values())
        count = len(entries)
        entry_count = f"{count} entr{'y' if count == 1 else 'ies'}"
        print(printable(f"{ns}/{function}  {entry_count}, {_size(total)}"), file=out)
        for entry in sorted(entries.values(), key=lambda e: (e.mtime or 0.0, e.digest)):
            result = _size(entry.result_size) if entry.result_size is not None else "no result"
            extra = f"  ({', '.join(sorted(entry.siblings))})" if entry.siblings else ""
            uri = shlex.quote(store.uri(f"{SCHEME}/{ns}/{function}/{entry.digest}"))
            line = f"  {entry.digest}  {result:>10}  {_time(entry.mtime)}  {uri}{extra}"
            print(printable(line), file=out)


def cmd_show(uri: str, out: TextIO) -> None:
    root_url, path = split_memo_uri(uri)
    store = open_store(root_url)
    meta = read_entry_meta(store, path)
    if meta is None:
        raise CliError(f"nothing is stored at {store.uri(path)}")
    print(json.dumps(meta, indent=2), file=out)  # ensure_ascii: control characters escaped


def cmd_rm(uri: str, out: TextIO) -> None:
    root_url, path = split_memo_uri(uri)
    store = open_store(root_url)
    if not store.exists(path) and not any(store.exists(sibling(path, k)) for k in SIBLINGS):
        raise CliError(f"nothing is stored at {store.uri(path)}")
    check_inside_root(store, path)
    check_is_entry(store, path)
    store.delete(path)
    for kind in SIBLINGS:
        store.delete(sibling(path, kind))
    print(printable(f"removed {store.uri(path)}"), file=out)


def _delegate(module_name: str, argv: Sequence[str]) -> int:
    """Run ``module.main(argv)``, importing it only now (it may pull in extra deps)."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise CliError(
                f"{module_name} needs {exc.name}, which is not installed; "
                f"install it (e.g. `pip install 'memokey[all]'`)"
            ) from exc
        raise CliError(f"this memokey installation has no {module_name}; upgrade memokey") from exc
    code: int = module.main(list(argv))
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memokey", description="Inspect and manage memokey results."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = sub.add_parser("demo", help="run a small pipeline twice-over: misses, then hits")
    demo.add_argument("--root", help="storage root URL (default: MEMOKEY_ROOT or cache dir)")
    demo.add_argument(
        "--shim",
        choices=("same-thread", "subprocess"),
        default="same-thread",
        help="where the slow step's misses run (default: same-thread)",
    )
    ls = sub.add_parser("ls", help="list stored functions and entries")
    ls.add_argument("root", nargs="?", help="root URL (default: MEMOKEY_ROOT or cache dir)")
    ls.add_argument("--namespace", "-n", help="only this namespace")
    show = sub.add_parser("show", help="print an entry's metadata")
    show.add_argument("uri", help="an entry URI, as printed by `memokey ls` or MemoKey.uri")
    rm = sub.add_parser("rm", help="delete one entry")
    rm.add_argument("uri", help="an entry URI, as printed by `memokey ls` or MemoKey.uri")
    for name, module in _DELEGATES.items():
        p = sub.add_parser(name, help=f"see `memokey {name} --help` ({module})", add_help=False)
        p.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``memokey`` console script and ``python -m memokey``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in _DELEGATES:  # pass everything after the name through untouched
        try:
            return _delegate(_DELEGATES[argv[0]], argv[1:])
        except CliError as exc:
            print(printable(f"memokey {argv[0]}: error: {exc}"), file=sys.stderr)
            return 1
    args = _parser().parse_args(argv)
    out = sys.stdout
    try:
        if args.command == "demo":
            from memokey.demo import run_demo

            run_demo(args.root, out, shim=args.shim)
        elif args.command == "ls":
            cmd_ls(args.root, args.namespace, out)
        elif args.command == "show":
            cmd_show(args.uri, out)
        elif args.command == "rm":
            cmd_rm(args.uri, out)
    except (CliError, MemokeyError) as exc:
        print(printable(f"memokey {args.command}: error: {exc}"), file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`memokey ls | head`): not a failure. Point stdout at
        # devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
