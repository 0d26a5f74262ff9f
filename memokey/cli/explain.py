"""``memokey explain ID [ID]``: what differs between two entries, or between one entry and
the nearest other entries of its function (`memokey.explain`)."""

from __future__ import annotations

import posixpath
from typing import Any, TextIO

from memokey._terminal import printable
from memokey.cli._common import CliError, entry_id, select
from memokey.entry_reader import read_entry_meta
from memokey.explain import differences, report
from memokey.lifecycle import StoredEntry
from memokey.walk import function_dirs, walk_function
from memokey_backends import Store

__all__ = ["cmd_explain"]


def _meta(target: str, root: str | None) -> tuple[Store, str, dict[str, Any]]:
    chosen = select(target, root)
    assert chosen.entry is not None
    meta = read_entry_meta(chosen.store, chosen.entry)
    if meta is None:
        raise CliError(f"nothing is stored at {chosen.store.uri(chosen.entry)}")
    return chosen.store, chosen.entry, meta


def cmd_explain(targets: list[str], root: str | None, out: TextIO) -> None:
    store, path, meta = _meta(targets[0], root)
    if len(targets) == 2:
        _, other_path, other = _meta(targets[1], root)
        diffs = differences(meta, other) or ["no difference in the key manifest"]
        print(printable(f"from {entry_id(path)}"), file=out)
        print(printable(f"to   {entry_id(other_path)}"), file=out)
        for line in diffs:
            print(printable(f"  {line}"), file=out)
        return
    _scheme, namespace, function_dir, _digest = path.split("/")
    function_id = function_dir.split("@")[0].split("=")[0]

    def candidates() -> list[StoredEntry]:
        found = []
        for ns, fdir in function_dirs(store, namespace, function_id):
            for key in walk_function(store, ns, fdir):
                if key.has_entry and key.path != path:
                    other = read_entry_meta(store, key.path)
                    if other is not None:
                        found.append(
                            StoredEntry(
                                uri=key.path,
                                path=key.path,
                                digest=key.digest,
                                function_dir=posixpath.basename(fdir),
                                size=key.size,
                                modified=None,
                                meta=other,
                            )
                        )
        return found

    text = report(f"entry {entry_id(path)}", meta, candidates(), name=lambda e: entry_id(e.path))
    for line in text.split("\n"):  # escaped line by line: the newlines are ours
        print(printable(line), file=out)
