"""Compute-once across processes: a lease object kept in the store itself.

memokey has no coordination service; the one thing every caller shares is the storage
root. So a caller about to compute a missing result first creates ``{entry}.lease`` by
exclusive create (exactly one winner per race), keeps it alive with a heartbeat thread and
deletes it on every way out. Everyone else reads the lease once (who holds it, until
when) and then polls the *result* alone, one read per poll with capped backoff, until it
appears or the lease's expiry passes; only then is the lease read again (renewed: keep
waiting; stale: one waiter takes it over). Waiting writes nothing.

A lease saves duplicate work; it is not what keeps results correct. Results are published
by exclusive create, so even when two callers both believe they hold a lease (the races
described below) they compute twice and exactly one result is published: nobody ever
reads a mixed or partial value.

A crashed holder on this machine is seen at once: the lease records the holder's host,
pid, machine token (boot id + pid namespace) and process start time (`memokey._holders`),
and a lease whose holder ran here and whose process has ended (or whose pid now belongs
to another process) counts as stale before it expires. A holder elsewhere is waited out
until ``expires_at``; a caller that has waited `REPORT_AFTER` seconds logs one WARNING
line naming the holder (host, pid) and when its lease expires. Waiters poll at most every
second, so a SIGKILLed holder on the same machine is replaced within about a second.

Taking over a stale lease:

* with compare-and-swap (``Store.supports_cas``: local disk, S3, Azure, GCS): the taker
  swaps its record in only if the lease still has the stale version it read; exactly one
  taker wins, and a holder that wakes up finds its next renewal refused (`Lease.lost`).
* without it (``memory://``, unknown filesystems): the taker re-reads the lease, checks it
  is still the stale record, deletes it and creates its own by exclusive create. Race
  window: a second taker that read the same stale record may delete the first taker's
  fresh lease between its own re-read and delete; both then compute. Likewise a holder
  that wakes up after missing every heartbeat for ``lease_seconds`` renews by plain
  overwrite and may clobber its taker's lease.

Clocks: staleness compares the holder's wall-clock ``expires_at`` with the reader's clock.
The heartbeat renews every ``lease_seconds / 3``, so a live holder always has at least
two thirds of ``lease_seconds`` left; hosts' clocks must agree better than that (NTP does).
Leases are read straight from the store on every poll, never from a cache.

Cost: taking a free lease is ONE exclusive write, and it is renewed by the process's
shared heartbeat thread (`memokey._heartbeat`), not a thread of its own. Its version
token comes back from that write where the backend reports one (S3 ETag, GCS generation,
Azure ETag), else it is read at the first renewal, which checks the stored bytes are
still exactly ours. Releasing is ONE conditional delete (only if the lease is still the
version we wrote) where the version is known, else a read and a delete. Lease writes are
never fsynced: a lease is ephemeral, and one lost in a crash only lets a waiter take over
sooner. Local roots use kernel byte-range locks instead (`memokey._local_locks`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from types import TracebackType

from memokey import _heartbeat
from memokey._holders import holder_is_gone, this_process
from memokey._terminal import printable
from memokey.errors import LeaseError, StoreError, WriteConflictError
from memokey.layout import LEASE, sibling
from memokey_backends.protocol import Store

__all__ = [
    "DEFAULT_LEASE_SECONDS",
    "LEASE_NAME",
    "Lease",
    "LeaseRecord",
    "acquire_or_wait",
    "holding_lease",
    "read_lease",
    "try_acquire",
]

LEASE_NAME = LEASE
DEFAULT_LEASE_SECONDS = 60.0
_FORMAT = 1
_FIRST_DELAY = 0.05
_MAX_DELAY = 1.5  # doubling from 50 ms: about 12 result reads in a 10 s wait
#: A caller that has waited this long logs one line naming the holder and the expiry.
REPORT_AFTER = 2.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseRecord:
    """The JSON body of a lease: who holds it and until when (POSIX seconds)."""

    owner: str
    host: str
    pid: int
    acquired_at: float
    heartbeat: float
    expires_at: float
    lease_seconds: float
    format: int = _FORMAT
    machine: str | None = None  # see memokey._holders: boot id + pid namespace
    started: int | None = None  # the holder process's start time (clock ticks since boot)

    @classmethod
    def fresh(cls, lease_seconds: float) -> LeaseRecord:
        now = time.time()
        me = this_process()
        return cls(
            owner=secrets.token_hex(16),
            host=me.host,
            pid=me.pid,
            acquired_at=now,
            heartbeat=now,
            expires_at=now + lease_seconds,
            lease_seconds=lease_seconds,
            machine=me.machine,
            started=me.started,
        )

    def holder_gone(self) -> bool:
        """True when the holder ran on this machine and its process has ended (crash,
        SIGKILL, OOM): its lease can be taken over without waiting for it to expire."""
        return holder_is_gone(self.host, self.machine, self.pid, self.started)

    def describe(self) -> str:
        """``host <h> pid <p>, expires in N s`` for log lines and errors."""
        left = self.expires_at - time.time()
        host = printable(self.host)  # written by whoever can write the store
        return f"host {host} pid {self.pid}, lease expires in {max(left, 0.0):.0f} s"

    def renewed(self) -> LeaseRecord:
        now = time.time()
        return replace(self, heartbeat=now, expires_at=now + self.lease_seconds)

    def is_stale(self, now: float | None = None) -> bool:
        return (time.time() if now is None else now) >= self.expires_at

    def encode(self) -> bytes:
        fields = {
            "acquired_at": self.acquired_at,
            "expires_at": self.expires_at,
            "format": self.format,
            "heartbeat": self.heartbeat,
            "host": self.host,
            "lease_seconds": self.lease_seconds,
            "machine": self.machine,
            "owner": self.owner,
            "pid": self.pid,
            "started": self.started,
        }
        return json.dumps(fields, sort_keys=True).encode()

    @classmethod
    def decode(cls, data: bytes) -> LeaseRecord | None:
        """The record, or None when `data` is not a lease this version wrote (then the
        lease is treated as stale: no live holder can be behind it)."""
        try:
            raw = json.loads(data)
            return cls(
                owner=str(raw["owner"]),
                host=str(raw["host"]),
                pid=int(raw["pid"]),
                acquired_at=float(raw["acquired_at"]),
                heartbeat=float(raw["heartbeat"]),
                expires_at=float(raw["expires_at"]),
                lease_seconds=float(raw["lease_seconds"]),
                format=int(raw.get("format", _FORMAT)),
                machine=None if raw.get("machine") is None else str(raw["machine"]),
                started=None if raw.get("started") is None else int(raw["started"]),
            )
        # Anything a writer could plant: too deep for json, numbers too large for int().
        except (ValueError, KeyError, TypeError, AttributeError, ArithmeticError, RecursionError):
            return None


def _lease_path(memo_dir: str) -> str:
    return sibling(memo_dir, LEASE)


def read_lease(store: Store, memo_dir: str) -> LeaseRecord | None:
    """Who holds the lease on `memo_dir` now (None when nobody does), for tools and tests."""
    data = store.read(_lease_path(memo_dir))
    return None if data is None else LeaseRecord.decode(data)


class Lease:
    """A lease this process holds, renewed by the shared heartbeat until `release()`.

    Use it as a context manager (or `holding_lease`) so that it is released on every
    path: return, exception, cancellation, KeyboardInterrupt.
    """

    def __init__(
        self,
        store: Store,
        memo_dir: str,
        record: LeaseRecord,
        version: str | None,
        *,
        version_known: bool = True,
        written: bytes | None = None,
    ) -> None:
        self.store = store
        self.memo_dir = memo_dir
        self.path = _lease_path(memo_dir)
        self.record = record
        self._written = record.encode() if written is None else written  # our last write
        self._version = version
        # False: we created the lease and have not read its version token yet (the first
        # compare-and-swap renewal reads it, checking the bytes are still ours).
        self._version_known = version_known or not store.supports_cas
        self._lost = False
        self._released = False
        self._lock = threading.Lock()
        _heartbeat.heartbeat.add(self, record.lease_seconds / 3)

    @property
    def uri(self) -> str:
        return self.store.uri(self.path)

    @property
    def lost(self) -> bool:
        """True once another caller took the lease over (this holder was seen as stale)."""
        return self._lost

    @property
    def released(self) -> bool:
        return self._released

    def beat(self) -> bool:
        """One heartbeat: renew; False once renewing is over (released or lost)."""
        try:
            return self.renew()
        except StoreError as exc:  # transient: the next beat tries again
            log.warning("could not renew the lease %s (%s); retrying", self.uri, exc)
            return True

    def renew(self) -> bool:
        """Push `expires_at` forward; False (and `lost` set) if someone took the lease over."""
        with self._lock:
            if self._lost or self._released:
                return False
            record = self.record.renewed()
            data = record.encode()
            if self.store.supports_cas:
                if not self._version_known:
                    current = self.store.read_versioned(self.path)
                    if current is None or not (
                        current[0] == self._written or self._owns(current[0])
                    ):
                        self._lost = True
                        return False
                    self._version, self._version_known = current[1], True
                if self._version is None:
                    self._lost = True  # created, then replaced before we read it back
                    return False
                try:
                    self._version = self.store.swap(self.path, data, version=self._version)
                except WriteConflictError:
                    # Our token may be stale because an earlier renewal did land (its
                    # answer was lost, or a retry found it applied): still ours if the
                    # record names our owner token; the next beat swaps on the new version.
                    current = self.store.read_versioned(self.path)
                    if current is None or not self._owns(current[0]):
                        self._lost = True
                        return False
                    self._version = current[1]
                    return True
                except StoreError:
                    # The swap's outcome is unknown (it may have landed): read the
                    # version token again before the next swap.
                    self._version_known = False
                    raise
            else:
                stored = self.store.read(self.path)
                if stored is None or not (stored == self._written or self._owns(stored)):
                    self._lost = True
                    return False
                self.store.write(self.path, data)
            self.record, self._written = record, data
            return True

    def release(self) -> None:
        """Stop renewing and delete the lease if it is still ours. Never raises a store
        error (it would hide the caller's own exception); a lease that cannot be deleted
        simply expires after ``lease_seconds``."""
        with self._lock:  # waits for a renewal in progress; none starts after this
            if self._released:
                return
            self._released = True
        _heartbeat.heartbeat.discard(self)
        if self._lost:
            return
        try:
            if self._version is not None and self._version_known and self.store.supports_cas:
                # One request: delete only while it is still the version we wrote (a
                # conflict means it was taken over meanwhile: not ours to delete).
                with contextlib.suppress(WriteConflictError):
                    self.store.delete(self.path, version=self._version)
                return
            data = self.store.read(self.path)
            if data is not None and (data == self._written or self._owns(data)):
                self.store.delete(self.path)
        except StoreError as exc:
            log.warning(
                "could not release the lease %s (%s); it expires in %.0f s",
                self.uri,
                exc,
                self.record.lease_seconds,
            )

    def _owns(self, data: bytes) -> bool:
        current = LeaseRecord.decode(data)
        return current is not None and current.owner == self.record.owner

    def __enter__(self) -> Lease:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "released" if self._released else "lost" if self._lost else "held"
        return f"<Lease {self.uri} {state} owner={self.record.owner[:8]}>"


def try_acquire(
    store: Store, memo_dir: str, *, lease_seconds: float = DEFAULT_LEASE_SECONDS
) -> Lease | None:
    """Take the lease on `memo_dir` if it is free or stale (expired, or its holder on this
    machine has ended); None if a live holder has it."""
    if not 0 < lease_seconds < math.inf:  # inf: a dead holder would block forever
        raise LeaseError(
            f"lease_seconds must be positive and finite, got {lease_seconds!r}; pass a "
            "duration longer than a heartbeat round trip to the store (the default is 60 s)."
        )
    outcome = _attempt(store, memo_dir, LeaseRecord.fresh(lease_seconds))
    return outcome if isinstance(outcome, Lease) else None


def _attempt(store: Store, memo_dir: str, record: LeaseRecord) -> Lease | LeaseRecord | None:
    """One try: our `Lease`; or the live holder's record (wait for it); or None (the
    lease vanished between our write and our read: try again at once)."""
    data = record.encode()
    try:
        version = store.write(_lease_path(memo_dir), data, exclusive=True)
    except WriteConflictError:
        return _take_over_if_stale(store, memo_dir, record)
    return Lease(store, memo_dir, record, version, version_known=version is not None, written=data)


def _take_over_if_stale(
    store: Store, memo_dir: str, record: LeaseRecord
) -> Lease | LeaseRecord | None:
    path = _lease_path(memo_dir)
    current = store.read_versioned(path)
    if current is None:
        return None  # released just now: the caller polls again (the result may be there)
    data, version = current
    held = LeaseRecord.decode(data)
    if held is not None and not held.is_stale():
        if not held.holder_gone():
            return held
        log.warning(
            "taking over the lease %s: its holder (%s) was on this machine and has ended",
            store.uri(path),
            held.describe(),
        )
    else:
        log.info("taking over the stale lease %s (held by %s)", store.uri(path), held)
    if store.supports_cas:
        try:
            new_version = store.swap(path, record.encode(), version=version)
        except WriteConflictError:
            return None
        return Lease(store, memo_dir, record, new_version)
    # No compare-and-swap: re-read, delete, exclusive create (race window in module doc).
    if store.read(path) != data:
        return None
    store.delete(path)
    try:
        store.write(path, record.encode(), exclusive=True)
    except WriteConflictError:
        return None
    return Lease(store, memo_dir, record, None)


def acquire_or_wait(
    store: Store,
    memo_dir: str,
    *,
    done: Callable[[], bool],
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    timeout: float | None = None,
) -> Lease | None:
    """The lease, or None once `done()` (the result is published).

    The caller has just missed, so the lease is tried first (no re-check); `done` is
    checked once right after winning, so a result published while we were taking the
    lease is not computed again. While another caller holds the lease, each poll is one
    `done()` (one read of the result) with capped backoff; the lease itself is read again
    only once the expiry it last showed has passed. Waiting never writes.
    """
    if not 0 < lease_seconds < math.inf:  # inf: a dead holder would block forever
        raise LeaseError(
            f"lease_seconds must be positive and finite, got {lease_seconds!r}; pass a "
            "duration longer than a heartbeat round trip to the store (the default is 60 s)."
        )
    started = time.monotonic()
    deadline = None if timeout is None else started + timeout
    reported = False
    delay = _FIRST_DELAY
    cap = min(_MAX_DELAY, max(lease_seconds / 4, _FIRST_DELAY))
    while True:
        outcome = _attempt(store, memo_dir, LeaseRecord.fresh(lease_seconds))
        if isinstance(outcome, Lease):
            try:
                finished = done()
            except BaseException:
                outcome.release()
                raise
            if finished:
                outcome.release()
                return None
            return outcome
        # Held (or just released): poll the result alone until the holder's expiry
        # passes or, for a holder on this machine, its process is seen to have ended
        # (a local check, no request); then look at the lease again.
        held = outcome
        recheck_at = time.time() if held is None else held.expires_at
        while True:
            if deadline is not None and time.monotonic() >= deadline:
                holder = read_lease(store, memo_dir)
                raise LeaseError(
                    f"gave up after {timeout} s waiting for {store.uri(memo_dir)}: it is being "
                    f"computed by {holder}. Wait longer (timeout=None waits for the holder) or, "
                    "if that holder is gone, its lease expires by itself.",
                    uri=store.uri(memo_dir),
                )
            if held is not None:
                if not reported and time.monotonic() - started >= REPORT_AFTER:
                    reported = True
                    _report_wait(store, memo_dir, held)
                time.sleep(delay * random.uniform(0.75, 1.25))
                delay = min(delay * 2, cap)
            if done():
                return None
            if time.time() >= recheck_at or (held is not None and held.holder_gone()):
                break


def _report_wait(store: Store, memo_dir: str, holder: LeaseRecord) -> None:
    """The one line a waiting caller logs: who computes, and until when it waits at most
    (from the lease record already read: no request)."""
    log.warning(
        "waiting for %s: it is being computed by %s (a crashed holder on another machine is "
        "taken over when its lease expires)",
        store.uri(memo_dir),
        holder.describe(),
    )


@contextmanager
def holding_lease(
    store: Store,
    memo_dir: str,
    *,
    done: Callable[[], bool],
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    timeout: float | None = None,
) -> Iterator[Lease | None]:
    """`acquire_or_wait` as a context: yields None when the result is already published,
    else a held lease that is released however the block exits."""
    lease = acquire_or_wait(
        store, memo_dir, done=done, lease_seconds=lease_seconds, timeout=timeout
    )
    if lease is None:
        yield None
        return
    with lease:
        yield lease
