"""Leases in the store: one holder at a time, heartbeat, expiry, takeover, waiting."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.remote import root_on
from memokey.errors import LeaseError
from memokey.leases import (
    Lease,
    LeaseRecord,
    acquire_or_wait,
    read_lease,
    try_acquire,
)
from memokey_backends import Store, open_store

MEMO = "memokey-v2/default/mod--f/0123abcd"


@pytest.fixture(params=["memory", "file", "s3", "azure"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    for root in root_on(request.param, request, tmp_path):
        yield open_store(root.url, **root.options)


@pytest.fixture
def local_store(tmp_path: Path) -> Store:
    return open_store(f"file://{tmp_path}/memo")


def _plant_stale_lease(store: Store) -> LeaseRecord:
    """A lease whose holder stopped renewing ten seconds ago (it died)."""
    record = LeaseRecord.fresh(1.0)
    stale = LeaseRecord(**{**record.__dict__, "expires_at": time.time() - 10})
    store.write(f"{MEMO}.lease", stale.encode(), exclusive=True)
    return stale


def test_first_caller_takes_the_lease_and_a_second_does_not(store: Store) -> None:
    with try_acquire(store, MEMO) as first:
        assert first is not None
        assert try_acquire(store, MEMO) is None
        holder = read_lease(store, MEMO)
        assert holder is not None
        assert holder.owner == first.record.owner


def test_release_deletes_the_lease_so_the_next_caller_gets_it(store: Store) -> None:
    lease = try_acquire(store, MEMO)
    assert lease is not None
    lease.release()
    assert not store.exists(f"{MEMO}.lease")
    second = try_acquire(store, MEMO)
    assert second is not None
    second.release()


def test_stale_lease_is_taken_over(store: Store) -> None:
    stale = _plant_stale_lease(store)
    with try_acquire(store, MEMO) as lease:
        assert lease is not None
        holder = read_lease(store, MEMO)
        assert holder is not None
        assert holder.owner == lease.record.owner != stale.owner


def test_renewal_pushes_expiry_forward(store: Store) -> None:
    with try_acquire(store, MEMO, lease_seconds=30) as lease:
        assert lease is not None
        before = lease.record.expires_at
        time.sleep(0.01)
        assert lease.renew()
        after = read_lease(store, MEMO)
        assert after is not None
        assert after.expires_at > before


def test_a_holder_taken_over_learns_it_lost_and_leaves_the_new_lease(store: Store) -> None:
    old = try_acquire(store, MEMO, lease_seconds=30)
    assert old is not None
    store.delete(f"{MEMO}.lease")  # as if expired and replaced by another caller
    _plant_stale_lease(store)
    new = try_acquire(store, MEMO)
    assert new is not None
    assert not old.renew()
    assert old.lost
    old.release()
    holder = read_lease(store, MEMO)
    assert holder is not None
    assert holder.owner == new.record.owner
    new.release()


def test_heartbeat_keeps_a_short_lease_from_going_stale(local_store: Store) -> None:
    with try_acquire(local_store, MEMO, lease_seconds=0.3) as lease:
        assert lease is not None
        time.sleep(1.0)  # more than three lease periods: only renewals keep it alive
        assert try_acquire(local_store, MEMO, lease_seconds=0.3) is None
        assert not lease.lost


def test_unreadable_lease_counts_as_stale(local_store: Store) -> None:
    local_store.write(f"{MEMO}.lease", b"not json", exclusive=True)
    with try_acquire(local_store, MEMO) as lease:
        assert lease is not None


def test_lease_seconds_must_be_positive(local_store: Store) -> None:
    with pytest.raises(LeaseError, match="lease_seconds must be positive"):
        try_acquire(local_store, MEMO, lease_seconds=0)


def test_waiter_returns_none_once_the_result_appears(store: Store) -> None:
    holder = try_acquire(store, MEMO)
    assert holder is not None

    def publish_then_release() -> None:
        store.write(MEMO, b"value", exclusive=True)
        holder.release()

    timer = threading.Timer(0.2, publish_then_release)
    timer.start()
    got = acquire_or_wait(store, MEMO, done=lambda: store.exists(MEMO))
    timer.join()
    assert got is None


def test_waiter_takes_over_when_the_holder_goes_stale(local_store: Store) -> None:
    _plant_stale_lease(local_store)
    lease = acquire_or_wait(local_store, MEMO, done=lambda: False)
    assert isinstance(lease, Lease)
    lease.release()


def test_waiter_gives_up_after_its_timeout_naming_the_holder(local_store: Store) -> None:
    with try_acquire(local_store, MEMO) as holder:
        assert holder is not None
        with pytest.raises(LeaseError, match=holder.record.host):
            acquire_or_wait(local_store, MEMO, done=lambda: False, timeout=0.2)


def test_winner_that_finds_the_result_already_published_releases_at_once(
    local_store: Store,
) -> None:
    checks: list[str] = []
    got = acquire_or_wait(local_store, MEMO, done=lambda: not checks.append("read"))
    assert got is None
    assert checks == ["read"]  # the caller just missed: checked once, after winning
    assert not local_store.exists(f"{MEMO}.lease")


@pytest.fixture
def store_without_cas() -> Store:
    """A real store on a filesystem memokey has no compare-and-swap primitive for."""
    import fsspec

    from memokey_backends._primitives import Primitives
    from memokey_backends.fsspec_store import FsspecStore

    fs = fsspec.filesystem("memory")
    path = f"/nocas-{time.time_ns()}"
    return FsspecStore(f"memory://{path}", fs, path, Primitives(fs))


def test_without_cas_a_stale_lease_is_replaced_by_delete_and_create(
    store_without_cas: Store,
) -> None:
    assert not store_without_cas.supports_cas
    stale = _plant_stale_lease(store_without_cas)
    with try_acquire(store_without_cas, MEMO) as lease:
        assert lease is not None
        holder = read_lease(store_without_cas, MEMO)
        assert holder is not None
        assert holder.owner == lease.record.owner != stale.owner


def test_without_cas_a_holder_taken_over_learns_it_lost(store_without_cas: Store) -> None:
    old = try_acquire(store_without_cas, MEMO)
    assert old is not None
    store_without_cas.delete(f"{MEMO}.lease")
    new = try_acquire(store_without_cas, MEMO)
    assert new is not None
    assert not old.renew()
    old.release()
    assert store_without_cas.exists(f"{MEMO}.lease")
    new.release()
