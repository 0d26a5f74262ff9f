"""Per-function cache management: what a memoized function's ``is_cached``, ``forget``,
``refresh``, ``clear`` and ``entries`` do.

Each works on the root a real call would use now (``with memokey.root(...)`` included)
and never lists to answer about one call: ``is_cached`` is one existence check (with
``ttl``, one read: an expired entry is not cached, a call would recompute it),
``forget`` deletes the entry and its stored error. ``refresh`` recomputes in this
process and replaces the entry with one atomic overwrite (local: temporary file +
rename; object stores: a whole-object PUT), so a concurrent reader gets the old value or
the new one, whole, never neither. ``clear`` and ``entries`` list the function's
directory (``all_versions=True``: every directory of the function in its namespace, i.e.
every code version and logic key).

Leases and invocations are left alone: they belong to a computation in flight
(``memokey gc`` removes the stale ones).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from memokey._targets import Target, read_entry
from memokey.entry_reader import read_entry_meta
from memokey.errors import ResultCorruptedError
from memokey.expiry import expired
from memokey.explain import report
from memokey.keys import SCHEME
from memokey.layout import ERROR, split_name
from memokey.manifest import key_manifest
from memokey_backends import EntryInfo, Store

if TYPE_CHECKING:
    from memokey.runners import Runner

__all__ = [
    "Lifecycle",
    "StoredEntry",
    "clear",
    "entries",
    "explain_call",
    "forget",
    "function_dirs",
    "is_cached",
]

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class StoredEntry:
    """One stored result of a function, described from its listing and metadata trailer."""

    uri: str
    path: str  # relative to the root
    digest: str
    function_dir: str  # "{function_id}[@{logic_key}][={code_version}]"
    size: int  # bytes of the entry object
    modified: datetime | None
    meta: Mapping[str, Any] = field(default_factory=dict)
    #: Why `meta` is empty: the trailer could not be read (a damaged entry).
    problem: str | None = None

    @property
    def arguments(self) -> Mapping[str, str]:
        """Parameter name -> short repr of the keyed argument (from the trailer)."""
        found = self.meta.get("arguments")
        return found if isinstance(found, dict) else {}

    @property
    def duration_seconds(self) -> float | None:
        """How long the call took to compute."""
        found = self.meta.get("duration_seconds")
        return float(found) if isinstance(found, (int, float)) else None


def _stored(runner: Runner, target: Target) -> str | None:
    """Why a call on `target` would miss now: None when it would hit. One request: an
    existence check, or with ``ttl`` one read (the age is in the entry's header)."""
    if runner.ttl is None:
        return None if target.store.exists(target.path) else "absent"
    data = read_entry(target.store, target.path)
    if data is None:
        return "absent"
    return "expired" if expired(data, runner.ttl) else None


def is_cached(runner: Runner, func: Callable[..., Any], args: Any, kwargs: Any) -> bool:
    """Whether a call now would be served from the store (an entry older than the
    function's ``ttl`` is not: the call would recompute it). Nothing is decoded."""
    return _stored(runner, runner.target(func, args, kwargs)) is None


def forget(runner: Runner, func: Callable[..., Any], args: Any, kwargs: Any) -> bool:
    """Delete the call's entry (and its stored error); True when an entry was there."""
    target = runner.target(func, args, kwargs)
    store = target.store
    existed = store.exists(target.path)
    store.delete(target.path)
    store.delete(target.sibling(ERROR))
    return existed


def function_dirs(runner: Runner, func: Callable[..., Any], *, all_versions: bool) -> list[str]:
    """Store paths of `func`'s directories: the current one, or (`all_versions`) every
    directory of the same function id in the runner's namespace."""
    place = runner.place(func)
    current = place.path_prefix.rstrip("/")
    if not all_versions:
        return [current]
    found = []
    for info in place.store.list(f"{SCHEME}/{place.namespace}"):
        name = posixpath.basename(info.path.rstrip("/"))
        rest = name[len(place.function_id) :]
        # "@" and "=" are in no Python name: a longer function id never matches.
        if info.is_dir and name.startswith(place.function_id) and rest[:1] in ("", "@", "="):
            found.append(info.path.rstrip("/"))
    return sorted(set(found) | {current})


def _listed(store: Store, directory: str) -> Iterator[tuple[EntryInfo, str, str | None]]:
    for info in store.list(directory):
        if info.is_dir:
            continue
        named = split_name(posixpath.basename(info.path))
        if named is not None:
            yield info, named[0], named[1]


def clear(runner: Runner, func: Callable[..., Any], *, all_versions: bool = False) -> int:
    """Delete `func`'s entries (and stored errors) in the current code version's
    directory, or in all of them; the number of entries deleted."""
    removed = 0
    for directory in function_dirs(runner, func, all_versions=all_versions):
        store = runner.place(func).store
        for info, _digest, kind in _listed(store, directory):
            if kind is None:
                store.delete(info.path)
                removed += 1
            elif kind == ERROR:
                store.delete(info.path)
    return removed


def entries(
    runner: Runner, func: Callable[..., Any], *, all_versions: bool = False
) -> Iterator[StoredEntry]:
    """`func`'s stored entries with their metadata trailers (one ranged read each, made
    as the iterator advances), oldest first within a directory."""
    store = runner.place(func).store
    for directory in function_dirs(runner, func, all_versions=all_versions):
        found = [(info, digest) for info, digest, kind in _listed(store, directory) if not kind]
        found.sort(key=lambda item: (item[0].mtime or 0.0, item[1]))
        for info, digest in found:
            problem = None
            try:
                meta = read_entry_meta(store, info.path)
            except ResultCorruptedError as exc:
                meta, problem = {}, str(exc)
            if meta is None:
                continue  # deleted since the listing
            modified = None
            if info.mtime is not None:
                modified = datetime.fromtimestamp(info.mtime, tz=timezone.utc)
            yield StoredEntry(
                uri=store.uri(info.path),
                path=info.path,
                digest=digest,
                function_dir=posixpath.basename(directory),
                size=info.size,
                modified=modified,
                meta=meta,
                problem=problem,
            )


def explain_call(runner: Runner, func: Callable[..., Any], args: Any, kwargs: Any) -> str:
    """Why a call hits or misses: on a miss, what differs from the nearest stored entries
    of the same function (every code version and logic key in its namespace)."""
    target = runner.target(func, args, kwargs)
    why = _stored(runner, target)
    if why is None:
        return f"hit: {target.uri} is stored"
    if why == "expired":
        return (
            f"miss: the entry at {target.uri} expired (older than ttl={runner.ttl:g}s); "
            "the next call recomputes and replaces it"
        )
    described = {
        "manifest": key_manifest(target.keyed),
        "code": target.place.extra or {},
        "logic_key": target.place.logic_key,
    }
    title = f"miss: nothing is stored at {target.uri}"
    return report(title, described, entries(runner, func, all_versions=True))


class Lifecycle(Generic[P, R]):
    """The lifecycle helpers of a memoized function (mixed into `MemoizedFunction`)."""

    __slots__ = ()
    runner: Runner
    __wrapped__: Callable[P, R]

    def is_cached(self, *args: P.args, **kwargs: P.kwargs) -> bool:
        """Whether this call's result is stored (one existence check)."""
        return is_cached(self.runner, self.__wrapped__, args, kwargs)

    def forget(self, *args: P.args, **kwargs: P.kwargs) -> bool:
        """Delete this call's stored result; True when there was one."""
        return forget(self.runner, self.__wrapped__, args, kwargs)

    def refresh(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Recompute this call and replace its stored result atomically."""
        return self.runner.refresh(self.__wrapped__, args, kwargs)  # type: ignore[no-any-return]

    def clear(self, *, all_versions: bool = False) -> int:
        """Delete this function's stored results (this code version, or every version);
        the number deleted."""
        return clear(self.runner, self.__wrapped__, all_versions=all_versions)

    def entries(self, *, all_versions: bool = False) -> Iterator[StoredEntry]:
        """This function's stored results with their metadata."""
        return entries(self.runner, self.__wrapped__, all_versions=all_versions)

    def explain(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """Why this call would hit or miss: on a miss, what differs from the nearest
        stored entries of this function (`memokey.explain`)."""
        return explain_call(self.runner, self.__wrapped__, args, kwargs)
