"""Garbage collection: which entries and debris ``memokey gc`` removes, and removing them.

Entries are chosen by age (``older_than``: since created), disuse (``unused_for``: since
last use, `memokey.usage`; creation when never marked), count (``keep_last`` most
recently used per function, all its versions together), stale versions (every function
directory of a function but the one written most recently) and total size (``max_size``:
least recently used first until what remains fits). Debris is what no entry needs: stale
leases (expired, or their holder on this machine has ended), invocations and temp files
older than ``debris_age`` with no live lease, use markers without an entry, error records
without an entry older than ``error_age`` (or than ``older_than`` / ``unused_for``, when
set) with no live lease (a remote failure kept for inspection, or a cached error), and
incomplete multipart uploads (`SupportsUploadCleanup`) of entries under the scheme
directory (and the namespace / function asked for): another program's upload in a shared
bucket is not memokey's debris.

Never removed: an entry (or lease) whose key has a live lease, since someone is writing
it. An entry is deleted conditionally on the version the listing reported (one
conditional request on S3/GCS/Azure, a version check on local roots): one replaced since
(refresh, expiry) is kept. A stale lease is deleted only while it is the version gc
read: one taken over since belongs to a live holder. On local roots a key being
computed holds a kernel lock instead of a lease; its invocation is kept while it does.
The root is read one function at a time.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from memokey.errors import StoreError, WriteConflictError
from memokey.inflight import in_flight
from memokey.keys import SCHEME
from memokey.layout import ERROR, INVOCATION, LEASE, USED, sibling
from memokey.walk import Found, function_dirs, matches_function, temp_files, walk_function
from memokey_backends import Store

__all__ = ["GcPolicy", "GcReport", "collect"]

DEBRIS_AGE = 3600.0  # seconds: a write or remote run older than this is abandoned
ERROR_AGE = 7 * 86400.0  # seconds: an error record with no entry is kept this long


@dataclass(frozen=True)
class GcPolicy:
    """What to remove; None/False: that rule is off (debris is always removed)."""

    older_than: float | None = None
    unused_for: float | None = None
    max_size: int | None = None
    keep_last: int | None = None
    namespace: str | None = None
    function: str | None = None
    stale_versions: bool = False
    dry_run: bool = False
    debris_age: float = DEBRIS_AGE
    error_age: float = ERROR_AGE

    def error_bound(self) -> float:
        """The age after which an error record with no entry goes."""
        rules = (self.error_age, self.older_than, self.unused_for)
        return min(age for age in rules if age is not None)


@dataclass
class GcReport:
    """What gc removed (or, dry run, would remove) and kept."""

    entries: int = 0
    entry_bytes: int = 0
    debris: int = 0
    debris_bytes: int = 0
    kept: int = 0
    kept_bytes: int = 0
    live: int = 0  # entries or leases left alone because a live lease holds their key
    changed: int = 0  # entries replaced since the listing, so kept
    uploads: int = 0  # incomplete multipart uploads aborted
    removed_ids: list[str] = field(default_factory=list)


def _function_id(function_dir: str) -> str:
    cut = [i for i in (function_dir.find("@"), function_dir.find("=")) if i >= 0]
    return function_dir[: min(cut)] if cut else function_dir


def _groups(store: Store, policy: GcPolicy) -> Iterator[list[tuple[str, str]]]:
    """The function directories of one function (namespace + function id) at a time."""
    by_function: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for ns, fdir in function_dirs(store, policy.namespace, policy.function):
        by_function[(ns, _function_id(fdir))].append((ns, fdir))
    for key in sorted(by_function):
        yield by_function.pop(key)


def _lease(store: Store, found: Found, now: float) -> tuple[bool, str | None]:
    """(whether a live holder has `found`'s key, the version of the lease read)."""
    return in_flight(
        store,
        found.path,
        found.digest,
        has_lease=LEASE in found.siblings,
        has_invocation=INVOCATION in found.siblings,
        now=now,
    )


def _delete_sibling(store: Store, found: Found, kind: str, lease_version: str | None) -> bool:
    """Delete one sibling; a lease only while it is the version gc read (False if not)."""
    if kind != LEASE:
        store.delete(sibling(found.path, kind))
        return True
    if lease_version is None:
        return False  # gone since, or never read: nothing of ours to delete
    try:
        store.delete(sibling(found.path, LEASE), version=lease_version)
    except WriteConflictError:
        return False  # taken over since gc read it: a live holder's now
    return True


def collect(
    store: Store,
    policy: GcPolicy,
    *,
    now: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> GcReport:
    """Apply `policy` to the root of `store`; the report says what went."""
    now = time.time() if now is None else now
    report = GcReport()
    survivors: list[tuple[float, int, Found]] = []  # for max_size: (last use, size, entry)
    for group in _groups(store, policy):
        found_all: list[Found] = []
        newest_dir, newest = None, -1.0
        for ns, fdir in group:
            for found in walk_function(store, ns, fdir):
                if progress is not None:
                    progress(1)
                if found.has_entry:
                    found_all.append(found)
                    if (found.mtime or 0.0) > newest:
                        newest_dir, newest = fdir, found.mtime or 0.0
                _debris(store, policy, found, now, report)
            _temp_debris(store, policy, ns, fdir, now, report)
        ranked = sorted(found_all, key=lambda f: _last_use(f), reverse=True)
        for rank, found in enumerate(ranked):
            if _doomed(policy, found, rank, newest_dir, now):
                _remove(store, policy, found, now, report)
            else:
                survivors.append((_last_use(found), found.size + found.sibling_bytes, found))
    removed = set(report.removed_ids)
    if policy.max_size is not None:
        survivors.sort(key=lambda item: item[0])  # least recently used first
        total = sum(size for _, size, _ in survivors)
        for _, size, found in survivors:
            if total <= policy.max_size:
                break
            if _remove(store, policy, found, now, report):
                removed.add(found.id)
                total -= size
    kept = [(size, found) for _, size, found in survivors if found.id not in removed]
    report.kept = len(kept)
    report.kept_bytes = sum(size for size, _ in kept)
    report.uploads = _uploads(store, policy)
    return report


def _last_use(found: Found) -> float:
    return max(found.used or 0.0, found.mtime or 0.0)


def _doomed(policy: GcPolicy, found: Found, rank: int, newest_dir: str | None, now: float) -> bool:
    if policy.older_than is not None and now - (found.mtime or now) >= policy.older_than:
        return True
    if policy.unused_for is not None and now - _last_use(found) >= policy.unused_for:
        return True
    if policy.keep_last is not None and rank >= policy.keep_last:
        return True
    return policy.stale_versions and found.function_dir != newest_dir


def _remove(store: Store, policy: GcPolicy, found: Found, now: float, report: GcReport) -> bool:
    """Delete one entry (conditionally on its listed version) and its siblings."""
    live, lease_version = _lease(store, found, now)
    if live:
        report.live += 1
        return False
    if not policy.dry_run:
        try:
            store.delete(found.path, version=found.version) if found.version else store.delete(
                found.path
            )
        except WriteConflictError:
            report.changed += 1  # replaced since the listing: it is someone's new value
            return False
        for kind, _size, _mtime in found.sibling_files:
            _delete_sibling(store, found, kind, lease_version)
    report.entries += 1
    report.entry_bytes += found.size + found.sibling_bytes
    report.removed_ids.append(found.id)
    return True


def _debris(store: Store, policy: GcPolicy, found: Found, now: float, report: GcReport) -> None:
    """Siblings no entry needs: stale leases, abandoned invocations, orphaned markers and
    old error records."""
    if not found.sibling_files:
        return
    live, lease_version = _lease(store, found, now)
    for kind, size, mtime in found.sibling_files:
        old = now - (mtime or now) >= policy.debris_age
        gone = (
            (kind == LEASE and not live and lease_version is not None)
            or (kind == INVOCATION and not live and old)
            or (kind == USED and not found.has_entry)
            or (
                kind == ERROR
                and not found.has_entry
                and not live
                and now - (mtime or now) >= policy.error_bound()
            )
        )
        if gone:
            if not policy.dry_run and not _delete_sibling(store, found, kind, lease_version):
                continue
            report.debris += 1
            report.debris_bytes += size


def _temp_debris(
    store: Store, policy: GcPolicy, ns: str, fdir: str, now: float, report: GcReport
) -> None:
    for name, size, mtime, _atime, _version in temp_files(store, ns, fdir):
        if now - (mtime or now) >= policy.debris_age:
            if not policy.dry_run:
                store.delete(f"{SCHEME}/{ns}/{fdir}/{name}")
            report.debris += 1
            report.debris_bytes += size


def _ours(policy: GcPolicy) -> Callable[[str], bool]:
    """Whether an upload (its root-relative path) is a write of an entry gc may touch:
    under the scheme directory and the namespace / function asked for, never another
    program's upload in a root (a whole bucket, say) memokey shares."""

    def accept(path: str) -> bool:
        parts = path.split("/")
        if len(parts) != 4 or parts[0] != SCHEME:
            return False
        if policy.namespace is not None and parts[1] != policy.namespace:
            return False
        return policy.function is None or matches_function(parts[2], policy.function)

    return accept


def _uploads(store: Store, policy: GcPolicy) -> int:
    lister = getattr(store, "incomplete_uploads", None)
    if lister is None:
        return 0
    ours = _ours(policy)
    try:
        if policy.dry_run:
            return sum(1 for upload in lister(older_than=policy.debris_age) if ours(upload.path))
        aborted: int = store.abort_incomplete_uploads(  # type: ignore[attr-defined]
            older_than=policy.debris_age, only=ours
        )
        return aborted
    except StoreError:
        return 0
