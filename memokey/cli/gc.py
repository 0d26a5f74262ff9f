"""``memokey gc``: remove entries by age, disuse, count, version and total size, plus
debris (`memokey.gc`), and say what went."""

from __future__ import annotations

import argparse
from typing import TextIO

from memokey._terminal import printable
from memokey.cli._common import format_size, open_root
from memokey.cli._progress import Progress
from memokey.cli._units import count, duration, name_part, size
from memokey.gc import ERROR_AGE, GcPolicy, collect

__all__ = ["add_parser", "cmd_gc"]


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser], root_help: str) -> None:
    gc = sub.add_parser("gc", help="remove old, unused, superseded entries and debris")
    gc.add_argument("root", nargs="?", help=root_help)
    gc.add_argument(
        "--older-than", type=duration, metavar="DUR", help="created before (45s 90m 12h 30d)"
    )
    gc.add_argument(
        "--unused-for", type=duration, metavar="DUR", help="not used for (hits are tracked)"
    )
    gc.add_argument(
        "--max-size",
        type=size,
        metavar="SIZE",
        help="evict least recently used until under (500M 10G)",
    )
    gc.add_argument(
        "--keep-last", type=count, metavar="N", help="keep the N most recently used per function"
    )
    gc.add_argument(
        "--function", "-f", type=name_part, help="only this function id (all versions) or directory"
    )
    gc.add_argument("--namespace", "-n", type=name_part, help="only this namespace")
    gc.add_argument(
        "--stale-versions",
        action="store_true",
        help="entries of every code version / logic key but the newest",
    )
    gc.add_argument(
        "--errors-older-than",
        type=duration,
        metavar="DUR",
        default=ERROR_AGE,
        help="error records with no entry, stored before (default 7d)",
    )
    gc.add_argument("--dry-run", action="store_true", help="say what would go; delete nothing")


def cmd_gc(args: argparse.Namespace, out: TextIO) -> None:
    policy = GcPolicy(
        older_than=args.older_than,
        unused_for=args.unused_for,
        max_size=args.max_size,
        keep_last=args.keep_last,
        namespace=args.namespace,
        function=args.function,
        stale_versions=args.stale_versions,
        dry_run=args.dry_run,
        error_age=args.errors_older_than,
    )
    store = open_root(args.root)
    with Progress("collecting") as progress:
        report = collect(store, policy, progress=progress.update)
    verb = "would free" if policy.dry_run else "freed"
    noun = "entry" if report.entries == 1 else "entries"
    lines = [
        f"root: {store.url}",
        f"{verb} {report.entries} {noun} ({format_size(report.entry_bytes)}) and "
        f"{report.debris} debris objects ({format_size(report.debris_bytes)})",
        f"kept {report.kept} entries ({format_size(report.kept_bytes)})",
    ]
    if report.live:
        lines.append(f"left {report.live} alone: a live lease is writing them")
    if report.changed:
        lines.append(f"kept {report.changed} replaced since they were listed")
    if report.uploads:
        lines.append(f"aborted {report.uploads} incomplete uploads")
    for line in lines:
        print(printable(line), file=out)
