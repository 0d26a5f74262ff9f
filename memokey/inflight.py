"""Is a key being computed right now? What `memokey gc` and `memokey rm` leave alone.

On object stores a computation in flight holds a live lease (`memokey.leases`): not
expired, and its holder not known to be gone. On local roots it holds the key's kernel
lock instead (`memokey._local_locks`); that is asked only when the key has an invocation,
the one sibling a live local caller still needs (a queued remote run). A computation in
flight owns its lease and invocation: deleting them makes another caller start the same
work, or leaves a remote worker without the call it was sent.
"""

from __future__ import annotations

from memokey._local_locks import lock_for
from memokey.layout import LEASE, sibling
from memokey.leases import LeaseRecord
from memokey_backends import Store

__all__ = ["in_flight"]


def in_flight(
    store: Store,
    entry: str,
    digest: str,
    *,
    has_lease: bool,
    has_invocation: bool,
    now: float,
) -> tuple[bool, str | None]:
    """(whether a computation holds the key of `entry`, the version of the lease read).

    A delete of a lease judged stale should be conditional on that version, so that a
    lease someone took over since (a new holder computing the key now) is never deleted."""
    live, version = False, None
    current = store.read_versioned(sibling(entry, LEASE)) if has_lease else None
    if current is not None:
        data, version = current
        record = LeaseRecord.decode(data)  # None: not a lease any live holder wrote
        live = record is not None and record.expires_at > now and not record.holder_gone()
    if not live and has_invocation:
        live = _locally_locked(store, entry, digest)
    return live, version


def _locally_locked(store: Store, entry: str, digest: str) -> bool:
    local_path = getattr(store, "local_path", None)
    where = None if local_path is None else local_path(entry)
    lock = None if where is None else lock_for(where, digest)
    try:
        return lock is not None and lock.held_by_someone()
    except OSError:
        return True  # cannot tell: keep it, as for a live lease
