"""The ``memokey`` command, one module per command family.

    memokey --version
    memokey demo [--root URL] [--shim S]      a small real pipeline: misses, then hits
    memokey ls [ROOT] [-n NS] [--uri]          one line per entry: id, size, time, siblings
    memokey du [ROOT] [-n NS]                  bytes and entries per function and namespace
    memokey show ID|URI [--root R] [--value]   an entry's metadata (or its value)
    memokey rm ID|URI|PREFIX... [--dry-run] [--force]  delete entries, with a count
    memokey gc [ROOT] [--older-than D] ...     remove old/unused/superseded entries, debris
    memokey explain ID [ID] [--root R]         what differs between entries (why a miss)
    memokey run URI                            run a stored invocation (memokey.remote)
    memokey bench ...                          the benchmark suite (memokey.bench)

Without ROOT, commands use the root a memoized call would: ``MEMOKEY_ROOT``, else the
user cache directory. Ids (`memokey.cli._common`) are relative to the root; URIs carry
it. Everything printed that comes from the store has its control characters escaped
(`memokey._terminal`), and ``rm`` deletes nothing outside the root (`memokey._containment`).
Progress bars (`memokey.cli._progress`) appear on stderr only when it is a terminal.
Exit status: 0 success, 1 failure (message on stderr), 2 usage.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from memokey._terminal import printable
from memokey._version import __version__
from memokey.cli._common import CliError, split_memo_uri
from memokey.cli._units import name_part
from memokey.errors import MemokeyError

__all__ = ["CliError", "main", "split_memo_uri"]

_DELEGATES = {"run": "memokey.remote", "bench": "memokey.bench"}
_ROOT_HELP = "root URL (default: MEMOKEY_ROOT or the user cache dir)"


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
    parser.add_argument("--version", action="version", version=f"memokey {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = sub.add_parser("demo", help="run a small pipeline twice-over: misses, then hits")
    demo.add_argument("--root", help=_ROOT_HELP)
    demo.add_argument(
        "--shim",
        choices=("same-thread", "subprocess"),
        default="same-thread",
        help="where the slow step's misses run (default: same-thread)",
    )
    ls = sub.add_parser("ls", help="list stored entries (ids for show / rm / explain)")
    ls.add_argument("root", nargs="?", help=_ROOT_HELP)
    ls.add_argument("--namespace", "-n", type=name_part, help="only this namespace")
    ls.add_argument(
        "--function", "-f", type=name_part, help="only this function id (all versions) or directory"
    )
    ls.add_argument("--uri", action="store_true", help="print full URIs instead of ids")
    du = sub.add_parser("du", help="bytes and entries per function and namespace")
    du.add_argument("root", nargs="?", help=_ROOT_HELP)
    du.add_argument("--namespace", "-n", type=name_part, help="only this namespace")
    show = sub.add_parser("show", help="print an entry's metadata (or --value)")
    show.add_argument("entry", help="an id from `memokey ls`, or an entry URI")
    show.add_argument("--root", help=_ROOT_HELP + "; for ids")
    show.add_argument("--value", action="store_true", help="print the stored value (repr)")
    rm = sub.add_parser("rm", help="delete entries: one, or all under a prefix")
    rm.add_argument(
        "targets", nargs="+", metavar="ID|URI|PREFIX", help="entry id or URI, NS or NS/FUNCTION"
    )
    rm.add_argument("--root", help=_ROOT_HELP + "; for ids and prefixes")
    rm.add_argument("--dry-run", action="store_true", help="count what would go; delete nothing")
    rm.add_argument(
        "--force",
        action="store_true",
        help="also remove the lease and invocation of a computation in flight",
    )
    explain = sub.add_parser("explain", help="what differs between entries (why a miss)")
    explain.add_argument("entries", nargs="+", metavar="ID", help="one or two ids or URIs")
    explain.add_argument("--root", help=_ROOT_HELP + "; for ids")
    from memokey.cli import gc

    gc.add_parser(sub, _ROOT_HELP)
    for name, module in _DELEGATES.items():
        p = sub.add_parser(name, help=f"see `memokey {name} --help` ({module})", add_help=False)
        p.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def _run(args: argparse.Namespace) -> None:
    out = sys.stdout
    if args.command == "demo":
        from memokey.demo import run_demo

        run_demo(args.root, out, shim=args.shim)
    elif args.command in ("ls", "du"):
        from memokey.cli.listing import cmd_du, cmd_ls

        if args.command == "ls":
            cmd_ls(args.root, args.namespace, out, uris=args.uri, function=args.function)
        else:
            cmd_du(args.root, args.namespace, out)
    elif args.command in ("show", "rm"):
        from memokey.cli.entries import cmd_rm, cmd_show

        if args.command == "show":
            cmd_show(args.entry, args.root, out, value=args.value)
        else:
            cmd_rm(args.targets, args.root, out, dry_run=args.dry_run, force=args.force)
    elif args.command == "explain":
        from memokey.cli.explain import cmd_explain

        if len(args.entries) > 2:
            raise CliError("explain takes one entry (compared with its nearest) or two")
        cmd_explain(args.entries, args.root, out)
    elif args.command == "gc":
        from memokey.cli.gc import cmd_gc

        cmd_gc(args, out)


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
    try:
        _run(args)
    except (CliError, MemokeyError) as exc:
        print(printable(f"memokey {args.command}: error: {exc}"), file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`memokey ls | head`): not a failure. Point stdout at
        # devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
