"""``memokey show`` and ``memokey rm``: one entry by id or URI, or (rm) every entry under
a namespace or function prefix."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterable
from typing import TextIO

from memokey._containment import check_inside_root, check_is_entry
from memokey._terminal import printable
from memokey.cli._common import CliError, Selection, entry_id, format_size, select
from memokey.cli._progress import Progress
from memokey.entry_reader import read_entry_meta
from memokey.errors import WriteConflictError
from memokey.inflight import in_flight
from memokey.keys import SCHEME
from memokey.layout import INVOCATION, LEASE, SIBLINGS, sibling
from memokey.meta import short_repr
from memokey.signing import env_signer
from memokey.trust import Trust, env_allows_pickle
from memokey.walk import function_dirs, walk_function
from memokey_backends import Store

__all__ = ["cmd_rm", "cmd_show"]

VALUE_LIMIT = 2000  # characters of a value's repr that `show --value` prints
IN_FLIGHT_NOTE = (
    "kept the lease and invocation of {n} computation{s} in flight (deleting them would "
    "start the same work again elsewhere); --force removes them too"
)


def cmd_show(target: str, root: str | None, out: TextIO, *, value: bool = False) -> None:
    """The entry's metadata trailer as JSON (one ranged read); with `value`, the stored
    value's repr (truncated) after decoding it under the environment's trust settings
    (``MEMOKEY_ALLOW_PICKLE``, ``MEMOKEY_SIGNING_KEY``)."""
    chosen = select(target, root)
    store, path = chosen.store, chosen.entry
    assert path is not None
    if value:
        data = store.read(path)
        if data is None:
            raise CliError(f"nothing is stored at {store.uri(path)}")
        trust = Trust(None, env_allows_pickle(), env_signer())
        decoded = trust.decode_result(data, store.uri(path))
        print(printable(short_repr(decoded, VALUE_LIMIT)), file=out)
        return
    meta = read_entry_meta(store, path)
    if meta is None:
        raise CliError(f"nothing is stored at {store.uri(path)}")
    print(json.dumps(meta, indent=2), file=out)  # ensure_ascii: control characters escaped


def cmd_rm(
    targets: list[str],
    root: str | None,
    out: TextIO,
    *,
    dry_run: bool = False,
    force: bool = False,
) -> None:
    """Delete entries (each with its lease, invocation and error): one by id or URI, or
    every entry under a ``NAMESPACE`` or ``NAMESPACE/FUNCTION`` prefix; print a count.
    A computation in flight keeps its lease and invocation unless `force`."""
    verb = "would remove" if dry_run else "removed"
    for target in targets:
        chosen = select(target, root, prefix_ok=True)
        if chosen.entry is not None:
            _rm_one(chosen, out, dry_run=dry_run, verb=verb, force=force)
        else:
            _rm_prefix(chosen, target, out, dry_run=dry_run, verb=verb, force=force)


def _delete_key(store: Store, path: str, digest: str, kinds: Iterable[str], *, force: bool) -> bool:
    """Delete an entry and its `kinds` of siblings; True when a computation in flight holds
    the key, and so (unless `force`) keeps its lease and invocation. A stale lease is
    deleted only while it is the version read: one taken over meanwhile is a live one's."""
    kinds = tuple(kinds)
    if force:
        live, version = False, None
    else:
        live, version = in_flight(
            store,
            path,
            digest,
            has_lease=LEASE in kinds,
            has_invocation=INVOCATION in kinds,
            now=time.time(),
        )
    store.delete(path)
    for kind in kinds:
        if live and kind in (LEASE, INVOCATION):
            continue
        if kind == LEASE and not force:
            if version is not None:
                with contextlib.suppress(WriteConflictError):
                    store.delete(sibling(path, LEASE), version=version)
            continue
        store.delete(sibling(path, kind))
    return live


def _rm_one(chosen: Selection, out: TextIO, *, dry_run: bool, verb: str, force: bool) -> None:
    store, path = chosen.store, chosen.entry
    assert path is not None
    if not store.exists(path) and not any(store.exists(sibling(path, k)) for k in SIBLINGS):
        raise CliError(f"nothing is stored at {store.uri(path)}")
    check_inside_root(store, path)
    check_is_entry(store, path)
    live = False
    if not dry_run:
        live = _delete_key(store, path, path.rsplit("/", 1)[-1], SIBLINGS, force=force)
    print(printable(f"{verb} {store.uri(path)}"), file=out)
    if live:
        print(IN_FLIGHT_NOTE.format(n=1, s=""), file=out)


def _rm_prefix(
    chosen: Selection, target: str, out: TextIO, *, dry_run: bool, verb: str, force: bool
) -> None:
    store, namespace = chosen.store, chosen.namespace
    assert namespace is not None
    entries = size = live = 0
    with Progress("removing") as progress:
        for ns, fdir in function_dirs(store, namespace, chosen.function):
            check_inside_root(store, f"{SCHEME}/{ns}/{fdir}")
            for found in walk_function(store, ns, fdir):
                progress.update()
                entries += found.has_entry
                size += found.size + found.sibling_bytes
                if dry_run:
                    continue
                kinds = found.siblings
                if found.has_entry or kinds:
                    live += _delete_key(store, found.path, found.digest, kinds, force=force)
    if not entries and not size:
        raise CliError(
            f"no entries match {target!r} in {store.url}; see `memokey ls` for what is stored"
        )
    noun = "entry" if entries == 1 else "entries"
    where = entry_id(f"{SCHEME}/{namespace}" + (f"/{chosen.function}" if chosen.function else ""))
    print(printable(f"{verb} {entries} {noun} ({format_size(size)}) under {where}"), file=out)
    if live:
        print(IN_FLIGHT_NOTE.format(n=live, s="" if live == 1 else "s"), file=out)
